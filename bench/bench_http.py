"""HTTP POST /api/scans under gunicorn, driven by wrk (Debian package `wrk`).

    PYTHONPATH=. .venv/bin/python bench/bench_http.py [--workers 4] [--seconds 15]

Seeds bench/out/http.db with a receiving station, a scanner and enough new items that
every request is a real, accepted receive scan with its own scan_id; then runs gunicorn
(sync workers) on a free port and wrk with 2 threads and 16 connections against it.
Prints requests/s, latency and the accepted count read back from the ledger.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
local counter = 0
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
function init(args) counter = 0 end
request = function()
  counter = counter + 1
  local i = ((counter - 1) * %(threads)d + tid - 1) %% #codes + 1
  local body = string.format(
    '{"scan_id":"w%%d-%%d","scanner_id":"sc-recv","code":"%%s","scanned_at":"2026-11-26T08:00:00Z"}',
    tid, counter, codes[i])
  return wrk.format("POST", "/api/scans", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %(token)s"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, items: int) -> tuple[str, Path]:
    from server import auth
    from server.core.items import create_items
    from server.db import create_schema, init_db
    from server.models import Product, Scanner, Station, utcnow

    db = init_db(url)
    create_schema(db)
    with db.connection_context():
        station = Station.create(code="RECV", name="Dock", default_action="receive")
        Scanner.create(id="sc-recv", station=station)
        product = Product.create(sku="RAW1", name="Raw", kind="raw", tracking="unit")
        codes = []
        for _ in range(0, items, 5000):
            codes += [i.code for i in create_items(db, product, count=5000, now=utcnow())]
        user = auth.create_user("bench", "operator")
        token = auth.create_token(user, "bench")
    path = OUT / "http-codes.txt"
    path.write_text("\n".join(codes) + "\n")
    return token, path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help=">1: gthread workers")
    parser.add_argument(
        "--database-url",
        help="e.g. postgresql://postgres@127.0.0.1/bench "
        "(its tables are dropped and recreated); default a SQLite file",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    OUT.mkdir(exist_ok=True)
    db_path = OUT / "http.db"
    for p in OUT.glob("http.db*"):
        p.unlink()
    url = args.database_url or f"sqlite:///{db_path}"
    if args.database_url:
        from server.db import drop_schema, init_db

        drop_schema(init_db(url))
    items = 2000 * args.seconds * 2
    token, codes = seed(url, items)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-secret-key-0123456789",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(args.workers),
            *(["-k", "gthread", "--threads", str(args.threads)] if args.threads > 1 else []),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "server.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        script = OUT / "scans.lua"
        script.write_text(LUA % {"codes": codes, "token": token, "threads": 2})
        res = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; gunicorn {args.workers} "
        f"sync workers, {url.split(':')[0]}, wrk -t2 -c{args.connections} on the same machine"
    )
    print(res.stdout)
    if "Non-2xx" in res.stdout:
        print("WARNING: some answers were not 2xx (see above)")
    from server.db import init_db
    from server.models import LedgerEntry

    db = init_db(url)
    with db.connection_context():
        acc = (
            LedgerEntry.select()
            .where((LedgerEntry.status == "accepted") & LedgerEntry.scan_id.is_null(False))
            .count()
        )
        rej = LedgerEntry.select().where(LedgerEntry.status == "rejected").count()
    print(f"ledger: {acc} accepted scans, {rej} rejected")


if __name__ == "__main__":
    main()
