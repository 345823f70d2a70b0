"""Stock counters kept in step with item changes.

Every change of an item's (product, stage, station, location, qty) is recorded as a delta
and flushed as one upsert per touched counter, inside the caller's transaction: the stock
counters by station (`StockCounter`) and by location (`LocationCounter`, the stock by place
of server/core/locations.py). The counters
are therefore exactly the sum over items; `recount()` proves it in tests and repairs it in
operations (`python -m server recount-stock`).
"""

from __future__ import annotations

from decimal import Decimal

import peewee as pw

from server.core import hot
from server.models import Item, LocationCounter, StockCounter

Key = tuple[int, str, int]  # product_id, stage, station_id (0 = none)
#: product_id, stage, station_id (0 = none), location_id (0 = none)
FullKey = tuple[int, str, int, int]


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
        for (location_id, product_id, stage), (count, qty) in sorted(by_location.items()):
            if count == 0 and qty == 0:
                continue
            hot.upsert_location_counter(location_id, product_id, stage, count, qty)
        self._d.clear()


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
    return len(rows)


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
