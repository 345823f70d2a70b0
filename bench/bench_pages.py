"""Page time: the stock-by-stage page on the benchmark data set.

    PYTHONPATH=. .venv/bin/python bench/bench_pages.py [--items 1000000 --ledger 5000000]

Uses the SQLite data set of bench_core.py (bench/out/core-<items>-<ledger>.db, built on
first use) and measures server time through the WSGI app, no network: GET /stock (the
whole page) and GET /stock/live (the fragment the page polls every second), signed in
through the browser session; p50/p95 over 200 calls each. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_core import OUT, build


def measure(client, path: str, calls: int) -> tuple[float, float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        resp = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, (path, resp.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"core-{args.items}-{args.ledger}.db"
    from server import auth, create_app
    from server.db import create_schema
    from server.models import User

    fresh = not path.exists()
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "LOG_LEVEL": "WARNING"})
    db = app.extensions["koordinator.db"]
    if fresh:
        create_schema(db)
        with db.connection_context():
            print("building data set ...", flush=True)
            build(db, args.items, args.ledger)
    with db.connection_context():
        user = User.get_or_none(User.username == "bench") or auth.create_user("bench", "admin")
        user_id = user.id
    from server.runtime import tune_gc

    tune_gc()  # as `serve` and server.wsgi do
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = user_id
    for page in ("/stock", "/stock/live"):
        p50, p95 = measure(client, page, args.calls)
        print(
            f"GET {page:<12} {args.items} items, {args.ledger} ledger rows: "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 50 ms)"
        )


if __name__ == "__main__":
    main()
