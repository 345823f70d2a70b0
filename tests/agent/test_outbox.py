"""The outbox: durable before publish, insertion order, resend bookkeeping, ack."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner_agent.outbox import Outbox, new_scan_id
from tests.support.agent_process import REPO_ROOT

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def test_add_assigns_id_and_time(outbox: Outbox) -> None:
    a = outbox.add("A1", "barcode", station="ASM1")
    b = outbox.add("B2", "rfid", qty=2.5)
    assert a.scan_id != b.scan_id and 1 <= len(a.scan_id) <= 64
    assert RFC3339_UTC.match(a.scanned_at)
    assert a.payload() == {
        "scan_id": a.scan_id,
        "code": "A1",
        "scanned_at": a.scanned_at,
        "source": "barcode",
        "station": "ASM1",
    }
    assert b.payload()["qty"] == 2.5 and "station" not in b.payload()
    assert [s.code for s in outbox.pending()] == ["A1", "B2"]


def test_integer_qty_stays_an_integer(outbox: Outbox) -> None:
    outbox.add("L1", qty=3)
    assert outbox.pending()[0].payload()["qty"] == 3
    assert isinstance(outbox.pending()[0].qty, int)


def test_wal_and_full_sync(outbox: Outbox) -> None:
    assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_due_mark_sent_and_reset(outbox: Outbox) -> None:
    scans = [outbox.add(f"C{i}") for i in range(3)]
    assert [s.code for s in outbox.due(sent_before=100.0)] == ["C0", "C1", "C2"]
    outbox.mark_sent([scans[0].scan_id, scans[1].scan_id], when=100.0)
    assert [s.code for s in outbox.due(sent_before=100.0)] == ["C2"]
    assert [s.code for s in outbox.due(sent_before=100.5)] == ["C0", "C1", "C2"]
    assert outbox.get(scans[0].scan_id).attempts == 1
    outbox.reset_sent()
    assert len(outbox.due(sent_before=0.0)) == 3


def test_ack_removes_once(outbox: Outbox) -> None:
    scan = outbox.add("A1")
    assert outbox.ack(scan.scan_id) == scan
    assert outbox.ack(scan.scan_id) is None
    assert outbox.ack("never-seen") is None
    assert outbox.count() == 0


def test_scans_survive_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    ids = [box.add(f"X{i}").scan_id for i in range(5)]
    box.ack(ids[2])
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert [s.scan_id for s in again.pending()] == ids[:2] + ids[3:]
    again.close()


def test_scans_survive_kill_9(tmp_path: Path) -> None:
    """A process SIGKILLed right after add() returned leaves its scans in the file."""
    path = tmp_path / "o.db"
    code = (
        "import os, signal, sys\n"
        "from scanner_agent.outbox import Outbox\n"
        f"box = Outbox({str(path)!r})\n"
        "for i in range(50):\n"
        "    box.add(f'K{i}')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, timeout=30)
    assert proc.returncode == -9
    box = Outbox(path)
    assert [s.code for s in box.pending()] == [f"K{i}" for i in range(50)]
    box.close()


def test_scan_ids_are_unique_and_in_time_order() -> None:
    """Time-ordered ids keep the server's scan_id index growing at its end."""
    ids = []
    for _ in range(3):
        ids += [new_scan_id() for _ in range(2000)]
        time.sleep(0.002)  # the next round starts in a later millisecond
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    stamps = [int(i[:12], 16) for i in ids]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time_ns() // 1_000_000) < 60_000  # milliseconds, not seconds
    assert sorted(ids[:2000])[-1] < sorted(ids[2000:])[0]  # a later millisecond sorts after


def test_bad_scan_id_refused(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", id_factory=lambda: "x" * 65)
    with pytest.raises(ValueError):
        box.add("A")
    box.close()
