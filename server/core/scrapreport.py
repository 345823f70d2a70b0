"""The scrap and hold report: scrap counted by reason, product or station over a period
(a Pareto, biggest first), and the held stock.

Scrap is read from the ledger (accepted rows that took an item to `scrapped`, the scan's
own and the `scrap_qty` split-offs), by `received_at`, which is indexed. Held items are
found through the partial index `item_held` (server/db.py), which only held rows enter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import peewee as pw

from server.core import siteaccess
from server.core.stages import GONE, Stage
from server.models import Item, LedgerEntry, Product, Station

BY = ("reason", "product", "station")


@dataclasses.dataclass(frozen=True)
class ParetoRow:
    key: str | None  # the reason code, SKU or station code; None: no reason given (a note)
    label: str
    count: int
    qty: Decimal
    share: float  # of all scrap events in the period, 0..1
    cumulative: float


def scrap_pareto(
    start: dt.datetime, end: dt.datetime, by: str, *, stations=None
) -> list[ParetoRow]:
    """Scrap events in [start, end) grouped `by` reason, product or station, most first;
    with `stations` (ids, or a subquery: `siteaccess.stations_query`), only the scrap
    recorded at those stations."""
    if by not in BY:
        raise ValueError(by)
    if by == "reason":
        key, label = LedgerEntry.why, LedgerEntry.why
        query = LedgerEntry.select(
            key, label, pw.fn.COUNT(LedgerEntry.id), pw.fn.SUM(LedgerEntry.qty)
        )
    elif by == "product":
        key, label = Product.sku, Product.name
        query = (
            LedgerEntry.select(key, label, pw.fn.COUNT(LedgerEntry.id), pw.fn.SUM(LedgerEntry.qty))
            .join(Item, on=(LedgerEntry.item == Item.id))
            .join(Product, on=(Item.product == Product.id))
        )
    else:
        key, label = Station.code, Station.name
        query = LedgerEntry.select(
            key, label, pw.fn.COUNT(LedgerEntry.id), pw.fn.SUM(LedgerEntry.qty)
        ).join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
    where = (
        (LedgerEntry.received_at >= start)
        & (LedgerEntry.received_at < end)
        & (LedgerEntry.status == "accepted")
        & (LedgerEntry.to_stage == Stage.SCRAPPED.value)
    )
    if stations is not None:
        where &= siteaccess.among(LedgerEntry.station, stations)
    rows = query.where(where).group_by(key, label).tuples()
    counted = sorted(
        ((k, lbl, int(n), Decimal(q or 0)) for k, lbl, n, q in rows),
        key=lambda r: (-r[2], str(r[0] or "")),
    )
    total = sum(r[2] for r in counted) or 1
    out, running = [], 0
    for k, lbl, n, q in counted:
        running += n
        out.append(ParetoRow(k, lbl or "", n, q, n / total, running / total))
    return out


def held_items(limit: int = 500, where: pw.Expression | None = None) -> list[Item]:
    """Held items still in the plant, longest held first; `where` narrows them (a user
    limited to sites: `siteaccess.items_where`)."""
    query = (
        Item.select(Item, Product)
        .join(Product)
        # the bare column, as the partial index's condition: SQLite uses a partial index
        # only for a WHERE that states its condition, and `held = ?` does not
        .where(Item.held & Item.stage.not_in([s.value for s in GONE]))
    )
    if where is not None:
        query = query.where(where)
    return list(query.order_by(Item.held_at, Item.id).limit(limit))


def held_by_stage(location_ids: list[int] | None = None) -> dict[str, tuple[int, Decimal]]:
    """Count and quantity of held items per stage (stock shown apart); of the items at
    `location_ids` only when given (a user limited to sites: ids or
    `siteaccess.locations_query`)."""
    query = Item.select(Item.stage, pw.fn.COUNT(Item.id), pw.fn.SUM(Item.qty)).where(Item.held)
    if location_ids is not None:
        query = query.where(siteaccess.among(Item.location_id, location_ids))
    rows = query.group_by(Item.stage).tuples()
    return {str(s): (int(n), Decimal(q or 0)) for s, n, q in rows}
