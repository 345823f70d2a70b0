"""The agent's glue with a fake link: order, resends with the same scan_id, acks, feedback."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner_agent.agent import Agent
from scanner_agent.config import load
from scanner_agent.feedback import Feedback
from scanner_agent.outbox import Outbox, Scan
from scanner_agent.readers import Reader


class FakeLink:
    def __init__(self) -> None:
        self.on_connected = lambda: None
        self.on_result = lambda result: None
        self.connected = False
        self.published: list[Scan] = []
        self.accept = True
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def publish_scan(self, scan: Scan) -> bool:
        if self.accept:
            self.published.append(scan)
        return self.accept

    def stop(self, timeout: float = 2.0) -> None:
        self.stopped = True

    def connect(self) -> None:
        self.connected = True
        self.on_connected()


class QueueReader(Reader):
    def __init__(self) -> None:
        self.items: list[str] = []
        self.cond = threading.Condition()
        self.closed = False
        self.written: list[bytes] = []

    def push(self, *codes: str) -> None:
        with self.cond:
            self.items.extend(codes)
            self.cond.notify_all()

    def lines(self) -> Iterator[str]:
        while True:
            with self.cond:
                while not self.items and not self.closed:
                    self.cond.wait(0.05)
                if self.closed:
                    return
                item = self.items.pop(0)
            yield item

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> bool:
        self.written.append(data)
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.config = load(
            [
                "--scanner-id=u1",
                "--reader=stdin",
                f"--outbox={tmp_path / 'o.db'}",
                "--resend-after=2",
                "--station=ASM1",
            ],
            environ={},
        )
        self.reader = QueueReader()
        self.outbox = Outbox(self.config.outbox_path)
        self.link = FakeLink()
        self.console = io.StringIO()
        self.feedback = Feedback(
            b"G", b"B", b"W", color="never", out=self.console, device_write=self.reader.write
        )
        self.clock = Clock()
        self.agent = Agent(
            self.config,
            self.reader,
            self.outbox,
            self.link,
            self.feedback,
            clock=self.clock,
            batch=3,
        )
        self.agent.tick = 0.02
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.agent.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Harness:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()

    def codes(self) -> list[str]:
        return [s.code for s in self.link.published]


def test_offline_scans_go_out_in_order_after_connect(tmp_path: Path) -> None:
    with Harness(tmp_path) as h:
        h.reader.push("A", "B", "C", "D", "E")
        assert wait_for(lambda: h.outbox.count() == 5)
        time.sleep(0.1)
        assert h.link.published == []  # nothing while disconnected
        h.link.connect()
        assert wait_for(lambda: len(h.link.published) == 5)  # in batches of 3
        assert h.codes() == ["A", "B", "C", "D", "E"]
        assert all(s.station == "ASM1" and s.source == "barcode" for s in h.link.published)


def test_unanswered_scans_are_resent_with_the_same_id(tmp_path: Path) -> None:
    with Harness(tmp_path) as h:
        h.link.connect()
        h.reader.push("A", "B")
        assert wait_for(lambda: h.codes() == ["A", "B"])
        first_ids = [s.scan_id for s in h.link.published]
        h.link.on_result({"scan_id": first_ids[1], "status": "accepted", "message": "ok"})
        h.clock.now += 1.0
        time.sleep(0.1)
        assert h.codes() == ["A", "B"]  # not yet due
        h.clock.now += 1.5
        assert wait_for(lambda: h.codes() == ["A", "B", "A"])
        assert h.link.published[2].scan_id == first_ids[0]
        # a reconnect makes everything pending due at once
        h.link.connect()
        assert wait_for(lambda: h.codes() == ["A", "B", "A", "A"])


def test_publish_refused_keeps_order(tmp_path: Path) -> None:
    with Harness(tmp_path) as h:
        h.link.connect()
        h.link.accept = False
        h.reader.push("A", "B")
        assert wait_for(lambda: h.outbox.count() == 2)
        time.sleep(0.1)
        h.link.accept = True
        assert wait_for(lambda: h.codes() == ["A", "B"])


def test_results_ack_and_give_feedback(tmp_path: Path) -> None:
    with Harness(tmp_path) as h:
        h.link.connect()
        h.reader.push("OK1", "NO1", "WARN1")
        assert wait_for(lambda: len(h.link.published) == 3)
        ok, no, warn = h.link.published
        h.link.on_result(
            {
                "scan_id": ok.scan_id,
                "status": "accepted",
                "message": "Moved",
                "item": "OK1",
                "stage": "wip",
                "warnings": [],
            }
        )
        h.link.on_result(
            {
                "scan_id": no.scan_id,
                "status": "rejected",
                "reason": "illegal_transition",
                "message": "Already shipped",
            }
        )
        h.link.on_result(
            {
                "scan_id": warn.scan_id,
                "status": "accepted",
                "message": "Moved",
                "warnings": ["order is late"],
            }
        )
        h.link.on_result({"scan_id": ok.scan_id, "status": "accepted", "duplicate": True})
        h.link.on_result({"scan_id": "unknown", "status": "accepted"})
        assert h.outbox.count() == 0
        assert h.reader.written == [b"G", b"B", b"W"]
        lines = h.console.getvalue().splitlines()
        assert "ACCEPTED  OK1  Moved  (OK1 -> wip)" in lines[0]
        assert "REJECTED  NO1  [illegal_transition]  Already shipped" in lines[1]
        assert "warning: order is late" in lines[3]
        assert len(lines) == 4


def test_stdin_style_reader_end_drains_then_exits(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.reader.push("A")
    h.thread.start()
    assert wait_for(lambda: h.outbox.count() == 1)
    h.reader.close()  # input ends with one scan pending
    h.link.connect()
    assert wait_for(lambda: len(h.link.published) == 1)
    assert h.thread.is_alive()
    h.link.on_result({"scan_id": h.link.published[0].scan_id, "status": "accepted"})
    h.thread.join(5)
    assert not h.thread.is_alive()
    assert h.link.stopped


def test_at_most_max_in_flight_unanswered(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.agent.max_in_flight = 2
    with h:
        h.link.connect()
        h.reader.push("A", "B", "C", "D")
        assert wait_for(lambda: h.codes() == ["A", "B"])
        time.sleep(0.1)
        assert h.codes() == ["A", "B"]
        h.link.on_result({"scan_id": h.link.published[0].scan_id, "status": "accepted"})
        assert wait_for(lambda: h.codes() == ["A", "B", "C"])
        h.clock.now += 2.5  # B and C time out: resent, D still waits for room
        assert wait_for(lambda: h.codes() == ["A", "B", "C", "B", "C"])
        time.sleep(0.1)
        assert h.codes()[-1] == "C"


def test_the_console_sample_in_the_docs_is_what_the_agent_prints() -> None:
    """docs/agent.md "Feedback" shows real lines: the same results print the same text."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "agent.md").read_text()
    block = doc.split("Each result prints one line")[1].split("```")[1]
    sample = [line for line in block.splitlines() if line.strip()]
    results = [
        {"status": "accepted", "message": "Receive: Gloves new → supplies",
         "item": "KWENET6N7", "stage": "supplies"},
        {"status": "rejected", "reason": "illegal_transition",
         "message": sample[1].split("]  ", 1)[1]},
        {"status": "rejected", "reason": "bad_check_digit",
         "message": "Misread label - scan again"},
    ]  # fmt: skip
    codes = ["KWENET6N7", "KWENET6N7", "KWENET6N8"]
    printed = [
        Feedback.format(result, Scan(1, "s", code, "2026-11-29T20:48:25Z", "barcode"), [])
        for result, code in zip(results, codes, strict=True)
    ]
    assert [line[8:] for line in printed] == [line[8:] for line in sample]
