"""Items: creating labelled items, and an item's detail with history and genealogy."""

from __future__ import annotations

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import (
    Answer,
    Code,
    IsoDate,
    PositiveQty,
    Strict,
    check_total,
    num,
    whole_number,
)
from server.core.errors import NotFound
from server.core.items import create_items, left_from
from server.core.stages import GONE
from server.models import Item, LedgerEntry, Product, ProductionOrder, Station, User, utcnow


class ItemsIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"product": "STEEL", "count": 2, "qty": 25, "lot": "L-77"}]}
    )

    product: Code
    count: whole_number(1, 10000) = 1  # type: ignore[valid-type]
    qty: PositiveQty | None = None
    lot: str | None = pydantic.Field(default=None, min_length=1, max_length=20)
    serial: str | None = pydantic.Field(default=None, min_length=1, max_length=20)
    order: Code | None = None
    #: the lot's expiry date (a local date), as a supplier's (17) gives it at receiving
    expiry: IsoDate | None = None

    @pydantic.model_validator(mode="after")
    def _total(self):
        # the stock counters hold sums as numeric(18, 4): PostgreSQL refuses more
        check_total(self.count, self.qty)
        return self


class ItemOut(Answer):
    code: str
    product: str
    stage: str
    qty: float


def item_dict(item: Item) -> dict:
    return {
        "code": item.code,
        "product": item.product.sku,
        "product_name": item.product.name,
        "stage": item.stage,
        "qty": num(item.qty),
        "unit": item.product.unit,
        "lot": item.lot,
        "serial": item.serial,
        "expiry": item.expiry.isoformat() if item.expiry else None,
        # a shipped, consumed or scrapped item is at no station (show_item: left_from)
        "station": item.station.code if item.station_id and item.stage not in GONE else None,
        "order": item.order.number if item.order_id else None,
        "parent": item.parent.code if item.parent_id else None,
        "stage_at": item.stage_at.isoformat() + "Z",
    }


@op(
    "POST",
    "/items",
    role="supervisor",
    tag="items",
    summary="Create labelled items (stage new, not yet in stock)",
    body=ItemsIn,
    responses={
        201: ("The new items with their label codes", None),
        404: ("unknown_product, unknown_order", None),
    },
)
def post_items(body: ItemsIn):
    product = Product.get_or_none(Product.sku == body.product)
    if product is None:
        raise NotFound("unknown_product", f"No product {body.product}")
    order = None
    if body.order:
        order = ProductionOrder.get_or_none(ProductionOrder.number == body.order)
        if order is None:
            raise NotFound("unknown_order", f"No order {body.order}")
    from server.api import current_user

    items = create_items(
        current_app.extensions["koordinator.db"],
        product,
        count=body.count,
        qty=body.qty,
        lot=body.lot,
        serial=body.serial,
        order=order,
        operator_id=current_user().id,
        now=utcnow(),
        expiry=body.expiry,
    )
    for item in items:
        item.product = product
    return {"items": [item_dict(i) for i in items]}, 201


@op(
    "GET",
    "/items/<code>",
    role="operator",
    tag="items",
    summary="An item: stage, station (or where a gone item left from), order, parent, "
    "children and history",
    responses={200: ("The item", ItemOut), 404: ("Unknown code", None)},
)
def show_item(code: str):
    item = Item.get_or_none(Item.code == code.upper())
    if item is None:
        raise NotFound("unknown_item", f"No item {code}")
    out = item_dict(item)
    out["children"] = [
        {"code": c.code, "product": c.product.sku, "qty": num(c.qty), "lot": c.lot}
        for c in Item.select().where(Item.parent == item.id).order_by(Item.id)
    ]
    out["split_from"] = item.split_from.code if item.split_from_id else None
    left = left_from(item)
    out["left_from"] = (
        {
            "station": left.station.code if left.station_id else None,
            "action": left.action,
            "at": left.received_at.isoformat() + "Z",
        }
        if left is not None
        else None
    )
    history = (
        LedgerEntry.select(LedgerEntry, Station, User)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .switch(LedgerEntry)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.operator == User.id))
        .where(LedgerEntry.item == item.id)
        .order_by(LedgerEntry.id)
    )
    out["history"] = [
        {
            "at": e.received_at.isoformat() + "Z",
            "scanned_at": e.scanned_at.isoformat() + "Z" if e.scanned_at else None,
            "origin": e.origin,
            "scan_id": e.scan_id,
            "action": e.action,
            "from": e.from_stage,
            "to": e.to_stage,
            "qty": num(e.qty),
            "status": e.status,
            "reason": e.reason,
            "message": e.message,
            "note": e.note,
            "warnings": e.warnings,
            "station": e.station.code if e.station_id else None,
            "operator": e.operator.username if e.operator_id else None,
            "scanner": e.scanner_id,
        }
        for e in history
    ]
    return out
