"""GET /api/stock: stock by stage, product x stage and station, from the counters."""

from __future__ import annotations

import peewee as pw

from server.api import op
from server.api.schemas import num
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
        .group_by(Station.code, StockCounter.stage)
        .order_by(Station.code, StockCounter.stage)
        .tuples()
    )
    return {
        "by_stage": [{"stage": s, "count": int(n), "qty": num(q)} for s, n, q in by_stage if n],
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
    }
