"""Stock counters kept in step with item changes.

Every change of an item's (product, stage, station, location, qty) is recorded as a delta
and flushed as one upsert per touched counter, inside the caller's transaction: the stock
counters by station (`StockCounter`) and by location (`LocationCounter`, the stock by place
of server/core/locations.py), and from the latter's stock on hand the subtree totals
(`LocationTotal`: a location and everything below it, per unit) and the site counters
(`SiteCounter`: per site, product and stage). The counters are therefore exactly the sum
over items; the recounts prove it in tests and `rebuild()` repairs it in operations
(`python -m server recount-stock`).

A location moved in the tree takes its subtree's totals with it (`move_subtree`), and a
product whose unit changes moves its stock to the other unit's totals (`unit_change`).
On PostgreSQL both first lock `location_total` against writers (SHARE ROW EXCLUSIVE): a
scan batch that has written totals is waited for, and one that has not writes its own
after the move, reading the tree (or the unit) as the move left it.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import peewee as pw

from server.core import hot
from server.core.stages import ON_HAND
from server.models import Item, Location, LocationCounter, LocationTotal, SiteCounter, StockCounter

Key = tuple[int, str, int]  # product_id, stage, station_id (0 = none)
#: product_id, stage, station_id (0 = none), location_id (0 = none)
FullKey = tuple[int, str, int, int]
#: the stages the totals count, as stored
ON_HAND_STAGES = frozenset(s.value for s in ON_HAND)


def key_of(item: Item) -> Key:
    return (item.product_id, str(item.stage), item.station_id or 0)


def _full_key(item: Item) -> FullKey:
    return (item.product_id, str(item.stage), item.station_id or 0, item.location_id or 0)


class StockDelta:
    """Deltas collected during one scan, written by `flush()`. One delta per (product,
    stage, station, location); the flush sums them into the two counter tables."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[FullKey, list] = {}

    def add(self, key: FullKey, count: int, qty: Decimal) -> None:
        entry = self._d.get(key)
        if entry is None:
            self._d[key] = [count, qty]
        else:
            entry[0] += count
            entry[1] += qty

    def leave(self, item: Item) -> None:
        self.add(_full_key(item), -1, -Decimal(item.qty))

    def enter(self, item: Item) -> None:
        self.add(_full_key(item), 1, Decimal(item.qty))

    def merge(self, other: StockDelta) -> None:
        for key, (count, qty) in other._d.items():
            self.add(key, count, qty)
        other._d.clear()

    def flush(self) -> None:
        by_station: dict[Key, list] = {}
        by_location: dict[tuple[int, str, int], list] = {}
        for (product_id, stage, station_id, location_id), (count, qty) in self._d.items():
            if count == 0 and qty == 0:
                continue
            for table, key in (
                (by_station, (product_id, stage, station_id)),
                (by_location, (location_id, product_id, stage)),
            ):
                entry = table.get(key)
                if entry is None:
                    table[key] = [count, qty]
                else:
                    entry[0] += count
                    entry[1] += qty
        for (product_id, stage, station_id), (count, qty) in sorted(by_station.items()):
            if count == 0 and qty == 0:
                continue
            hot.upsert_counter(product_id, stage, station_id, count, qty)
        on_hand: list[tuple] = []
        for (location_id, product_id, stage), (count, qty) in sorted(by_location.items()):
            if count == 0 and qty == 0:
                continue
            hot.upsert_location_counter(location_id, product_id, stage, count, qty)
            if location_id and stage in ON_HAND_STAGES:
                on_hand.append((location_id, product_id, stage, count, qty))
        self._d.clear()
        if on_hand:
            add_totals(on_hand)


def add_totals(rows: list[tuple]) -> None:
    """(location_id, product_id, stage, count, qty) changes of stock on hand (located) ->
    the subtree totals and the site counters; a move between stages on hand leaves the
    totals as they are."""
    by_place: dict[tuple[int, int], list] = {}
    for location_id, product_id, _stage, count, qty in rows:
        entry = by_place.get((location_id, product_id))
        if entry is None:
            by_place[(location_id, product_id)] = [count, qty]
        else:
            entry[0] += count
            entry[1] += qty
    places = [(lid, pid, n, q) for (lid, pid), (n, q) in by_place.items() if n or q]
    hot.add_totals(places, rows)


def recount_from_items() -> dict[Key, tuple[int, Decimal]]:
    """Counters as they should be, summed from the item table (slow; tests and repair)."""
    rows = (
        Item.select(
            Item.product,
            Item.stage,
            pw.fn.COALESCE(Item.station, 0).alias("sid"),
            pw.fn.COUNT(Item.id).alias("n"),
            pw.fn.SUM(Item.qty).alias("q"),
        )
        .group_by(Item.product, Item.stage, pw.fn.COALESCE(Item.station, 0))
        .tuples()
    )
    return {(p, s, sid): (n, Decimal(q)) for p, s, sid, n, q in rows}


def counters() -> dict[Key, tuple[int, Decimal]]:
    """The stored counters, without empty rows."""
    out = {}
    for c in StockCounter.select():
        if c.count or c.qty:
            out[(c.product_id, c.stage, c.station_id)] = (c.count, Decimal(c.qty))
    return out


