"""Stock counters kept in step with item changes.

Every change of an item's (product, stage, station, qty) is recorded as a delta and
flushed as one upsert per touched counter, inside the caller's transaction. The counters
are therefore exactly the sum over items; `recount()` proves it in tests and repairs it in
operations (`python -m server recount-stock`).
"""

from __future__ import annotations

from decimal import Decimal

import peewee as pw

from server.core import hot
from server.models import Item, StockCounter

Key = tuple[int, str, int]  # product_id, stage, station_id (0 = none)


def key_of(item: Item) -> Key:
    return (item.product_id, str(item.stage), item.station_id or 0)


class StockDelta:
    """Deltas collected during one scan, written by `flush()`."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[Key, list] = {}

    def add(self, key: Key, count: int, qty: Decimal) -> None:
        entry = self._d.get(key)
        if entry is None:
            self._d[key] = [count, qty]
        else:
            entry[0] += count
            entry[1] += qty

    def leave(self, item: Item) -> None:
        self.add(key_of(item), -1, -Decimal(item.qty))

    def enter(self, item: Item) -> None:
        self.add(key_of(item), 1, Decimal(item.qty))

    def merge(self, other: StockDelta) -> None:
        for key, (count, qty) in other._d.items():
            self.add(key, count, qty)
        other._d.clear()

    def flush(self) -> None:
        for (product_id, stage, station_id), (count, qty) in sorted(self._d.items()):
            if count == 0 and qty == 0:
                continue
            hot.upsert_counter(product_id, stage, station_id, count, qty)
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


def rebuild(db: pw.Database) -> int:
    """Replace the counters with a recount from the items; returns the rows written."""
    with db.atomic():
        StockCounter.delete().execute()
        rows = [
            {"product": p, "stage": s, "station_id": sid, "count": n, "qty": q}
            for (p, s, sid), (n, q) in recount_from_items().items()
        ]
        for i in range(0, len(rows), 500):
            StockCounter.insert_many(rows[i : i + 500]).execute()
    return len(rows)
