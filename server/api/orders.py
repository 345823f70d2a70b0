"""Production orders: the lines of the master production schedule.

Thin views over `server.core.planning` (lifecycle, edits) and `server.core.flags`.
"""

from __future__ import annotations

import peewee as pw
import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import (
    Answer,
    Code,
    IsoDate,
    OrderNumber,
    PositiveQty,
    QueryInt,
    Strict,
    num,
)
from server.core import flags as flags_mod
from server.core import planning
from server.core.errors import Conflict, Invalid
from server.models import OrderMaterial, ProductionOrder, utcnow


class OrderIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "WO-1001",
                    "product": "WIDGET",
                    "qty": 100,
                    "start": "2026-11-23",
                    "due": "2026-11-27",
                    "station": "A1",
                }
            ]
        }
    )

    number: OrderNumber
    product: Code
    qty: PositiveQty
    start: IsoDate
    due: IsoDate
    station: Code | None = None

    @pydantic.model_validator(mode="after")
    def _dates(self):
        if self.due < self.start:
            raise ValueError("due is before start")
        return self


class OrderEdit(Strict):
    """Change the plan of an order that is not done or closed. Omitted fields stay; a null
    station makes the order plant-wide."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [{"qty": 120, "due": "2026-11-28", "note": "customer added 20"}]
        }
    )

    qty: PositiveQty | None = None
    start: IsoDate | None = None
    due: IsoDate | None = None
    station: Code | None = None
    note: str | None = pydantic.Field(default=None, max_length=200)


class CloseIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"reason": "customer cancelled"}]}
    )

    reason: str | None = pydantic.Field(default=None, max_length=200)


class OrderQuery(Strict):
    status: str | None = pydantic.Field(
        default=None,
        description="comma-separated statuses; `open` = planned, released, in_progress",
        pattern=r"^(planned|released|in_progress|done|closed|open)(,(planned|released|"
        r"in_progress|done|closed|open))*$",
    )
    product: Code | None = None
    due_from: IsoDate | None = None
    due_to: IsoDate | None = None
    limit: QueryInt = pydantic.Field(default=1000, ge=1, le=10000)


class OrderOut(Answer):
    number: str
    product: str
    qty: float
    start: IsoDate
    due: IsoDate
    station: str | None
    status: str
    completed: float
    flags: list


get_order = planning.get_order


def _db():
    return current_app.extensions["koordinator.db"]


def _user_id() -> int | None:
    user = current_user()
    return user.id if user else None


def order_dict(
    o: ProductionOrder, *, detail: bool = False, flags: flags_mod.Flags | None = None
) -> dict:
    if flags is None:
        flags = flags_mod.compute(utcnow(), only=o, tz=current_app.config.get("PLANT_TIMEZONE"))
    out = {
        "number": o.number,
        "product": o.product.sku,
        "qty": num(o.qty),
        "start": o.start.isoformat(),
        "due": o.due.isoformat(),
        "station": o.station.code if o.station_id else None,
        "status": o.status,
        "started": num(o.started),
        "completed": num(o.completed),
        "remaining": num(max(o.qty - o.completed, 0)),
        "progress": round(float(o.completed / o.qty) * 100, 1) if o.qty else 0.0,
        "flags": flags.for_order(o.id),
    }
    if detail:
        need = {line.component.sku: line.qty * o.qty for line in o.product.bom_lines}
        mats = {m.product.sku: m for m in OrderMaterial.select().where(OrderMaterial.order == o.id)}
        out["materials"] = [
            {
                "material": sku,
                "needed": num(n),
                "issued": num(mats[sku].issued) if sku in mats else 0,
                "consumed": num(mats[sku].consumed) if sku in mats else 0,
            }
            for sku, n in sorted(need.items())
        ]
        out["history"] = planning.order_events(o)
    return out


@op(
    "POST",
    "/orders",
    role="supervisor",
    tag="orders",
    summary="Plan a production order",
    body=OrderIn,
    responses={
        201: ("Created (planned)", OrderOut),
        400: ("bad_date: outside 2000-01-01..2099-12-31 or longer than 366 days", None),
        404: ("unknown_product, unknown_station", None),
        409: ("Number exists", None),
    },
)
def create_order(body: OrderIn):
    try:
        with _db().atomic():
            order = planning.create_order(
                planning.OrderPlan(**body.model_dump()), now=utcnow(), user_id=_user_id()
            )
    except pw.IntegrityError as exc:  # created by someone else between check and insert
        raise Conflict("exists", f"Order {body.number} exists") from exc
    return order_dict(get_order(order.number)), 201


@op(
    "POST",
    "/orders/<number>/release",
    role="supervisor",
    tag="orders",
    summary="Release a planned order to the floor",
    responses={200: ("Released", OrderOut), 409: ("Not planned", None)},
)
def release_order(number: str):
    with _db().atomic():
        planning.release_order(get_order(number), now=utcnow(), user_id=_user_id())
    return order_dict(get_order(number))


@op(
    "PATCH",
    "/orders/<number>",
    role="supervisor",
    tag="orders",
    summary="Edit or reschedule an order (qty, start, due, station) that is not done or closed",
    body=OrderEdit,
    responses={
        200: ("The order as changed", OrderOut),
        400: ("Quantity below completed, or due before start", None),
        409: ("Done or closed", None),
    },
)
def edit_order(number: str, body: OrderEdit):
    given = body.model_fields_set
    with _db().atomic():
        changes = planning.edit_order(
            get_order(number),
            qty=body.qty,
            start=body.start,
            due=body.due,
            station=body.station if "station" in given else planning.KEEP,
            note=body.note,
            now=utcnow(),
            user_id=_user_id(),
        )
    out = order_dict(get_order(number), detail=True)
    out["changes"] = changes
    return out


@op(
    "POST",
    "/orders/<number>/close",
    role="supervisor",
    tag="orders",
    summary="Close a done order, or cancel/short-close an open one with a reason",
    body=CloseIn,
    responses={
        200: ("Closed", OrderOut),
        400: ("A reason is needed", None),
        409: ("Already closed", None),
    },
)
def close_order(number: str, body: CloseIn):
    with _db().atomic():
        how = planning.close_order(
            get_order(number), reason=body.reason, now=utcnow(), user_id=_user_id()
        )
    out = order_dict(get_order(number), detail=True)
    out["closed_as"] = how
    return out


@op(
    "GET",
    "/orders/<number>",
    role="operator",
    tag="orders",
    summary="An order with progress, materials and flags",
    responses={200: ("Order", OrderOut)},
)
def show_order(number: str):
    return order_dict(get_order(number), detail=True)


@op(
    "GET",
    "/orders",
    role="operator",
    tag="orders",
    summary="List orders (filters: status, product, due_from, due_to)",
    query=OrderQuery,
    responses={200: ("Orders", None)},
)
def list_orders(query: OrderQuery):
    statuses: list[str] = []
    for status in (query.status or "").split(","):
        if status:
            statuses.extend(planning.STATUSES[:3] if status == "open" else [status])
    if query.due_from and query.due_to and query.due_to < query.due_from:
        raise Invalid("bad_payload", "due_to is before due_from")
    rows = planning.list_orders(
        statuses=statuses,
        product=query.product,
        due_from=query.due_from,
        due_to=query.due_to,
        limit=query.limit,
    )
    flags = flags_mod.compute(utcnow(), tz=current_app.config.get("PLANT_TIMEZONE"))
    return {"orders": [order_dict(o, flags=flags) for o in rows]}
