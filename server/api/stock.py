"""GET /api/stock: stock by stage, product x stage and station, from the counters.

`by_stage` lists every stage, zeros included; `by_product` and `by_station` list the
non-zero combinations only (a missing one is zero), `by_station` only stages still in the
plant: docs/api.md."""

from __future__ import annotations

import peewee as pw
import pydantic

from server.api import op
from server.api.schemas import QueryInt, Strict, num
from server.core import locations, scrapreport
from server.core.stages import GONE, Stage
from server.models import Product, Station, StockCounter


class StockQuery(Strict):
    site: str | None = pydantic.Field(
        default=None, max_length=32, description="a site's code: `places` covers that site"
    )
    location: str | None = pydantic.Field(
        default=None,
        max_length=32,
        description="a location's code: `places` covers it and every location below it",
    )
    depth: QueryInt | None = pydantic.Field(
        default=None,
        ge=0,
        le=100,
        description="`places.locations` lists this many levels below the scope's top "
        "(0: the top only); absent: every level. Totals always count the whole subtree",
    )


def _places(query: StockQuery) -> dict:
    """Stock on hand by place: the location tree with counts and quantities per unit
    (never added across units), and per product x unit x stage (server/core/locations.py)."""
    data = locations.stock_by_place(query.site, query.location, query.depth)
    for loc in data["locations"]:
        loc["qty"] = {unit: num(q) for unit, q in loc["qty"].items()}
    if data["unplaced"] is not None:
        data["unplaced"]["qty"] = {u: num(q) for u, q in data["unplaced"]["qty"].items()}
    for row in data["products"]:
        row["qty"] = num(row["qty"])
    return data


def _by_unit(*keys) -> dict[tuple, dict[str, float | int]]:
    """{keys: {unit: qty}} over the counters with items: the quantity of each unit apart
    (kilograms and pieces are never added)."""
    query = (
        StockCounter.select(*keys, Product.unit, pw.fn.SUM(StockCounter.qty))
        .join(Product)
        .switch(StockCounter)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(StockCounter.station_id == Station.id))
        .where(StockCounter.count != 0)
        .group_by(*keys, Product.unit)
        .order_by(*keys, Product.unit)
        .tuples()
    )
    out: dict[tuple, dict] = {}
    for *key, unit, qty in query:
        out.setdefault(tuple(key), {})[unit] = num(qty)
    return out


@op(
    "GET",
    "/stock",
    role="operator",
    tag="stock",
    summary="Counts and quantities by stage, product x stage, station and place "
    "(site, location and its subtree)",
    query=StockQuery,
    responses={200: ("Stock", None), 404: ("unknown_site, unknown_location", None)},
)
def get_stock(query: StockQuery):
    by_stage = (
        StockCounter.select(
            StockCounter.stage,
            pw.fn.SUM(StockCounter.count).alias("n"),
            pw.fn.SUM(StockCounter.qty).alias("q"),
        )
        .group_by(StockCounter.stage)
        .tuples()
    )
    by_product = (
        StockCounter.select(
            Product.sku,
            Product.name,
            StockCounter.stage,
            pw.fn.SUM(StockCounter.count).alias("n"),
            pw.fn.SUM(StockCounter.qty).alias("q"),
        )
        .join(Product)
        .group_by(Product.sku, Product.name, StockCounter.stage)
        .order_by(Product.sku, StockCounter.stage)
        .tuples()
    )
    by_station = (
        StockCounter.select(
            Station.code,
            StockCounter.stage,
            pw.fn.SUM(StockCounter.count).alias("n"),
            pw.fn.SUM(StockCounter.qty).alias("q"),
        )
        .join(Station, on=(StockCounter.station_id == Station.id))
        # a shipped, consumed or scrapped item is at no station (its station column keeps
        # the last one it passed): stations hold only what is in the plant
        .where(StockCounter.stage.not_in([s.value for s in GONE]))
        .group_by(Station.code, StockCounter.stage)
        .order_by(Station.code, StockCounter.stage)
        .tuples()
    )
    totals = {stage: (int(n or 0), q or 0) for stage, n, q in by_stage}
    stage_units = _by_unit(StockCounter.stage)
    station_units = _by_unit(Station.code, StockCounter.stage)
    return {
        # every stage, in the table's order, zeros included: the same shape every time
        "by_stage": [
            {
                "stage": s.value,
                "count": n,
                "qty": num(q),
                "qty_by_unit": stage_units.get((s.value,), {}),
            }
            for s in Stage
            for n, q in [totals.get(s.value, (0, 0))]
        ],
        "by_product": [
            {"sku": sku, "name": name, "stage": s, "count": int(n), "qty": num(q)}
            for sku, name, s, n, q in by_product
            if n
        ],
        "by_station": [
            {
                "station": code,
                "stage": s,
                "count": int(n),
                "qty": num(q),
                "qty_by_unit": station_units.get((code, s), {}),
            }
            for code, s, n, q in by_station
            if n
        ],
        "places": _places(query),
        # held stock, shown apart (it is counted in the figures above as well)
        "held": [
            {"stage": s, "count": n, "qty": num(q)}
            for s, (n, q) in sorted(scrapreport.held_by_stage().items())
        ],
    }
