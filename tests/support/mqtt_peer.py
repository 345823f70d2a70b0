"""A small MQTT peer that plays the server's ingest for agent tests.

It subscribes to every scanner's scans and status topics, records every scan payload it
receives (repeats included), answers each one on the scanner's results topic the way the
real ingest does (a repeat of a ``scan_id`` gets the first result with ``duplicate: true``)
and can be paused to leave scans unanswered.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

Decision = Callable[[dict[str, Any]], dict[str, Any]]


def default_decision(scan: dict[str, Any]) -> dict[str, Any]:
    """Codes starting with BAD are rejected, WARN accepted with a warning, others accepted."""
    code = str(scan.get("code", ""))
    if code.startswith("BAD"):
        return {"status": "rejected", "reason": "unknown_code", "message": "Unknown label"}
    warnings = ["order is late"] if code.startswith("WARN") else []
    return {
        "status": "accepted",
        "reason": None,
        "message": "Moved to wip",
        "item": code,
        "stage": "wip",
        "warnings": warnings,
    }


class Responder:
    def __init__(
        self, host: str, port: int, prefix: str = "koordinator", decide: Decision | None = None
    ) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.decide = decide or default_decision
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.paused = False
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-responder-{uuid.uuid4().hex[:8]}"
        )
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self, timeout: float = 5.0) -> Responder:
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError("responder could not connect")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(
            [(f"{self.prefix}/scanners/+/scans", 1), (f"{self.prefix}/scanners/+/status", 1)]
        )
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _on_message(self, client, userdata, message) -> None:
        parts = message.topic.split("/")
        scanner_id, leaf = parts[-2], parts[-1]
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = {"_raw": message.payload}
        if leaf == "status":
            with self._cond:
                self.statuses[scanner_id] = body
                self._cond.notify_all()
            return
        with self._cond:
            self.received.append((scanner_id, body))
            self._cond.notify_all()
            if self.paused or not isinstance(body, dict) or "scan_id" not in body:
                return
            scan_id = body["scan_id"]
            first = self.results.get(scan_id)
            if first is None:
                result = {"scan_id": scan_id, "duplicate": False, "item": None, "stage": None}
                result.update({"reason": None, "message": "", "warnings": []})
                result.update(self.decide(body))
                self.results[scan_id] = result
            else:
                result = dict(first, duplicate=True)
        client.publish(f"{self.prefix}/scanners/{scanner_id}/results", json.dumps(result), qos=1)

    # queries

    def scans(self, scanner_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [body for sid, body in self.received if sid == scanner_id]

    def unique_codes(self, scanner_id: str) -> list[str]:
        """Codes of the distinct scan_ids received, in first-arrival order."""
        seen: dict[str, str] = {}
        for body in self.scans(scanner_id):
            seen.setdefault(body.get("scan_id"), body.get("code"))
        return list(seen.values())

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def wait_status(self, scanner_id: str, state: str, timeout: float = 10.0) -> bool:
        return self.wait_until(
            lambda: self.statuses.get(scanner_id, {}).get("state") == state, timeout
        )

    def wait_codes(self, scanner_id: str, count: int, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: len(self.unique_codes(scanner_id)) >= count, timeout)
