"""What the worker sees and hears when a result comes back.

One console line per result (green ACCEPTED, red REJECTED with the reason, yellow
warnings) and, where the scanner supports it, a configured byte sequence written back
to it: ``good`` on accept, ``bad`` on reject, ``warn`` (default: ``good``) on an accept
that carries warnings.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from scanner_agent.outbox import Scan

log = logging.getLogger(__name__)

GREEN, RED, YELLOW, BOLD, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[0m"


class Feedback:
    def __init__(
        self,
        good: bytes = b"",
        bad: bytes = b"",
        warn: bytes | None = None,
        *,
        color: str = "auto",
        out: TextIO | None = None,
        device_write: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.good, self.bad = good, bad
        self.warn = good if warn is None else warn
        self.out = out if out is not None else sys.stdout
        self.color = color == "always" or (color == "auto" and _isatty(self.out))
        self.device_write = device_write
        self._lock = threading.Lock()

    def show(self, result: dict[str, Any], scan: Scan | None = None) -> None:
        accepted = result.get("status") == "accepted"
        warnings = [str(w) for w in result.get("warnings") or []]
        self._print(self.format(result, scan, warnings), accepted)
        for warning in warnings:
            self._print(f"           warning: {warning}", None)
        if accepted:
            sequence = self.warn if warnings else self.good
        else:
            sequence = self.bad
        if sequence and self.device_write is not None and not self.device_write(sequence):
            log.debug("scanner not available for feedback bytes")

    @staticmethod
    def format(result: dict[str, Any], scan: Scan | None, warnings: list[str]) -> str:
        accepted = result.get("status") == "accepted"
        code = scan.code if scan is not None else result.get("scan_id", "?")
        parts = [datetime.now().strftime("%H:%M:%S"), "ACCEPTED" if accepted else "REJECTED"]
        parts.append(_printable(code))
        if not accepted and result.get("reason"):
            parts.append(f"[{result['reason']}]")
        if result.get("message"):
            parts.append(str(result["message"]))
        if accepted and result.get("item") and result.get("stage"):
            parts.append(f"({result['item']} -> {result['stage']})")
        if result.get("duplicate"):
            parts.append("(repeat)")
        return "  ".join(parts)

    def _print(self, text: str, accepted: bool | None) -> None:
        if self.color:
            colour = YELLOW if accepted is None else GREEN if accepted else RED
            text = f"{colour}{BOLD if accepted is not None else ''}{text}{RESET}"
        with self._lock:
            try:
                print(text, file=self.out, flush=True)
            except (OSError, ValueError):
                pass  # a closed console must not stop the agent


def _printable(text: str) -> str:
    return text.replace("\x1d", "<GS>")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
