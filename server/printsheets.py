"""PDF label sheets made in the background, with progress a page can poll.

A sheet of 1,000 labels takes seconds to draw; a request that blocked that long would show
the clerk nothing. `start()` takes what to draw (already read from the database, so the
thread touches no database), draws it in a thread and keeps its state in a small JSON file
beside the PDF, in a directory every web worker of the host shares (`PRINT_SHEETS_DIR`,
by default under the system's temporary directory): so a poll answered by another worker
sees the same progress. A process draws one sheet at a time; the others wait their turn
(their progress stays at 0 until then). A sheet belongs to the user who asked for it and is
deleted an hour after it was made. This is not the print queue of printers (print jobs are
rows delivered by the event dispatcher): a sheet is a PDF the clerk downloads and prints.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600
#: one sheet drawn at a time per process: drawing holds the GIL, and many at once starved
#: the requests beside them (a write transaction held open past SQLite's busy timeout)
_DRAWING = threading.Semaphore(1)
_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

Render = Callable[[Callable[[int, int], None]], bytes]


def sheets_dir(config) -> Path:
    path = config.get("PRINT_SHEETS_DIR") or os.path.join(
        tempfile.gettempdir(), f"koordinator-sheets-{os.getuid()}"
    )
    out = Path(path)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    return out


def _write(path: Path, state: dict) -> None:
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def _prune(where: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in where.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def start(config, user_id: int, total: int, title: str, render: Render) -> str:
    """Draw `render(progress)` in a thread; the sheet's id."""
    where = sheets_dir(config)
    _prune(where)
    sheet = secrets.token_urlsafe(16)
    state_path = where / f"{sheet}.json"
    state = {"id": sheet, "user": user_id, "state": "running", "done": 0, "total": total}
    state["title"] = title
    _write(state_path, state)

    def progress(done: int, of: int) -> None:
        _write(state_path, {**state, "done": done, "total": of})

    def run() -> None:
        try:
            with _DRAWING:
                pdf = render(progress)
            (where / f"{sheet}.pdf").write_bytes(pdf)
            _write(state_path, {**state, "state": "done", "done": total})
        except Exception as exc:  # the page shows it; the log keeps the cause
            log.exception("label sheet %s failed", sheet)
            _write(state_path, {**state, "state": "failed", "error": str(exc)[:300]})

    threading.Thread(target=run, name=f"sheet-{sheet[:6]}", daemon=True).start()
    return sheet


def state_of(config, sheet: str, user_id: int) -> dict | None:
    """The state of `sheet` if it exists and is `user_id`'s, else None."""
    if not sheet or len(sheet) > 64 or not set(sheet) <= _ID_CHARS:
        return None
    try:
        state = json.loads((sheets_dir(config) / f"{sheet}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if state.get("user") == user_id else None


def pdf_of(config, sheet: str) -> bytes | None:
    try:
        return (sheets_dir(config) / f"{sheet}.pdf").read_bytes()
    except OSError:
        return None
