"""Production orders: the lines of the master production schedule."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Answer, Code, PositiveQty, Strict, num
from server.core import schedule
from server.core.errors import Conflict, Invalid, NotFound
from server.models import OrderMaterial, Product, ProductionOrder, Station, utcnow


class OrderIn(Strict):
    number: Code
    product: Code
    qty: PositiveQty
    start: dt.date
    due: dt.date
    station: Code | None = None

    @pydantic.model_validator(mode="after")
    def _dates(self):
        if self.due < self.start:
            raise ValueError("due is before start")
        return self


class OrderOut(Answer):
    number: str
    product: str
    qty: float
    start: dt.date
    due: dt.date
    station: str | None
    status: str
    completed: float
    flags: list


def get_order(number: str) -> ProductionOrder:
    order = ProductionOrder.get_or_none(ProductionOrder.number == number)
    if order is None:
        raise NotFound("not_found", f"No order {number}")
    return order


def order_dict(o: ProductionOrder, *, detail: bool = False) -> dict:
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
        "flags": schedule.order_flags(o, dt.date.today()),
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
    return out


@op(
    "POST",
    "/orders",
    role="supervisor",
    tag="orders",
    summary="Plan a production order",
    body=OrderIn,
    responses={201: ("Created (planned)", OrderOut), 409: ("Number exists", None)},
)
def create_order(body: OrderIn):
    product = Product.get_or_none(Product.sku == body.product)
    if product is None:
        raise Invalid("bad_payload", f"No product {body.product}")
    if product.kind not in ("finished", "component"):
        raise Invalid("bad_payload", f"{body.product} is {product.kind}, not made in the plant")
    station = None
    if body.station:
        station = Station.get_or_none(Station.code == body.station)
        if station is None:
            raise Invalid("unknown_station", f"No station {body.station}")
    try:
        with current_app.extensions["koordinator.db"].atomic():
            order = ProductionOrder.create(
                number=body.number,
                product=product,
                qty=body.qty,
                start=body.start,
                due=body.due,
                station=station,
            )
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Order {body.number} exists") from exc
    return order_dict(order), 201


@op(
    "POST",
    "/orders/<number>/release",
    role="supervisor",
    tag="orders",
    summary="Release a planned order to the floor",
    responses={200: ("Released", OrderOut), 409: ("Not planned", None)},
)
def release_order(number: str):
    order = get_order(number)
    if order.status != "planned":
        raise Conflict("bad_status", f"Order {number} is {order.status}, not planned")
    ProductionOrder.update(status="released", released_at=utcnow()).where(
        (ProductionOrder.id == order.id) & (ProductionOrder.status == "planned")
    ).execute()
    return order_dict(get_order(number))


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
    summary="List orders",
    responses={200: ("Orders", None)},
)
def list_orders():
    rows = ProductionOrder.select().order_by(ProductionOrder.due, ProductionOrder.number)
    return {"orders": [order_dict(o) for o in rows.limit(1000)]}
