"""Items: creating labelled items, and an item's detail with history and genealogy."""

from __future__ import annotations

import peewee as pw
import pydantic
from flask import current_app

from server.api import current_user, op
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
from server.core import holds, hot, printjobs, reasonlist, siteaccess
from server.core.errors import NotFound
from server.core.items import create_items, left_from
from server.core.scans import writing
from server.core.stages import GONE, Action
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


def _username(user_id: int | None) -> str | None:
    user = User.get_or_none(User.id == user_id) if user_id else None
    return user.username if user else None


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
        # held is a status beside the stage (docs/stages.md "Hold and QC")
        "status": "held" if item.held else "ok",
        "hold": (
            {
                "reason": item.held_why,
                "by": _username(item.held_by_id),
                "at": item.held_at.isoformat() + "Z" if item.held_at else None,
            }
            if item.held
            else None
        ),
    }


@op(
    "POST",
    "/items",
    role="clerk",
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
    responses={
        200: ("The item", ItemOut),
        404: ("unknown_item: no such code, or an item at another site than the caller's", None),
    },
)
def show_item(code: str):
    # an item at another site's place is unknown to a user limited to sites (siteaccess.py)
    item = siteaccess.check_item(current_user(), Item.get_or_none(Item.code == code.upper()), code)
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
    # the labels queued for it (a station's print rule) and their outcome, placed by time
    rows = printjobs.merged(
        list(history), printjobs.item_prints(item.id), at=lambda e: e.received_at
    )
    out["history"] = [_print_entry(r) if isinstance(r, dict) else _ledger_entry(r) for r in rows]
    return out


def _ledger_entry(e: LedgerEntry) -> dict:
    return {
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
        "why": e.why,
        "warnings": e.warnings,
        "station": e.station.code if e.station_id else None,
        "operator": e.operator.username if e.operator_id else None,
        "scanner": e.scanner_id,
        "printer": None,
        "job": None,
    }


def _print_entry(entry: dict) -> dict:
    """A print job's entry in an item's history, in the shape of a ledger entry's."""
    return {
        "at": entry["at"].isoformat() + "Z",
        "scanned_at": None,
        "origin": "print",
        "scan_id": None,
        "action": entry["action"],
        "from": None,
        "to": None,
        "qty": None,
        "status": None,
        "reason": "media_mismatch" if (entry["error"] or "").startswith("media_mismatch") else None,
        "message": printjobs.label_message(entry),
        "note": None,
        "why": None,
        "warnings": [],
        "station": None,
        "operator": None,
        "scanner": None,
        "printer": entry["printer"],
        "job": entry["job"],
    }


class HoldIn(Strict):
    model_config = pydantic.ConfigDict(json_schema_extra={"examples": [{"reason": "QC_CHECK"}]})

    reason: str = pydantic.Field(
        min_length=1,
        max_length=32,
        description="a code of the reason list (GET /api/reasons) that applies to the action",
    )


def _set_hold(code: str, body: HoldIn, action: Action):
    set_hold(code, body.reason, action, current_user())
    return show_item.__wrapped__(code)


def set_hold(code: str, reason_code: str, action: Action, user: User) -> None:
    """Hold or release item `code` for `user` with its ledger row (the API and the item
    page); a refusal raises the domain's error and changes nothing."""
    now = utcnow()
    with writing(current_app.extensions["koordinator.db"]):
        item = siteaccess.check_item(user, hot.item_by_code(code.upper()), code)
        reason = reasonlist.check_reason(reason_code, action.value)
        holds.hold_outside_a_scan(item, action, why=reason.code, user=user, now=now)


@op(
    "POST",
    "/items/<code>/hold",
    role="operator",
    tag="items",
    summary="Hold an item (a reason that applies to hold): only release and scrap move it then",
    body=HoldIn,
    responses={
        200: ("The item, status held", ItemOut),
        404: ("Unknown code", None),
        422: ("on_hold, unknown_reason, reason_not_applicable, illegal_transition", None),
    },
)
def hold_item(code: str, body: HoldIn):
    return _set_hold(code, body, Action.HOLD)


@op(
    "POST",
    "/items/<code>/release",
    role="supervisor",
    tag="items",
    summary="Release a held item (a reason that applies to release)",
    body=HoldIn,
    responses={
        200: ("The item, status ok", ItemOut),
        404: ("Unknown code", None),
        422: ("not_held, unknown_reason, reason_not_applicable", None),
    },
)
def release_item(code: str, body: HoldIn):
    return _set_hold(code, body, Action.RELEASE)