def recount_locations_from_items() -> dict[tuple[int, int, str], tuple[int, Decimal]]:
    """Location counters as they should be, (location_id, product_id, stage) ->
    (count, qty), summed from the item table (slow; tests, repair, migration 0009)."""
    loc = pw.fn.COALESCE(Item.location_id, 0)
    rows = (
        Item.select(
            loc.alias("lid"),
            Item.product,
            Item.stage,
            pw.fn.COUNT(Item.id).alias("n"),
            pw.fn.SUM(Item.qty).alias("q"),
        )
        .group_by(loc, Item.product, Item.stage)
        .tuples()
    )
    return {(lid, p, s): (n, Decimal(q)) for lid, p, s, n, q in rows}


def location_counters() -> dict[tuple[int, int, str], tuple[int, Decimal]]:
    """The stored location counters, without empty rows."""
    out = {}
    for c in LocationCounter.select():
        if c.count or c.qty:
            out[(c.location_id, c.product_id, c.stage)] = (c.count, Decimal(c.qty))
    return out


def rebuild_locations(db: pw.Database) -> int:
    """Replace the location counters with a recount from the items."""
    with db.atomic():
        LocationCounter.delete().execute()
        rows = [
            {"location_id": lid, "product": p, "stage": s, "count": n, "qty": q}
            for (lid, p, s), (n, q) in recount_locations_from_items().items()
        ]
        for i in range(0, len(rows), 500):
            LocationCounter.insert_many(rows[i : i + 500]).execute()
        rebuild_totals(db)
    return len(rows)


def _on_hand_marks(db: pw.Database) -> tuple[str, list[str]]:
    stages = sorted(ON_HAND_STAGES)
    return ", ".join([db.param] * len(stages)), stages


def rebuild_totals(db: pw.Database) -> int:
    """Replace the subtree totals and the site counters with sums of the location
    counters (`init-db` on upgrade, migration 0019; `recount-stock`); a site counter the
    sums do not give is kept at zero (see `SiteCounter`)."""
    target = getattr(db, "obj", db)
    marks, stages = _on_hand_marks(target)
    with db.atomic():
        lock_totals(db)
        LocationTotal.delete().execute()
        # a site counter is zeroed, not deleted: a site that stocked a product and ran
        # out stays "stocked" there (the per-site reorder check, flags.py), so a repair
        # never clears a real shortage
        SiteCounter.update(count=0, qty=0).execute()
        # every location with each location above it (UNION: a cycle cannot loop)
        target.execute_sql(
            'WITH RECURSIVE "up"("lid", "aid") AS (SELECT "id", "id" FROM "location" UNION '
            'SELECT "up"."lid", "l"."parent_id" FROM "up" JOIN "location" "l" '
            'ON "l"."id" = "up"."aid" WHERE "l"."parent_id" IS NOT NULL) '
            'INSERT INTO "location_total" ("location_id", "unit", "count", "qty") '
            'SELECT "up"."aid", "p"."unit", SUM("lc"."count"), SUM("lc"."qty") '
            'FROM "location_counter" "lc" JOIN "up" ON "up"."lid" = "lc"."location_id" '
            'JOIN "product" "p" ON "p"."id" = "lc"."product_id" '
            f'WHERE "lc"."stage" IN ({marks}) GROUP BY "up"."aid", "p"."unit" '
            'HAVING SUM("lc"."count") != 0 OR SUM("lc"."qty") != 0',
            stages,
        )
        target.execute_sql(
            'INSERT INTO "site_counter" ("site_id", "product_id", "stage", "count", "qty") '
            'SELECT "l"."site_id", "lc"."product_id", "lc"."stage", SUM("lc"."count"), '
            'SUM("lc"."qty") FROM "location_counter" "lc" '
            'JOIN "location" "l" ON "l"."id" = "lc"."location_id" '
            f'WHERE "lc"."stage" IN ({marks}) '
            'GROUP BY "l"."site_id", "lc"."product_id", "lc"."stage" '
            'HAVING SUM("lc"."count") != 0 OR SUM("lc"."qty") != 0 '
            'ON CONFLICT ("site_id", "product_id", "stage") DO UPDATE SET '
            '"count" = EXCLUDED."count", "qty" = EXCLUDED."qty"',
            stages,
        )
    return LocationTotal.select().count() + SiteCounter.select().count()


def lock_totals(db: pw.Database | None = None) -> None:
    """PostgreSQL: hold `location_total` against other writers to the commit (see the
    module's doc). SQLite's writer lock already does."""
    db = db or Item._meta.database
    target = getattr(db, "obj", db)
    if isinstance(target, pw.PostgresqlDatabase):
        target.execute_sql('LOCK TABLE "location_total" IN SHARE ROW EXCLUSIVE MODE')


def _chain(location_id: int | None) -> list[int]:
    """`location_id` and the ids above it, nearest first (none for None)."""
    out: list[int] = []
    while location_id is not None and location_id not in out:
        out.append(location_id)
        location_id = Location.select(Location.parent_id).where(Location.id == location_id).scalar()
    return out


