"""Creating items (for labels, from the API, from a supplier label), splitting lots, and
where a gone item left from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import peewee as pw

from server.core import codes
from server.core.errors import Conflict, Invalid, Rejected
from server.core.stages import GONE, Stage, Tracking
from server.core.stock import StockDelta
from server.models import Item, LedgerEntry, Product, ProductionOrder, Station

_MAX_CODE_TRIES = 8
#: rows per INSERT and codes per IN (...) when items are made in bulk (SQLite allows 32,766
#: variables; an item row has 11 columns)
_BATCH = 500


def _free_code() -> str:
    for _ in range(_MAX_CODE_TRIES):
        code = codes.make_item_code()
        if not Item.select().where(Item.code == code).exists():
            return code
    raise RuntimeError("could not draw a free item code")  # 34 billion codes: not in practice


def _free_codes(count: int) -> list[str]:
    """`count` distinct codes no item has, looked up 500 at a time."""
    free: dict[str, None] = {}
    for _ in range(_MAX_CODE_TRIES):
        drawn = {codes.make_item_code() for _ in range(count - len(free))} - free.keys()
        for batch in _batches(sorted(drawn)):
            taken = {i.code for i in Item.select(Item.code).where(Item.code.in_(batch))}
            free.update(dict.fromkeys(c for c in batch if c not in taken))
        if len(free) == count:
            return list(free)
    raise RuntimeError("could not draw free item codes")


def _batches(values: list) -> list[list]:
    return [values[i : i + _BATCH] for i in range(0, len(values), _BATCH)]


def _check_unit_qty(product: Product, qty: Decimal | None) -> None:
    if product.tracking == Tracking.UNIT and qty not in (None, 1):
        raise Invalid("bad_quantity", "unit-tracked products are labelled one unit per item")


def _item_row(product: Product, now: dt.datetime, qty: Decimal | None, **fields) -> dict:
    return {
        "product": product,
        "stage": Stage.NEW,
        "qty": qty if qty is not None else Decimal(1),
        "created_at": now,
        "stage_at": now,
        **fields,
    }


def _creation_row(item: Item, now: dt.datetime, origin: str, operator_id, order) -> dict:
    return {
        "origin": origin,
        "action": "create",
        "item": item,
        "to_stage": Stage.NEW,
        "qty": item.qty,
        "message": "Item created",
        "operator": operator_id,
        "order": order,
        "received_at": now,
    }


def new_item(
    product: Product,
    *,
    delta: StockDelta,
    now: dt.datetime,
    qty: Decimal | None = None,
    lot: str | None = None,
    serial: str | None = None,
    ext_key: str | None = None,
    expiry: dt.date | None = None,
    order: ProductionOrder | None = None,
    origin: str = "api",
    operator_id: int | None = None,
) -> Item:
    """One new item in stage `new` with a fresh code, and its creation ledger entry."""
    _check_unit_qty(product, qty)
    item = Item.create(
        code=_free_code(),
        **_item_row(
            product, now, qty, lot=lot, serial=serial, ext_key=ext_key, expiry=expiry, order=order
        ),
    )
    delta.enter(item)
    LedgerEntry.create(**_creation_row(item, now, origin, operator_id, order))
    return item


def create_items(
    db: pw.Database,
    product: Product,
    *,
    count: int = 1,
    qty: Decimal | None = None,
    lot: str | None = None,
    serial: str | None = None,
    order: ProductionOrder | None = None,
    operator_id: int | None = None,
    now: dt.datetime,
    expiry: dt.date | None = None,
) -> list[Item]:
    """`count` new items of `product` (stage new), in one transaction: their rows and their
    creation entries go in 500 to an INSERT (10,000 one by one took over 10 s on
    PostgreSQL)."""
    if not product.active:
        raise Conflict("inactive", f"Product {product.sku} is deactivated")
    if serial is not None and count != 1:
        raise Invalid("bad_quantity", "a serial number labels exactly one item")
    _check_unit_qty(product, qty)
    ext_key = f"01{product.gtin}21{serial}" if (serial and product.gtin) else None
    if ext_key and Item.select().where(Item.ext_key == ext_key).exists():
        raise Invalid("bad_payload", f"serial {serial} of {product.sku} already exists")
    delta = StockDelta()
    with db.atomic():
        drawn = _free_codes(count)
        row = _item_row(
            product, now, qty, lot=lot, serial=serial, ext_key=ext_key, expiry=expiry, order=order
        )
        for batch in _batches(drawn):
            Item.insert_many([{**row, "code": code} for code in batch]).execute()
        made = {
            i.code: i
            for batch in _batches(drawn)
            for i in Item.select().where(Item.code.in_(batch))
        }
        items = [made[code] for code in drawn]
        for batch in _batches(items):
            LedgerEntry.insert_many(
                [_creation_row(i, now, "api", operator_id, order) for i in batch]
            ).execute()
        for item in items:
            item.product = product  # loaded, as the callers read it
            delta.enter(item)
        delta.flush()
    return items


def split(item: Item, qty: Decimal, *, delta: StockDelta, now: dt.datetime, **ledger) -> Item:
    """Split `qty` off lot `item`; the part split off gets a new code and keeps the lot."""
    if item.product.tracking == Tracking.UNIT:
        raise Rejected("bad_quantity", "A unit cannot be split")
    if qty >= item.qty:
        raise Rejected("bad_quantity", f"Only {item.qty} on this label")
    delta.leave(item)
    item.qty = Decimal(item.qty) - qty
    item.save()
    delta.enter(item)
    part = Item.create(
        code=_free_code(),
        product=item.product,
        stage=item.stage,
        qty=qty,
        lot=item.lot,
        expiry=item.expiry,
        station=item.station,
        location_id=item.location_id,
        order=item.order,
        split_from=item,
        created_at=now,
        stage_at=item.stage_at,
    )
    delta.enter(part)
    for it, msg in ((item, f"Split {qty} off to {part.code}"), (part, f"Split from {item.code}")):
        LedgerEntry.create(
            origin="system",
            action="split",
            item=it,
            from_stage=it.stage,
            to_stage=it.stage,
            qty=it.qty,
            message=msg,
            received_at=now,
            station=it.station_id,
            **ledger,
        )
    return part


def left_from(item: Item) -> LedgerEntry | None:
    """For a shipped, consumed or scrapped item, the accepted ledger row that took it to that
    stage (its `station` is where the item left from, with that station joined); None for an
    item still in the plant, or when no row says so."""
    if item.stage not in GONE:
        return None
    return (
        LedgerEntry.select(LedgerEntry, Station)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .where(
            (LedgerEntry.item == item.id)
            & (LedgerEntry.to_stage == str(item.stage))
            & (LedgerEntry.status == "accepted")
        )
        .order_by(LedgerEntry.id.desc())
        .first()
    )
