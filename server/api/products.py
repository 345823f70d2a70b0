"""Products, their bills of materials and routings."""

from __future__ import annotations

from typing import Literal

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import (
    Answer,
    Code,
    Name,
    NonNegQty,
    PositiveQty,
    Strict,
    num,
    whole_number,
)
from server.core import stock
from server.core.errors import Conflict, Invalid, NotFound
from server.models import BomLine, Product, RoutingStep, Station


class ProductIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "BRACKET-2",
                    "name": "Bracket, steel",
                    "kind": "component",
                    "tracking": "unit",
                    "unit": "ea",
                }
            ]
        }
    )

    sku: Code
    name: Name
    kind: Literal["raw", "component", "finished", "supplies"]
    tracking: Literal["unit", "lot"] = "unit"
    gtin: str | None = pydantic.Field(default=None, pattern=r"^[0-9]{8}$|^[0-9]{12,14}$")
    unit: str = pydantic.Field(default="ea", min_length=1, max_length=16)
    reorder_point: NonNegQty | None = None
    #: stock expiring within this many days raises the near_expiry flag
    near_expiry_days: whole_number(0, 3650) | None = None  # type: ignore[valid-type]

    @pydantic.field_validator("gtin")
    @classmethod
    def _gtin(cls, v: str | None) -> str | None:
        return checked_gtin(v)


def checked_gtin(v: str | None) -> str | None:
    if v is None:
        return None
    gtin = v.zfill(14)
    digits = [int(c) for c in gtin[:-1]]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    if (10 - total % 10) % 10 != int(gtin[-1]):
        raise ValueError("GTIN check digit is wrong")
    return gtin


class ProductEdit(Strict):
    """The fields a product's existing items do not depend on (kind and tracking stay);
    `active: false` deactivates it: no new items, labels or orders; its stock still moves."""

    name: Name | None = None
    gtin: str | None = pydantic.Field(default=None, pattern=r"^[0-9]{8}$|^[0-9]{12,14}$")
    unit: str | None = pydantic.Field(default=None, min_length=1, max_length=16)
    reorder_point: NonNegQty | None = None
    near_expiry_days: whole_number(0, 3650) | None = None  # type: ignore[valid-type]
    active: bool | None = None

    @pydantic.field_validator("gtin")
    @classmethod
    def _gtin(cls, v: str | None) -> str | None:
        return checked_gtin(v)


class ProductOut(Answer):
    sku: str
    name: str
    kind: str
    tracking: str
    gtin: str | None
    unit: str
    reorder_point: float | None
    near_expiry_days: int | None
    active: bool


class BomLineIn(Strict):
    component: Code
    qty: PositiveQty


class BomIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {"lines": [{"component": "STEEL", "qty": 2}, {"component": "BOLT", "qty": 4}]}
            ]
        }
    )

    lines: list[BomLineIn] = pydantic.Field(max_length=500)


class RoutingIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"stations": ["A1", "A2", "QA"]}]}
    )

    stations: list[Code] = pydantic.Field(max_length=100, json_schema_extra={"uniqueItems": True})


def product_dict(p: Product) -> dict:
    return {
        "sku": p.sku,
        "name": p.name,
        "kind": p.kind,
        "tracking": p.tracking,
        "gtin": p.gtin,
        "unit": p.unit,
        "reorder_point": num(p.reorder_point),
        "near_expiry_days": p.near_expiry_days,
        "active": p.active,
    }


def get_product(sku: str) -> Product:
    product = Product.get_or_none(Product.sku == sku)
    if product is None:
        raise NotFound("not_found", f"No product {sku}")
    return product


def _db():
    return current_app.extensions["koordinator.db"]


@op(
    "POST",
    "/products",
    role="admin",
    tag="products",
    summary="Create a product",
    body=ProductIn,
    responses={201: ("Created", ProductOut), 409: ("SKU or GTIN exists", None)},
)
def create_product(body: ProductIn):
    try:
        with _db().atomic():
            product = Product.create(**body.model_dump())
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"A product with SKU {body.sku} or this GTIN exists") from exc
    return product_dict(product), 201


@op(
    "GET",
    "/products",
    role="operator",
    tag="products",
    summary="List products",
    responses={200: ("Products", None)},
)
def list_products():
    return {"products": [product_dict(p) for p in Product.select().order_by(Product.sku)]}


@op(
    "GET",
    "/products/<sku>",
    role="operator",
    tag="products",
    summary="A product with its BOM and routing",
    responses={200: ("Product", ProductOut)},
)
def show_product(sku: str):
    product = get_product(sku)
    out = product_dict(product)
    out["bom"] = [
        {"component": line.component.sku, "qty": num(line.qty)}
        for line in BomLine.select(BomLine, Product)
        .join(Product, on=(BomLine.component == Product.id))
        .where(BomLine.product == product.id)
    ]
    out["routing"] = [
        s.station.code
        for s in RoutingStep.select(RoutingStep, Station)
        .join(Station)
        .where(RoutingStep.product == product.id)
        .order_by(RoutingStep.seq)
    ]
    return out