def move_subtree(location_id: int, old_parent: int | None, new_parent: int | None) -> None:
    """Location `location_id` moves from under `old_parent` to under `new_parent`: its
    subtree's totals leave every location above it and join those above its new place.
    Call inside the transaction that changes `parent_id`, before the change. The parent
    it leaves is read again once the totals are locked: `old_parent` may be stale when
    two moves of one place race (the second then moves from where the first put it)."""
    lock_totals()
    old_parent = Location.select(Location.parent_id).where(Location.id == location_id).scalar()
    if old_parent == new_parent:
        return
    moved = list(
        LocationTotal.select(LocationTotal.unit, LocationTotal.count, LocationTotal.qty)
        .where(LocationTotal.location_id == location_id)
        .tuples()
    )
    change: dict[tuple[int, str], list] = {}
    for sign, chain in ((-1, _chain(old_parent)), (1, _chain(new_parent))):
        for aid in chain:
            for unit, n, q in moved:
                entry = change.setdefault((aid, unit), [0, Decimal(0)])
                entry[0] += sign * n
                entry[1] += sign * Decimal(q)
    for (aid, unit), (n, q) in sorted(change.items()):
        if n or q:
            hot.upsert_location_total(aid, unit, n, q)


@contextlib.contextmanager
def unit_change(product_id: int):
    """Around a change of a product's unit: its stock on hand leaves the totals of the old
    unit before, and joins those of the new one after."""
    lock_totals()
    target = getattr(Item._meta.database, "obj", Item._meta.database)
    marks, stages = _on_hand_marks(target)
    rows = target.execute_sql(
        'SELECT "location_id", SUM("count"), SUM("qty") FROM "location_counter" '
        f'WHERE "product_id" = {target.param} AND "location_id" != 0 AND "stage" IN ({marks}) '
        'GROUP BY "location_id" ORDER BY "location_id"',
        [product_id, *stages],
    ).fetchall()
    places = [(lid, product_id, int(n), _decimal(q)) for lid, n, q in rows if n or q]
    if places:
        hot.add_totals([(lid, pid, -n, -q) for lid, pid, n, q in places], [])
    yield
    if places:
        hot.add_totals(places, [])


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def recount_totals_from_items() -> tuple[dict, dict]:
    """The subtree totals, (location_id, unit) -> (count, qty), and the site counters,
    (site_id, product_id, stage) -> (count, qty), as they should be: summed from the item
    table and the location tree in Python (slow; tests)."""
    from server.models import Product

    parents = dict(Location.select(Location.id, Location.parent_id).tuples())
    sites = dict(Location.select(Location.id, Location.site_id).tuples())
    units = dict(Product.select(Product.id, Product.unit).tuples())
    totals: dict[tuple, list] = {}
    site_counts: dict[tuple, list] = {}
    rows = Item.select(Item.location_id, Item.product, Item.stage, Item.qty).where(
        Item.location_id.is_null(False) & (Item.location_id != 0)
        & Item.stage.in_(sorted(ON_HAND_STAGES))
    )  # fmt: skip
    for lid, pid, stage, qty in rows.tuples():
        if lid not in sites:
            continue
        entry = site_counts.setdefault((sites[lid], pid, str(stage)), [0, Decimal(0)])
        entry[0] += 1
        entry[1] += Decimal(qty)
        at, seen = lid, set()
        while at is not None and at not in seen:
            seen.add(at)
            entry = totals.setdefault((at, units[pid]), [0, Decimal(0)])
            entry[0] += 1
            entry[1] += Decimal(qty)
            at = parents.get(at)
    return (
        {k: (n, q) for k, (n, q) in totals.items() if n or q},
        {k: (n, q) for k, (n, q) in site_counts.items() if n or q},
    )


def stored_totals() -> tuple[dict, dict]:
    """The stored subtree totals and site counters, keyed as recount_totals_from_items(),
    without empty rows; quantities to the 4 places of a quantity (SQLite keeps these
    running sums as floats, as it does the counters', and the reads round them so)."""
    places = Decimal("0.0001")
    totals = {
        (t.location_id, t.unit): (t.count, Decimal(t.qty).quantize(places))
        for t in LocationTotal.select()
    }
    site_counts = {
        (c.site_id, c.product_id, c.stage): (c.count, Decimal(c.qty).quantize(places))
        for c in SiteCounter.select()
    }
    totals = {k: v for k, v in totals.items() if v[0] or v[1]}
    site_counts = {k: v for k, v in site_counts.items() if v[0] or v[1]}
    return totals, site_counts


def rebuild(db: pw.Database) -> int:
    """Replace the counters (by station and by location) with a recount from the items;
    returns the rows written."""
    with db.atomic():
        StockCounter.delete().execute()
        rows = [
            {"product": p, "stage": s, "station_id": sid, "count": n, "qty": q}
            for (p, s, sid), (n, q) in recount_from_items().items()
        ]
        for i in range(0, len(rows), 500):
            StockCounter.insert_many(rows[i : i + 500]).execute()
        rows_l = rebuild_locations(db)
    return len(rows) + rows_l
