"""Recovery after a broker crash: docs/design.md "first scan committed <= 2 s after the broker
is back".

    PYTHONPATH=. .venv/bin/python bench/bench_recovery.py [--rounds 5]

A real Mosquitto, `python -m server ingest` on a SQLite file, and a real scanner agent
reading a pseudo-terminal. Each round: kill -9 the broker, scan three labels while it is
down (they wait in the agent's outbox), wait 3 s (both sides are then at their capped 2 s
reconnect backoff, the worst case), start the broker again and time until the first of
those scans is committed in the database.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_ingest import TUNED, seed, start_ingest
from server.db import init_db
from server.models import Item
from tests.support.agent_process import AgentProcess, write_config
from tests.support.broker import start_mosquitto
from tests.support.pty_scanner import PtyScanner


def committed(db, code: str) -> bool:
    with db.connection_context():
        return Item.select().where((Item.code == code) & (Item.stage == "raw")).exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmpdir:
        tmp = Path(tmpdir)
        url = f"sqlite:///{tmp}/recovery.db"
        codes = seed(url, 3 * args.rounds + 1, 1)
        broker = start_mosquitto(tmp / "mq", conf_extra=TUNED)
        ingest = start_ingest(url, broker, tmp)
        pty = PtyScanner(tmp / "usb-scanner")
        settings = {
            "scanner_id": "sc-b0",
            "log_level": "INFO",
            "mqtt": {"url": broker.url, "client_id": "bench-recovery-agent"},
            "reader": {"kind": "serial", "port": str(pty.link_path), "baud": 9600},
            "outbox": {"path": str(tmp / "outbox.sqlite3")},
        }
        agent = AgentProcess(write_config(tmp / "agent.toml", settings), tmp).start()
        db = init_db(url)
        times = []
        try:
            assert agent.wait_log(" open (/dev/", 15) and agent.wait_log("connected to", 15)
            pty.scan(codes[0])
            deadline = time.monotonic() + 10
            while not committed(db, codes[0]):
                assert time.monotonic() < deadline, "warm-up scan never committed"
                time.sleep(0.01)
            for r in range(args.rounds):
                mine = codes[1 + 3 * r : 4 + 3 * r]
                broker.kill()
                for code in mine:
                    pty.scan(code)
                time.sleep(3)
                back = time.monotonic()  # from the broker's launch, its own start-up included
                broker.start()
                while not any(committed(db, c) for c in mine):
                    if time.monotonic() - back > 30:
                        raise SystemExit("no scan committed 30 s after the broker came back")
                    time.sleep(0.01)
                times.append(time.monotonic() - back)
                while not all(committed(db, c) for c in mine):
                    time.sleep(0.05)
        finally:
            agent.kill()
            ingest.terminate()
            ingest.wait(10)
            broker.kill()
            pty.close()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; Mosquitto kill -9, "
        f"3 s down, {args.rounds} rounds"
    )
    print(
        f"first scan committed after the broker is back: "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"(target <= 2 s): {', '.join(f'{t:.2f}' for t in times)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
