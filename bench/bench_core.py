"""Core figures: apply_scans throughput, and GET /api/stock on a large plant.

    PYTHONPATH=. .venv/bin/python bench/bench_core.py [--items 1000000 --ledger 5000000]

Builds bench/out/core.db (SQLite) once with N items and M ledger rows (re-used on later
runs), then measures:
- apply_scans() in-process, batches of 1 and of 200 (group commit), scans/s;
- GET /api/stock through the WSGI app (server time, no network), p50/p95 over 200 calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def fresh_app(name: str, url: str | None = None):
    """A Koordinator app with its schema on `url`, else on a new SQLite file
    `bench/out/<name>` (its WAL files removed too); prints the machine line every bench
    quotes. Returns (app, db)."""
    from server import create_app
    from server.db import create_schema

    if url is None:
        OUT.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{OUT / name}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{OUT / name}"
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    db = app.extensions["koordinator.db"]
    create_schema(db)
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {backend}"
    )
    return app, db


def build(db, n_items: int, n_ledger: int) -> None:
    from server.core import codes
    from server.core.stock import rebuild
    from server.models import Item, LedgerEntry, Product, Scanner, Station

    with db.atomic():
        stations = [
            Station.create(code=f"S{i}", name=f"Station {i}", default_action=a)
            for i, a in enumerate(["receive", "issue", "start", "move", "complete", "ship"])
        ]
        for s in stations:
            Scanner.create(id=f"sc-{s.code}", station=s)
        products = [
            Product.create(
                sku=f"P{i:03d}",
                name=f"Product {i}",
                kind=["raw", "component", "finished", "supplies"][i % 4],
                tracking="lot" if i % 2 else "unit",
            )
            for i in range(200)
        ]
    stages = ["new", "raw", "component", "wip", "finished", "shipped", "supplies", "consumed"]
    rnd = random.Random(7)
    now = dt.datetime(2026, 11, 1)
    t0 = time.perf_counter()
    fields_i = [
        Item.code,
        Item.product,
        Item.stage,
        Item.qty,
        Item.station,
        Item.created_at,
        Item.stage_at,
    ]
    batch = []
    for n in range(n_items):
        batch.append(
            (
                codes.make_item_code(n * 7919 % 32**7),
                rnd.choice(products).id,
                rnd.choice(stages),
                1,
                rnd.choice(stations).id,
                now,
                now,
            )
        )
        if len(batch) == 20000:
            with db.atomic():
                Item.insert_many(batch, fields=fields_i).execute()
            batch = []
    if batch:
        with db.atomic():
            Item.insert_many(batch, fields=fields_i).execute()
    print(f"  items: {n_items} in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    fields_l = [
        LedgerEntry.scan_id,
        LedgerEntry.origin,
        LedgerEntry.scanner_id,
        LedgerEntry.action,
        LedgerEntry.item,
        LedgerEntry.status,
        LedgerEntry.message,
        LedgerEntry.warnings,
        LedgerEntry.received_at,
    ]
    batch = []
    for n in range(n_ledger):
        batch.append(
            (
                f"bench-{n}",
                "scan",
                "sc-S1",
                "move",
                rnd.randint(1, n_items),
                "accepted",
                "",
                "[]",
                now,
            )
        )
        if len(batch) == 20000:
            with db.atomic():
                LedgerEntry.insert_many(batch, fields=fields_l).execute()
            batch = []
    if batch:
        with db.atomic():
            LedgerEntry.insert_many(batch, fields=fields_l).execute()
    print(f"  ledger: {n_ledger} in {time.perf_counter() - t0:.1f} s", flush=True)
    rebuild(db)


def bench_apply(db, batch_size: int, total: int) -> float:
    from server.core.items import create_items
    from server.core.scans import ScanIn, apply_scans
    from server.models import Product, utcnow

    product = Product.get(Product.sku == "P000")  # raw, unit
    items = create_items(db, product, count=total, now=utcnow())
    scans = [
        ScanIn(scan_id=f"b{batch_size}-{os.getpid()}-{i.code}", scanner_id="sc-S0", code=i.code)
        for i in items
    ]
    t0 = time.perf_counter()
    accepted = 0
    for k in range(0, total, batch_size):
        results = apply_scans(db, scans[k : k + batch_size])
        accepted += sum(r.accepted for r in results)
    elapsed = time.perf_counter() - t0
    assert accepted == total, (accepted, total)
    return total / elapsed


def measure(client, path: str, calls: int, headers=None) -> tuple[float, float]:
    """p50 and p95 in ms of `calls` GETs of `path` through the WSGI app (server time)."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, (path, resp.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def open_dataset(items: int, ledger: int):
    """The app on bench/out/core-<items>-<ledger>.db (built on first use), the bench user's
    id, and the garbage collector tuned as `serve`, `ingest` and server.wsgi tune it."""
    from server import auth, create_app
    from server.db import create_schema
    from server.models import User
    from server.runtime import tune_gc

    OUT.mkdir(exist_ok=True)
    path = OUT / f"core-{items}-{ledger}.db"
    fresh = not path.exists()
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "LOG_LEVEL": "WARNING"})
    db = app.extensions["koordinator.db"]
    create_schema(db)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite file {path.name}"
    )
    with db.connection_context():
        if fresh:
            print("building data set ...", flush=True)
            build(db, items, ledger)
        user = User.get_or_none(User.username == "bench") or auth.create_user("bench", "admin")
    tune_gc()
    return app, user


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--scans", type=int, default=5000)
    args = parser.parse_args()
    from server import auth

    app, user = open_dataset(args.items, args.ledger)
    db = app.extensions["koordinator.db"]
    with db.connection_context():
        for size in (1, 200):
            rate = bench_apply(db, size, args.scans)
            print(f"apply_scans batch={size:<4} {rate:8.0f} scans/s  ({args.scans} receive scans)")
        token = auth.create_token(user, "bench")
    headers = {"Authorization": f"Bearer {token}"}
    p50, p95 = measure(app.test_client(), "/api/stock", 200, headers)
    print(
        f"GET /api/stock with {args.items} items, {args.ledger} ledger rows: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