@op(
    "PATCH",
    "/products/<sku>",
    role="admin",
    tag="products",
    summary="Edit a product (name, GTIN, unit, reorder point, near-expiry days) or (de)activate it",
    body=ProductEdit,
    responses={200: ("The product as changed", ProductOut), 409: ("GTIN exists", None)},
)
def edit_product(sku: str, body: ProductEdit):
    product = get_product(sku)
    changes = body.changes("name", "unit", "active")
    if changes:
        try:
            with _db().atomic():
                if "unit" in changes:  # `product` may be stale: unit_change locks, reads
                    with stock.unit_change(product.id):  # its stock by place, per unit
                        Product.update(**changes).where(Product.id == product.id).execute()
                else:
                    Product.update(**changes).where(Product.id == product.id).execute()
        except pw.IntegrityError as exc:
            raise Conflict("exists", "Another product has this GTIN") from exc
    return product_dict(get_product(sku))


def _reaches(start: int, target: int) -> bool:
    """Whether `target` is in the multi-level BOM of product `start`."""
    todo, seen = [start], set()
    while todo:
        pid = todo.pop()
        if pid == target:
            return True
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(
            c for (c,) in BomLine.select(BomLine.component).where(BomLine.product == pid).tuples()
        )
    return False


@op(
    "PUT",
    "/products/<sku>/bom",
    role="admin",
    tag="products",
    summary="Replace the bill of materials",
    body=BomIn,
    responses={200: ("The new BOM", None)},
)
def put_bom(sku: str, body: BomIn):
    product = get_product(sku)
    seen = set()
    rows = []
    for i, line in enumerate(body.lines):
        comp = Product.get_or_none(Product.sku == line.component)
        if comp is None:
            raise NotFound("unknown_product", f"lines[{i}]: no product {line.component}")
        if comp.id == product.id or comp.id in seen:
            raise Invalid(
                "bad_payload", f"lines[{i}]: {line.component} repeated or the product itself"
            )
        if comp.kind not in ("raw", "component", "supplies"):
            raise Invalid("bad_payload", f"lines[{i}]: {line.component} is {comp.kind}")
        if _reaches(comp.id, product.id):
            raise Invalid(
                "bad_payload", f"lines[{i}]: {line.component} is made from {sku}: a BOM cycle"
            )
        seen.add(comp.id)
        rows.append({"product": product.id, "component": comp.id, "qty": line.qty})
    with _db().atomic():
        BomLine.delete().where(BomLine.product == product.id).execute()
        if rows:
            BomLine.insert_many(rows).execute()
    return {
        "sku": sku,
        "lines": [{"component": ln.component, "qty": num(ln.qty)} for ln in body.lines],
    }


@op(
    "PUT",
    "/products/<sku>/routing",
    role="admin",
    tag="products",
    summary="Replace the routing (ordered stations)",
    body=RoutingIn,
    responses={200: ("The new routing", None)},
)
def put_routing(sku: str, body: RoutingIn):
    product = get_product(sku)
    rows = []
    for seq, code in enumerate(body.stations, start=1):
        station = Station.get_or_none(Station.code == code)
        if station is None:
            raise NotFound("unknown_station", f"stations[{seq - 1}]: no station {code}")
        rows.append({"product": product.id, "seq": seq, "station": station.id})
    if len({r["station"] for r in rows}) != len(rows):
        raise Invalid("bad_payload", "a station appears twice in the routing")
    with _db().atomic():
        # a station kept on the routing keeps its standard and setup times
        times = {
            s.station_id: (s.std_minutes, s.setup_minutes)
            for s in RoutingStep.select().where(RoutingStep.product == product.id)
        }
        for row in rows:
            row["std_minutes"], row["setup_minutes"] = times.get(row["station"], (None, None))
        RoutingStep.delete().where(RoutingStep.product == product.id).execute()
        if rows:
            RoutingStep.insert_many(rows).execute()
    return {"sku": sku, "stations": list(body.stations)}


class StepTimesIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"std_minutes": 2.5, "setup_minutes": 20}]}
    )

    std_minutes: NonNegQty | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="standard run time of one unit at this step, minutes"
    )
    setup_minutes: NonNegQty | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="setup time once per order at this step, minutes"
    )


@op(
    "PUT",
    "/products/<sku>/routing/<station>",
    role="admin",
    tag="products",
    summary="Set a routing step's standard time and setup time (null: not set)",
    body=StepTimesIn,
    responses={200: ("The step", None), 404: ("not_found", None)},
)
def put_step_times(sku: str, station: str, body: StepTimesIn):
    product = get_product(sku)
    step = (
        RoutingStep.select()
        .join(Station)
        .where((RoutingStep.product == product.id) & (Station.code == station))
        .first()
    )
    if step is None:
        raise NotFound("not_found", f"{station} is not on the routing of {sku}")
    RoutingStep.update(std_minutes=body.std_minutes, setup_minutes=body.setup_minutes).where(
        RoutingStep.id == step.id
    ).execute()
    return {
        "sku": sku,
        "station": station,
        "seq": step.seq,
        "std_minutes": num(body.std_minutes),
        "setup_minutes": num(body.setup_minutes),
    }
