"""Schedule and flags at MPS scale: GET /api/schedule and GET /api/flags server time.

    PYTHONPATH=. .venv/bin/python bench/bench_schedule.py [--orders 1000 --lines 50]

Builds a fresh SQLite file bench/out/schedule-<orders>-<lines>.db with:
- `orders` open orders (released and in progress, a fifth of them planned), each for its
  own finished product with a BOM of `lines` lines drawn from 500 raw materials, due over
  the next four weeks, a few already late;
- stock counters for every material (`--stock-factor` sets how many orders come out
  short), issued material on half the orders;
- 20 stations, 5 with a dwell limit, and 5,000 WIP units on them (some dwelling);
- 50,000 accepted complete scans in the ledger over the last four weeks.

Then measures GET /api/schedule (four weeks, day buckets, and the same by week) and GET
/api/flags through the WSGI app (server time, no network): p50/p95 over `calls` calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from bench_core import fresh_app


def build(db, n_orders: int, n_lines: int, stock_factor: float) -> None:
    from server.core import codes
    from server.models import (
        BomLine,
        Item,
        LedgerEntry,
        OrderMaterial,
        Product,
        ProductionOrder,
        Station,
        StockCounter,
        utcnow,
    )

    rnd = random.Random(11)
    now = utcnow()
    today = now.date()
    with db.atomic():
        stations = [
            Station.create(
                code=f"ST{i:02d}",
                name=f"Station {i}",
                default_action="move",
                dwell_limit_minutes=60 if i < 5 else None,
            )
            for i in range(20)
        ]
        Product.insert_many(
            [
                {
                    "sku": f"RAW{i:03d}",
                    "name": f"Raw {i}",
                    "kind": "raw",
                    "tracking": "lot",
                    "reorder_point": 100 if i % 10 == 0 else None,
                }
                for i in range(500)
            ]
        ).execute()
        Product.insert_many(
            [
                {"sku": f"FIN{i:04d}", "name": f"Finished {i}", "kind": "finished"}
                for i in range(n_orders)
            ]
        ).execute()
        raw = [p.id for p in Product.select(Product.id).where(Product.kind == "raw")]
        fin = [p.id for p in Product.select(Product.id).where(Product.kind == "finished")]
        rows = []
        for pid in fin:
            for comp in rnd.sample(raw, n_lines):
                rows.append({"product": pid, "component": comp, "qty": rnd.randint(1, 5)})
        for k in range(0, len(rows), 5000):
            BomLine.insert_many(rows[k : k + 5000]).execute()
        StockCounter.insert_many(
            [
                {
                    "product": pid,
                    "stage": "raw",
                    "station_id": 0,
                    "count": 10,
                    "qty": int(rnd.randint(0, 20000) * stock_factor),
                }
                for pid in raw
            ]
        ).execute()
        orders = []
        for i, pid in enumerate(fin):
            start = today + dt.timedelta(days=rnd.randint(-20, 10))
            due = start + dt.timedelta(days=rnd.randint(0, 14))
            status = "planned" if i % 5 == 0 else rnd.choice(["released", "in_progress"])
            qty = rnd.randint(10, 200)
            orders.append(
                {
                    "number": f"WO-{i:05d}",
                    "product": pid,
                    "qty": qty,
                    "start": start,
                    "due": due,
                    "status": status,
                    "completed": 0 if status == "planned" else rnd.randint(0, qty - 1),
                    "started": 0,
                }
            )
        ProductionOrder.insert_many(orders).execute()
        order_rows = list(ProductionOrder.select(ProductionOrder.id, ProductionOrder.product))
        mats = []
        for o in order_rows[::2]:
            for line in (
                BomLine.select(BomLine.component).where(BomLine.product == o.product_id).limit(20)
            ):
                mats.append(
                    {"order": o.id, "product": line.component_id, "issued": rnd.randint(1, 50)}
                )
        for k in range(0, len(mats), 5000):
            OrderMaterial.insert_many(mats[k : k + 5000]).execute()
    # WIP units at stations, and completed units with their ledger complete rows
    fields_i = [Item.code, Item.product, Item.stage, Item.qty, Item.station, Item.order,
                Item.created_at, Item.stage_at]  # fmt: skip
    items, n = [], 0
    for _ in range(5000):
        o = rnd.choice(order_rows)
        at = now - dt.timedelta(minutes=rnd.randint(1, 600))
        items.append(
            (codes.make_item_code(n), o.product_id, "wip", 1, rnd.choice(stations).id, o.id, at, at)
        )
        n += 1
    done = []
    for _ in range(50000):
        o = rnd.choice(order_rows)
        at = now - dt.timedelta(minutes=rnd.randint(1, 28 * 24 * 60))
        items.append(
            (codes.make_item_code(n), o.product_id, "finished", 1, stations[-1].id, o.id, at, at)
        )
        done.append((o.id, at))
        n += 1
    with db.atomic():
        for k in range(0, len(items), 10000):
            Item.insert_many(items[k : k + 10000], fields=fields_i).execute()
    first_done = 5001
    fields_l = [LedgerEntry.scan_id, LedgerEntry.origin, LedgerEntry.action, LedgerEntry.item,
                LedgerEntry.status, LedgerEntry.qty, LedgerEntry.order, LedgerEntry.message,
                LedgerEntry.warnings, LedgerEntry.received_at]  # fmt: skip
    ledger = [
        (f"c-{k}", "scan", "complete", first_done + k, "accepted", 1, oid, "", "[]", at)
        for k, (oid, at) in enumerate(done)
    ]
    with db.atomic():
        for k in range(0, len(ledger), 10000):
            LedgerEntry.insert_many(ledger[k : k + 10000], fields=fields_l).execute()


def measure(client, path: str, headers: dict, calls: int) -> tuple[float, float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument(
        "--stock-factor",
        type=float,
        default=6.0,
        help="material stock against need: 6 leaves a few orders short, 1 nearly all",
    )
    args = parser.parse_args()
    from server import auth
    from server.models import utcnow

    app, db = fresh_app(f"schedule-{args.orders}-{args.lines}.db")
    t0 = time.perf_counter()
    with db.connection_context():
        build(db, args.orders, args.lines, args.stock_factor)
        user = auth.create_user("bench", "admin")
        token = auth.create_token(user, "bench")
    print(
        f"built {args.orders} open orders x {args.lines} BOM lines, 5,000 WIP units, "
        f"50,000 complete scans in {time.perf_counter() - t0:.1f} s"
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    today = utcnow().date()
    frm, to = today - dt.timedelta(days=14), today + dt.timedelta(days=13)
    resp = client.get("/api/flags", headers=headers)
    print(f"flags: {resp.get_json()['counts']}, answer {len(resp.get_data()) // 1024} KiB")
    for label, url in [
        ("GET /api/flags", "/api/flags"),
        ("GET /api/schedule 4 weeks by day", f"/api/schedule?from={frm}&to={to}&bucket=day"),
        ("GET /api/schedule 4 weeks by week", f"/api/schedule?from={frm}&to={to}&bucket=week"),
        ("GET /api/orders?status=open", "/api/orders?status=open"),
    ]:
        p50, p95 = measure(client, url, headers, args.calls)
        print(f"{label:<36} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
