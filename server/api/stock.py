"""GET /api/stock: stock by stage, product x stage and station, from the counters.

`by_stage` lists every stage, zeros included; `by_product` and `by_station` list the
non-zero combinations only (a missing one is zero), `by_station` only stages still in the
plant: docs/api.md."""

from __future__ import annotations

import peewee as pw

from server.api import op
from server.api.schemas import num
from server.core import scrapreport
from server.core.stages import GONE, Stage
from server.models import Product, Station, StockCounter


@op(
    "GET",
    "/stock",
    role="operator",
    tag="stock",
    summary="Counts and quantities by stage, product x stage and station",
    responses={200: ("Stock", None)},
)
def get_stock():
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
    return {
        # every stage, in the table's order, zeros included: the same shape every time
        "by_stage": [
            {"stage": s.value, "count": n, "qty": num(q)}
            for s in Stage
            for n, q in [totals.get(s.value, (0, 0))]
        ],
        "by_product": [
            {"sku": sku, "name": name, "stage": s, "count": int(n), "qty": num(q)}
            for sku, name, s, n, q in by_product
            if n
        ],
        "by_station": [
            {"station": code, "stage": s, "count": int(n), "qty": num(q)}
            for code, s, n, q in by_station
            if n
        ],
        # held stock, shown apart (it is counted in the figures above as well)
        "held": [
            {"stage": s, "count": n, "qty": num(q)}
            for s, (n, q) in sorted(scrapreport.held_by_stage().items())
        ],
    }
