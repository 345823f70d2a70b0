"""Page time: the stock-by-stage page on the benchmark data set.

    PYTHONPATH=. .venv/bin/python bench/bench_pages.py [--items 1000000 --ledger 5000000]

Uses the SQLite data set of bench_core.py (bench/out/core-<items>-<ledger>.db, built on
first use) and measures server time through the WSGI app, no network: GET /stock (the
whole page) and GET /stock/live (the fragment the page polls every second), signed in
through the browser session; p50/p95 over 200 calls each. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse

from bench_core import measure, open_dataset

from server import auth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    app, user = open_dataset(args.items, args.ledger)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(auth.session_data(user))
    for page in ("/stock", "/stock/live"):
        p50, p95 = measure(client, page, args.calls)
        print(
            f"GET {page:<12} {args.items} items, {args.ledger} ledger rows: "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 50 ms)"
        )


if __name__ == "__main__":
    main()
