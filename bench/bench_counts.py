"""Closing a cycle count of a 5,000-item location (issue 16: <= 2 s).

    PYTHONPATH=. .venv/bin/python bench/bench_counts.py [--items 5000 --other 200000]
    PYTHONPATH=. .venv/bin/python bench/bench_counts.py --db postgresql://.../kz_x

Builds a fresh database (SQLite file bench/out/counts.db unless --db names one): a store
area A-01 with 50 bins, `items` lots on hand in them and `other` lots elsewhere (a line
side), each with its creation ledger row and a receive row (the ledger the close reads for
scans during the count), and a few hundred more ordinary scans of the counted lots made
after the count opened. A count of A-01 is opened and `items` sightings are recorded
(2 % of the lots not seen, 1 % with another quantity, 50 lots of the line side seen in the
store); then `counts.close()` is timed, in its transaction as the API runs it, and the
approval after it. Prints the figures; not a timed test (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from decimal import Decimal

from bench_core import fresh_app


def build(n_items: int, n_other: int, opened_at: dt.datetime):
    from server.core import counts, locations, stock
    from server.models import CountLine, Item, LedgerEntry, Product, Station

    rnd = random.Random(16)
    product = Product.create(sku="STEEL", name="Steel", kind="raw", tracking="lot", unit="kg")
    station = Station.create(code="LINE", name="Line", default_action="issue")
    line = locations.line_side(station)
    locations.create(code="A-01", kind="area")
    bins = [locations.create(code=f"A-01-{i:02d}", kind="bin", parent="A-01") for i in range(50)]
    before = opened_at - dt.timedelta(days=3)
    rows = []
    for i in range(n_items + n_other):
        loc = bins[i % len(bins)].id if i < n_items else line.id
        rows.append(
            {
                "code": f"K{i:08d}",
                "product": product.id,
                "stage": "raw",
                "qty": 50,
                "lot": f"L{i}",
                "station": station.id,
                "location_id": loc,
                "created_at": before,
                "stage_at": before,
            }
        )
    for i in range(0, len(rows), 1000):
        Item.insert_many(rows[i : i + 1000]).execute()
    ids = [i for (i,) in Item.select(Item.id).order_by(Item.id).tuples()]
    ledger = []
    for iid in ids:
        for action in ("create", "receive"):
            ledger.append(
                {
                    "origin": "api" if action == "create" else "scan",
                    "action": action,
                    "item": iid,
                    "to_stage": "raw",
                    "qty": 50,
                    "received_at": before,
                }
            )
    for i in range(0, len(ledger), 1000):
        LedgerEntry.insert_many(ledger[i : i + 1000]).execute()
    stock.rebuild(Item._meta.database)
    count = counts.open_count(["A-01"], now=opened_at)
    counted, other = ids[:n_items], ids[n_items:]
    seen_at = opened_at + dt.timedelta(minutes=30)
    lines = []
    for n, iid in enumerate(counted):
        if rnd.random() < 0.02:
            continue  # missing
        qty = Decimal(48) if rnd.random() < 0.01 else Decimal(50)
        lines.append((iid, qty, bins[n % len(bins)].id))
    lines.extend((iid, Decimal(50), bins[0].id) for iid in other[:50])
    for i in range(0, len(lines), 1000):
        CountLine.insert_many(
            [
                {
                    "count_id": count.id,
                    "item_id": iid,
                    "counted": qty,
                    "seen_location_id": where,
                    "seen_at": seen_at,
                    "scanner_id": "sc-count",
                }
                for iid, qty, where in lines[i : i + 1000]
            ]
        ).execute()
    # ordinary scans of some counted lots during the count (taken into account at close)
    LedgerEntry.insert_many(
        [
            {
                "origin": "scan",
                "action": "transfer",
                "item": iid,
                "to_stage": "raw",
                "qty": 50,
                "received_at": opened_at + dt.timedelta(minutes=rnd.choice((10, 45))),
            }
            for iid in rnd.sample(counted, 300)
        ]
    ).execute()
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--other", type=int, default=200_000)
    parser.add_argument("--db", default=None, help="a database URL (default: a SQLite file)")
    args = parser.parse_args()
    from server.core import counts
    from server.core.scans import writing
    from server.models import utcnow

    app, db = fresh_app("counts.db", args.db)
    opened_at = utcnow() - dt.timedelta(hours=1)
    with db.connection_context():
        t0 = time.perf_counter()
        with db.atomic():
            count = build(args.items, args.other, opened_at)
        print(f"built {args.items} counted + {args.other} other lots in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        t0 = time.perf_counter()
        with writing(db):
            summary = counts.close(count, now=utcnow())
        closed = time.perf_counter() - t0
        print(f"close: {closed * 1000:.0f} ms  {summary}")
        t0 = time.perf_counter()
        with writing(db):
            done = counts.approve(counts.get(count.id), why=None, user=None, now=utcnow())
        print(f"approve: {(time.perf_counter() - t0) * 1000:.0f} ms  {done}")
        t0 = time.perf_counter()
        report = counts.report(counts.get(count.id))
        took = (time.perf_counter() - t0) * 1000
        print(f"report (GET /api/counts/<id>): {took:.0f} ms, {len(report['lines'])} lines")
    print(f"target: close <= 2000 ms -> {'met' if closed <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
