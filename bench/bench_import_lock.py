"""How long the ingest waits behind a CSV import that moves a place (PostgreSQL).

    PYTHONPATH=. .venv/bin/python bench/bench_import_lock.py --url postgresql://.../db

Issue 16 (places), a reviewer's finding: a locations import with one move in the tree took
`LOCK TABLE location_total` inside the file's one transaction, so every scan batch waited
for the whole file. The database (its tables are dropped and made again: give it one of its
own) gets one site, areas A and B, `--bins` bins under A holding `--items` items on hand.
Then, `--reps` times: a thread does what a scan batch does to the kept totals (one
transaction: its totals and site counter upserts, `hot.add_totals`), back to back, while
the main thread imports a locations file of every bin renamed and, as its first row, area
A moved under B (or back to the top). Printed per run:

- `ceiling_p99_ms`: the batches' p99 in the second before the import (the same run, the
  same load: what a batch costs with no import);
- `import_s`: the import's wall time;
- `worst_wait_ms`: the slowest batch that started while the import ran;
- `ratio_worst_to_import`: near 1 when a batch waited for the whole import;
- `ratio_worst_to_ceiling`: the slowest batch against the ceiling.

Run the old code against the new by putting its tree first on PYTHONPATH (`git archive
<commit> server | tar -x -C /tmp/old`, `PYTHONPATH=/tmp/old:.`), old and new alternated.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import threading
import time
from decimal import Decimal


def build(db, n_bins: int, n_items: int) -> None:
    from server.core import codes
    from server.core.stock import rebuild
    from server.models import Item, Location, Product, Site

    rnd = random.Random(16)
    with db.atomic():
        site = Site.get_or_none(Site.code == "S1") or Site.create(code="S1", name="Plant one")
        products = [
            Product.create(sku=f"P{i:03d}", name=f"P {i}", kind="raw", tracking="lot",
                           unit=["ea", "kg"][i % 2]).id
            for i in range(20)
        ]  # fmt: skip
        a = Location.create(site_id=site.id, kind="area", code="A", name="Area A")
        Location.create(site_id=site.id, kind="area", code="B", name="Area B")
        rows = [
            {"site_id": site.id, "kind": "bin", "code": f"A-{b:05d}", "name": "",
             "parent_id": a.id}
            for b in range(n_bins)
        ]  # fmt: skip
        for i in range(0, len(rows), 500):
            Location.insert_many(rows[i : i + 500]).execute()
    bins = [loc.id for loc in Location.select(Location.id).where(Location.kind == "bin")]
    fields = [Item.code, Item.product, Item.stage, Item.qty, Item.location_id, Item.created_at]
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    batch = [
        (codes.make_item_code(n * 7919 % 32**7), rnd.choice(products), "raw",
         rnd.randint(1, 20), bins[n % len(bins)], now)
        for n in range(n_items)
    ]  # fmt: skip
    with db.atomic():
        for i in range(0, len(batch), 5000):
            Item.insert_many(batch[i : i + 5000], fields=fields).execute()
    rebuild(db)


def run_once(db, rep: int, n_bins: int) -> dict:
    from server.api.imports import MODELS
    from server.core import hot, imports
    from server.models import Location, Product, utcnow

    bins = list(Location.select(Location.id, Location.code).where(Location.kind == "bin").tuples())
    pid = Product.select(Product.id).order_by(Product.id).scalar()
    parent = Location.select(Location.parent_id).where(Location.code == "A").scalar()
    to = "" if parent else "B"
    lines = [
        "code,kind,name,site,parent,allow_products,allow_kinds,active",
        f"A,area,Area A,S1,{to},,,",
    ]
    lines += [f"{code},bin,Bin {code} r{rep},S1,A,,," for _id, code in bins]
    text = "\n".join(lines) + "\n"

    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def ingest():
        rnd = random.Random(rep)
        sign = 1
        with db.connection_context():
            while not stop.is_set():
                lid = rnd.choice(bins)[0]
                t0 = time.perf_counter()
                with db.atomic():
                    hot.add_totals(
                        [(lid, pid, sign, Decimal(sign))], [(lid, pid, "raw", sign, Decimal(sign))]
                    )
                samples.append((t0, time.perf_counter() - t0))
                sign = -sign

    t = threading.Thread(target=ingest, daemon=True)
    t.start()
    time.sleep(1.0)
    start = time.perf_counter()
    with db.connection_context():
        imports.import_csv(db, "locations", text, models=MODELS, now=utcnow())
    end = time.perf_counter()
    time.sleep(0.3)
    stop.set()
    t.join()
    before = sorted(s for t0, s in samples if t0 < start)
    during = [s for t0, s in samples if start <= t0 <= end]
    ceiling = before[int(len(before) * 0.99) - 1] if before else float("nan")
    worst = max(during) if during else float("nan")
    return {
        "ceiling_p99_ms": round(ceiling * 1000, 2),
        "import_s": round(end - start, 3),
        "batches_during": len(during),
        "worst_wait_ms": round(worst * 1000, 1),
        "ratio_worst_to_import": round(worst / (end - start), 3),
        "ratio_worst_to_ceiling": round(worst / ceiling, 1),
        "median_during_ms": round(statistics.median(during) * 1000, 2) if during else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL database of its own")
    parser.add_argument("--bins", type=int, default=5000)
    parser.add_argument("--items", type=int, default=50000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the plant")
    args = parser.parse_args()

    from server.db import create_schema, init_db
    from server.models import Location

    db = init_db(args.url)
    with db.connection_context():
        have = db.table_exists("location") and Location.select().count() == args.bins + 2
    if args.fresh or not have:
        with db.connection_context():
            db.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        create_schema(db)
        with db.connection_context():
            build(db, args.bins, args.items)
    import server.core.imports as mod

    runs = []
    for rep in range(args.reps):
        runs.append(run_once(db, rep, args.bins))
        print(json.dumps(runs[-1]), flush=True)
    print(json.dumps({"code": mod.__file__, "host": platform.node(), "runs": runs}))


if __name__ == "__main__":
    main()
