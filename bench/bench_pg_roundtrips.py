"""Round trips and time of one `apply_scans()` batch on PostgreSQL (issue 16).

Seeds the database as `bench_ingest.py` does (one receiving station with its line side,
scanners, items in `new`), then applies batches of `--batch` receive scans (each a new
item: `new` -> `raw`, the ingest's path) and counts what the batch sends to the server:
every `execute_sql` call is one round trip, the commit one more. With `--profile` the
last batch runs under cProfile and the top functions by own time are printed.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_pg_roundtrips.py --database-url
postgresql://postgres@127.0.0.1:5432/DBNAME [--batch 200] [--batches 5] [--profile]`
(the database's tables are dropped).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import time
import uuid

sys.path.insert(0, ".")

from bench.bench_ingest import seed  # noqa: E402
from server.core.scans import ScanIn, apply_scans  # noqa: E402
from server.db import init_db  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    codes = seed(args.database_url, args.batch * args.batches, 4)
    db = init_db(args.database_url)
    calls: collections.Counter = collections.Counter()
    execute = db.execute_sql

    def counting(sql, params=None, *a, **kw):
        calls[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, *a, **kw)

    db.execute_sql = counting
    times = []
    with db.connection_context():
        for b in range(args.batches):
            chunk = codes[b * args.batch : (b + 1) * args.batch]
            scans = [
                ScanIn(scan_id=str(uuid.uuid4()), scanner_id=f"sc-b{i % 4}", code=c)
                for i, c in enumerate(chunk)
            ]
            calls.clear()
            profile = cProfile.Profile() if args.profile and b == args.batches - 1 else None
            start = time.perf_counter()
            if profile:
                profile.enable()
            results = apply_scans(db, scans)
            if profile:
                profile.disable()
            times.append(time.perf_counter() - start)
            assert all(r.status == "accepted" for r in results), results[0]
    trips = sum(calls.values()) + 1  # + the commit
    print(
        f"batch {args.batch}: {trips} round trips ({trips / args.batch:.2f} a scan), "
        f"by first word {dict(calls.most_common())}"
    )
    best = min(times)
    print(
        f"apply_scans: best {best * 1e3:.1f} ms a batch = {best / args.batch * 1e6:.0f} us a scan"
    )
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
