"""Streamed exports: peak memory of GET /api/exports/ledger.{csv,xlsx} over a 1,000,000-row
ledger against a 10,000-row one.

    PYTHONPATH=. .venv/bin/python bench/bench_exports.py [--rows 1000000] [--small 10000]
        [--formats csv,xlsx] [--database-url postgresql://...]

Builds the ledgers in SQLite files bench/out/exports-<rows>.db (or, with --database-url,
in that PostgreSQL database, whose tables it drops and creates), filled with one SQL
statement each (no Python object per row). Each export then runs in a fresh process,
through the WSGI app with a supervisor's token, its answer read piece by piece and thrown
away; the process reports its peak resident set (ru_maxrss) and the bytes it streamed.
Memory is flat when the big export's peak is about the small one's: the ratio is the
figure (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent


def build(url: str, rows: int) -> None:
    from server.db import create_schema, init_db
    from server.models import MODELS

    db = init_db(url)
    with db.connection_context():
        if url.startswith("postgres"):
            db.drop_tables(list(reversed(MODELS)), safe=True, cascade=True)
        create_schema(db)
        cols = (
            "scan_id, origin, scanner_id, raw_code, code_kind, action, from_stage, to_stage,"
            " qty, status, message, warnings, received_at"
        )
        if url.startswith("postgres"):
            sql = (
                f"INSERT INTO ledger_entry ({cols}) SELECT 'b-' || x, 'scan', 'sc-' || (x % 20),"
                " 'K' || lpad(x::text, 8, '0'), 'item', 'move', 'wip', 'wip', 1, 'accepted',"
                " 'Move: Widget wip -> wip (order WO-' || (x % 500) || ')', '[]',"
                " timestamp '2026-01-01' + x * interval '20 seconds'"
                f" FROM generate_series(1, {rows}) AS x"
            )
        else:
            sql = (
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
                f"{rows}) INSERT INTO ledger_entry ({cols}) SELECT 'b-' || x, 'scan',"
                " 'sc-' || (x % 20), 'K' || printf('%08d', x), 'item', 'move', 'wip', 'wip', 1,"
                " 'accepted', 'Move: Widget wip -> wip (order WO-' || (x % 500) || ')', '[]',"
                " datetime('2026-01-01', '+' || (x * 20) || ' seconds') FROM c"
            )
        with db.atomic():
            db.execute_sql(sql)
    db.close()


def child(url: str, fmt: str) -> None:
    """One export in this process; prints its figures as JSON."""
    from server import auth, create_app
    from server.models import User

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789"})
    db = app.extensions["koordinator.db"]
    with db.connection_context():
        user = User.get_or_none(User.username == "bench") or auth.create_user(
            "bench", "supervisor", None
        )
        token = auth.create_token(user, "bench")
    client = app.test_client()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    resp = client.get(
        f"/api/exports/ledger.{fmt}",
        headers={"Authorization": f"Bearer {token}"},
        buffered=False,
    )
    assert resp.status_code == 200, resp.status_code
    size = first = 0
    for piece in resp.response:
        if not size:
            first = time.perf_counter() - t0
        size += len(piece)
    resp.close()
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"bytes": size, "seconds": took, "first_byte": first, "rss_before": before,
             "peak_rss_kib": peak}
        )
    )  # fmt: skip


def measure(url: str, fmt: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, "--formats", fmt],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--formats", default="csv")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.formats)
        return
    OUT.mkdir(exist_ok=True)
    print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    results = {}
    for rows in (args.small, args.rows):
        if args.database_url:
            url = args.database_url
        else:
            path = OUT / f"exports-{rows}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        t0 = time.perf_counter()
        build(url, rows)
        print(f"ledger of {rows:,} rows built in {time.perf_counter() - t0:.1f} s")
        for fmt in args.formats.split(","):
            r = measure(url, fmt)
            results[(rows, fmt)] = r
            print(
                f"  {fmt}: {r['bytes'] / 1e6:,.1f} MB in {r['seconds']:.1f} s "
                f"({rows / r['seconds']:,.0f} rows/s), first byte {r['first_byte'] * 1000:.0f} ms,"
                f" peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB "
                f"(before the request {r['rss_before'] / 1024:.1f} MiB)"
            )
    for fmt in args.formats.split(","):
        big, small = results[(args.rows, fmt)], results[(args.small, fmt)]
        print(
            f"{fmt}: peak RSS {args.rows:,} rows / {args.small:,} rows = "
            f"{big['peak_rss_kib'] / small['peak_rss_kib']:.2f}"
        )


if __name__ == "__main__":
    main()
