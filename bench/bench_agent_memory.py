"""Resident memory of the scanner agent under load (target: <= 40 MB, docs/design.md).

Starts a Mosquitto on a free port, a test peer that answers scans in the server's place,
and ``python -m scanner_agent`` reading a pseudo-terminal.  Then:

1. streams ``--scans`` barcodes through the pseudo-terminal while results come back;
2. stops the broker, scans ``--backlog`` more into the outbox, restarts the broker and
   waits until every one is answered (the resend-everything-pending path).

It samples the agent's VmRSS from /proc while it runs and reports VmHWM (peak RSS).
Run from the repository root:

    .venv/bin/python -m bench.bench_agent_memory [--scans 5000] [--backlog 5000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from tests.support.agent_process import AgentProcess, write_config
from tests.support.broker import start_mosquitto
from tests.support.mqtt_peer import Responder
from tests.support.pty_scanner import PtyScanner

TARGET_MB = 40.0


def proc_status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[int] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.samples.append(proc_status_kb(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return


def pending(outbox: Path) -> int:
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


def wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scans", type=int, default=5000, help="scans streamed while online")
    ap.add_argument("--backlog", type=int, default=5000, help="scans made while broker is down")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    broker = start_mosquitto(work / "mosquitto")
    responder = Responder(broker.host, broker.port).start()
    scanner = PtyScanner(work / "usb-bench-scanner")
    outbox = work / "outbox.sqlite3"
    config = write_config(
        work / "agent.toml",
        {
            "scanner_id": "bench-1",
            "log_level": "WARNING",
            "mqtt": {"url": broker.url},
            "reader": {"kind": "serial", "port": str(scanner.link_path)},
            "outbox": {"path": str(outbox), "resend_after": 10.0},
            "feedback": {"good": "hex:06", "bad": "hex:15", "color": "never"},
        },
    )
    agent = AgentProcess(config, work).start()
    sampler = None
    try:
        if not responder.wait_status("bench-1", "online", 10):
            raise SystemExit(f"agent did not come online:\n{agent.stderr()}")
        time.sleep(0.5)  # let the serial port open (pyserial flushes input on open)
        idle_kb = proc_status_kb(agent.pid, "VmRSS")
        sampler = RssSampler(agent.pid)
        sampler.start()

        # Drain the feedback bytes so the pty never blocks the agent's writes.
        stop_drain = threading.Event()

        def drain() -> None:
            while not stop_drain.is_set() and scanner.master is not None:
                scanner.read_until(b"\xff", 0.2)

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()

        t0 = time.monotonic()
        for i in range(args.scans):
            scanner.scan(f"BENCH-{i:06d}")
            if i % 50 == 49:
                time.sleep(0.005)  # a pty buffer holds a few KB; let the agent read
        ok = wait(lambda: len(responder.results) >= args.scans, args.timeout) and wait(
            lambda: pending(outbox) == 0, args.timeout
        )
        online_s = time.monotonic() - t0
        if not ok:
            raise SystemExit(f"phase 1 incomplete: {len(responder.results)} answered")
        phase1_kb = proc_status_kb(agent.pid, "VmHWM")

        broker.stop()
        for i in range(args.backlog):
            scanner.scan(f"OFFLINE-{i:06d}")
            if i % 50 == 49:
                time.sleep(0.005)
        if not wait(lambda: pending(outbox) >= args.backlog, args.timeout):
            raise SystemExit(f"backlog not stored: {pending(outbox)}")
        t1 = time.monotonic()
        broker.start()
        total = args.scans + args.backlog
        ok = wait(lambda: len(responder.results) >= total, args.timeout) and wait(
            lambda: pending(outbox) == 0, args.timeout
        )
        backlog_s = time.monotonic() - t1
        if not ok:
            raise SystemExit(f"phase 2 incomplete: {len(responder.results)} of {total} answered")

        peak_kb = proc_status_kb(agent.pid, "VmHWM")
        stop_drain.set()
        sampler.stop_event.set()
        sampler.join(1)
        unique = len(responder.results)
        received = len(responder.received)
        print(f"agent idle RSS           {idle_kb / 1024:6.1f} MB")
        print(
            f"peak RSS after phase 1   {phase1_kb / 1024:6.1f} MB  ({args.scans} scans online,"
            f" {online_s:.1f} s, {args.scans / online_s:.0f} scans/s)"
        )
        print(
            f"peak RSS (VmHWM) overall {peak_kb / 1024:6.1f} MB  (+{args.backlog} scans via"
            f" the outbox after a broker restart, drained in {backlog_s:.1f} s)"
        )
        print(f"max sampled VmRSS        {max(sampler.samples) / 1024:6.1f} MB")
        print(
            f"scans answered {unique} of {total}; publishes received {received}"
            f" ({received - unique} resends)"
        )
        verdict = "OK" if peak_kb / 1024 <= TARGET_MB else "OVER TARGET"
        print(f"target <= {TARGET_MB:.0f} MB: {verdict}")
        return 0 if verdict == "OK" and unique == total else 1
    finally:
        if sampler is not None:
            sampler.stop_event.set()
        agent.stop()
        responder.stop()
        broker.stop()
        scanner.close()


if __name__ == "__main__":
    raise SystemExit(main())
