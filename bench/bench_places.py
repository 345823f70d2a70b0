"""Stock by place on a large plant: GET /api/stock?site=&location= and the stock page.

    PYTHONPATH=. .venv/bin/python bench/bench_places.py [--items 1000000 --bins 10000]

Target (issue 16): "Stock by location with 1,000,000 items in 10,000 bins: API and page
p95 <= 50 ms".

Builds bench/out/places-<items>-<bins>.db (SQLite) once and re-uses it: one site, areas of
100 bins each, every bin holding 1 to 3 products (as stores bins do; a bin holding any of
200 products would make the counter table as long as the item table), the items spread
evenly over the bins in the stages on hand, the counters rebuilt from the items (an
existing file is upgraded by `create_schema`: migration 0019 sums its subtree totals). Then,
through the WSGI app (server time, no network), p50 and p95 over `--calls` GETs of

- `/api/stock?site=S1`: the whole site (every area and bin with its counts), since the
  listing is paged its first page (`limit` 500 by default);
- `/api/stock?site=S1&after=<cursor>`: a page in the middle and the last page, each
  beside the raw read of its own places' counter rows (when the code pages);
- `/api/stock?site=S1&depth=0`: the site's areas with their totals (what the page lists);
- `/api/stock?site=S1&depth=1`: the site's areas and the level below them, here every bin
  (10,100 places, as with no depth);
- `/api/stock?site=S1&location=<area>`: one area and its 100 bins;
- `/api/stock?location=<bin>`: one bin;
- `/stock?site=S1`: the page of the site (it lists the areas: more than 500 places);
- `/stock?site=S1&location=<area>`: the page a supervisor drills down on (its figures by
  product and stage: once the whole plant's, 200 products here, now the scope's);
- `/stock/live?site=S1`, `/stock/live?site=S1&location=<area>`: the page's live poll;

and, **the ceiling in the same run**, the same scopes read as raw SQL (the counter rows of
the scope, fetched, no Python work on them): `ratio` is the route's p95 over the raw read's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
STAGES = ["raw", "component", "wip", "finished", "supplies"]


def build(db, n_items: int, n_bins: int) -> None:
    from server.core import codes
    from server.core.stock import rebuild
    from server.models import Item, Location, Product, Site

    rnd = random.Random(16)
    with db.atomic():
        site = Site.create(code="S1", name="Plant one")
        products = [
            Product.create(
                sku=f"P{i:03d}",
                name=f"Product {i}",
                kind=["raw", "component", "finished", "supplies"][i % 4],
                tracking="lot" if i % 2 else "unit",
                unit=["ea", "kg", "m"][i % 3],
            ).id
            for i in range(200)
        ]
        areas = []
        for a in range(max(1, n_bins // 100)):
            areas.append(
                Location.create(site_id=site.id, kind="area", code=f"A{a:03d}", name=f"Area {a}")
            )
        rows = [
            {
                "site_id": site.id,
                "kind": "bin",
                "code": f"A{b // 100:03d}-{b % 100:02d}",
                "name": "",
                "parent_id": areas[b // 100 % len(areas)].id,
            }
            for b in range(n_bins)
        ]
        for i in range(0, len(rows), 500):
            Location.insert_many(rows[i : i + 500]).execute()
    bins = [loc.id for loc in Location.select(Location.id).where(Location.kind == "bin")]
    held = {b: rnd.sample(products, rnd.randint(1, 3)) for b in bins}
    t0 = time.perf_counter()
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    fields = [Item.code, Item.product, Item.stage, Item.qty, Item.location_id, Item.created_at]
    batch = []
    for n in range(n_items):
        where = bins[n % len(bins)]
        batch.append(
            (
                codes.make_item_code(n * 7919 % 32**7),
                rnd.choice(held[where]),
                rnd.choice(STAGES),
                rnd.randint(1, 20),
                where,
                now,
            )
        )
        if len(batch) == 20000:
            with db.atomic():
                Item.insert_many(batch, fields=fields).execute()
            batch = []
    if batch:
        with db.atomic():
            Item.insert_many(batch, fields=fields).execute()
    rebuild(db)
    print(f"  {n_items} items in {n_bins} bins: {time.perf_counter() - t0:.1f} s", flush=True)


def timed(call, calls: int) -> tuple[float, float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return round(statistics.median(times), 1), round(times[int(len(times) * 0.95) - 1], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--bins", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()
    from server import auth, create_app
    from server.core import locations
    from server.db import create_schema
    from server.models import Location, User
    from server.runtime import tune_gc

    OUT.mkdir(exist_ok=True)
    path = OUT / f"places-{args.items}-{args.bins}.db"
    fresh = not path.exists()
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "LOG_LEVEL": "WARNING"})
    db = app.extensions["koordinator.db"]
    create_schema(db)
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite file {path.name}",
        flush=True,
    )
    with db.connection_context():
        if fresh:
            print("building data set ...", flush=True)
            build(db, args.items, args.bins)
        user = User.get_or_none(User.username == "bench") or auth.create_user("bench", "admin")
        token = auth.create_token(user, "bench")
        area = Location.get(Location.code == "A000")
        area_ids = locations.subtree_ids(area)
        a_bin = Location.get(Location.code == "A000-07")
    tune_gc()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with client.session_transaction() as sess:  # the page's session, as after a login
        sess.update(auth.session_data(user))

    def get(path: str, **kw):
        def call():
            resp = client.get(path, **kw)
            assert resp.status_code == 200, (path, resp.status_code, resp.data[:200])

        return call

    counter_sql = (
        'SELECT "location_id", "product_id", "stage", "count", "qty" FROM "location_counter" '
        'WHERE "count" != 0'
    )

    def raw(ids: list[int] | None):
        sql = counter_sql
        if ids is not None:
            sql += f' AND "location_id" IN ({", ".join(str(i) for i in ids)})'

        def call():
            with db.connection_context():
                db.execute_sql(sql).fetchall()

        return call

    # the pages of the site's listing, where the code pages it: (codes, cursor) a page
    pages: list[tuple[list[str], str | None]] = []
    after = None
    while True:
        query = "/api/stock?site=S1" + (f"&after={after}" if after else "")
        places = client.get(query, headers=headers).get_json()["places"]
        if "next" not in places:
            break
        pages.append(([r["code"] for r in places["locations"]], after))
        after = places["next"]
        if not after:
            break
    with db.connection_context():
        ids_of = {code: lid for lid, code in Location.select(Location.id, Location.code).tuples()}
    paged = []
    if len(pages) > 2:
        for name, (codes, cursor) in (("api_site_page_mid", pages[len(pages) // 2]),
                                      ("api_site_page_last", pages[-1])):  # fmt: skip
            paged.append(
                (
                    name,
                    get(f"/api/stock?site=S1&after={cursor}", headers=headers),
                    raw([ids_of[c] for c in codes]),
                )
            )
        print(f"  the site's listing: {len(pages)} pages of up to {len(pages[0][0])} places")
    cases = [
        ("api_site", get("/api/stock?site=S1", headers=headers), raw(None)),
        *paged,
        ("api_site_areas", get("/api/stock?site=S1&depth=0", headers=headers), raw(None)),
        ("api_site_top", get("/api/stock?site=S1&depth=1", headers=headers), raw(None)),
        ("api_area", get("/api/stock?site=S1&location=A000", headers=headers), raw(area_ids)),
        ("api_bin", get("/api/stock?location=A000-07", headers=headers), raw([a_bin.id])),
        ("page_site", get("/stock?site=S1"), raw(None)),
        ("page_area", get("/stock?site=S1&location=A000"), raw(area_ids)),
        ("live_site", get("/stock/live?site=S1"), raw(None)),
        ("live_area", get("/stock/live?site=S1&location=A000"), raw(area_ids)),
    ]
    out: dict = {"items": args.items, "bins": args.bins, "calls": args.calls}
    only = {c for c in args.only.split(",") if c}
    for name, route, ceiling in cases:
        if only and name not in only:
            continue
        route()  # warm
        before = timed(ceiling, args.calls)
        p50, p95 = timed(route, args.calls)
        after = timed(ceiling, args.calls)
        raw_p95 = (before[1] + after[1]) / 2
        out[name] = {
            "p50_ms": p50,
            "p95_ms": p95,
            "raw_sql_p95_ms": [before[1], after[1]],
            "ratio": round(p95 / raw_p95, 1) if raw_p95 else None,
        }
        print(name, json.dumps(out[name]), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
