"""Flags for supervisors, computed from orders, the ledger and the stock counters.

| flag | on | raised when | cleared by |
|---|---|---|---|
| `late` | open order | today is past its due date | completing it (done) or closing it |
| `behind` | released or in-progress order | completed < pro-rata plan | complete scans |
| `short` | open order | remaining need by BOM > what stock can still give it | receive scans |
| `reorder` | product with a reorder point | on-hand stock < reorder point | receive scans |
| `dwell` | WIP item (and its order) | at a station longer than its `dwell_limit_minutes` | a move |

Pro-rata plan: an order of `qty` over `span = due - start + 1` days expects
`qty * elapsed / span` completed by the end of today, `elapsed = today - start + 1` clamped to
`0..span`. So on its first day an order expects its first day's share.

Short: stock is shared. Each material's available stock (items in stage raw or component)
is given to open orders (planned, released, in progress) earliest due first; an order is
short of a material when its remaining need (`BOM qty x order qty - issued`) exceeds what is
left for it. The flag names each material and the missing quantity.

Everything is computed in a fixed number of queries, whatever the number of orders:
`compute()` is what `GET /api/flags`, the order pages and the schedule view call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import peewee as pw

from server.core.stages import Stage
from server.models import (
    BomLine,
    Item,
    OrderMaterial,
    Product,
    ProductionOrder,
    Station,
    StockCounter,
)

OPEN = ("planned", "released", "in_progress")
ACTIVE = ("released", "in_progress")
STOCK_STAGES = (Stage.RAW.value, Stage.COMPONENT.value)
ON_HAND_STAGES = (Stage.RAW.value, Stage.COMPONENT.value, Stage.SUPPLIES.value)
#: dwelling items listed per station (the count is always complete)
DWELL_LIST_LIMIT = 100
Q = Decimal("0.0001")


def txt(value: Decimal) -> str:
    """A quantity for messages and JSON strings: no trailing zeros, no exponent."""
    d = Decimal(value).quantize(Q).normalize()
    return f"{d:f}"


def expected_by(order: ProductionOrder, today: dt.date) -> Decimal:
    """The pro-rata planned quantity of `order` through the end of `today`."""
    span = max((order.due - order.start).days, 0) + 1
    elapsed = min(max((today - order.start).days + 1, 0), span)
    return (Decimal(order.qty) * elapsed / span).quantize(Q)


@dataclasses.dataclass
class Flags:
    """The flags of one moment: per order id, per product, and dwelling items."""

    today: dt.date
    now: dt.datetime
    orders: dict[int, list[dict]]
    order_info: dict[int, ProductionOrder]
    products: list[dict]
    dwell: list[dict]

    def for_order(self, order_id: int) -> list[dict]:
        return self.orders.get(order_id, [])

    def flat(self) -> list[dict]:
        """Every flag as one list, each naming what it is on."""
        out: list[dict] = []
        for oid, flags in self.orders.items():
            o = self.order_info[oid]
            for f in flags:
                out.append({"order": o.number, "product": o.product.sku, **f})
        out.extend(self.products)
        for station in self.dwell:
            out.append({"flag": "dwell", **station})
        return out

    def counts(self) -> dict[str, int]:
        counts = {"late": 0, "behind": 0, "short": 0, "reorder": len(self.products), "dwell": 0}
        for flags in self.orders.values():
            for f in flags:
                if f["flag"] != "dwell":
                    counts[f["flag"]] += 1
        counts["dwell"] = sum(s["count"] for s in self.dwell)
        return counts


def compute(now: dt.datetime, *, today: dt.date | None = None) -> Flags:
    """All current flags. `now` is naive UTC; `today` defaults to its date."""
    today = today or now.date()
    orders = list(
        ProductionOrder.select(ProductionOrder, Product)
        .join(Product)
        .where(ProductionOrder.status.in_(OPEN))
        .order_by(ProductionOrder.due, ProductionOrder.start, ProductionOrder.id)
    )
    by_order: dict[int, list[dict]] = defaultdict(list)
    for o in orders:
        by_order[o.id].extend(_time_flags(o, today))
    for oid, short in _shortages(orders).items():
        by_order[oid].append(short)
    dwell, dwell_by_order = _dwell(now)
    info = {o.id: o for o in orders}
    for oid, items in dwell_by_order.items():
        if oid in info:
            oldest = max(items, key=lambda i: i["minutes"])
            by_order[oid].append(
                {
                    "flag": "dwell",
                    "count": len(items),
                    "message": f"{len(items)} unit(s) dwelling, longest {oldest['code']} "
                    f"{oldest['minutes']} min at {oldest['station']}",
                    "items": items[:DWELL_LIST_LIMIT],
                }
            )
    return Flags(
        today=today,
        now=now,
        orders={oid: f for oid, f in by_order.items() if f},
        order_info=info,
        products=_reorder(),
        dwell=dwell,
    )


def _time_flags(order: ProductionOrder, today: dt.date) -> list[dict]:
    flags = []
    if today > order.due:
        days = (today - order.due).days
        flags.append(
            {
                "flag": "late",
                "message": f"due {order.due.isoformat()}, {days} day(s) ago",
                "days": days,
            }
        )
    if order.status in ACTIVE:
        completed = Decimal(order.completed)
        expected = expected_by(order, today)
        if completed < expected:
            flags.append(
                {
                    "flag": "behind",
                    "message": f"completed {txt(completed)} of {txt(expected)} planned by today",
                    "expected": txt(expected),
                    "completed": txt(completed),
                    "missing": txt(expected - completed),
                }
            )
    return flags


def _shortages(orders: list[ProductionOrder]) -> dict[int, dict]:
    """Short flags per order id; `orders` sorted by priority (earliest due first)."""
    if not orders:
        return {}
    product_ids = {o.product_id for o in orders}
    bom: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    components: set[int] = set()
    for product_id, component_id, qty in (
        BomLine.select(BomLine.product, BomLine.component, BomLine.qty)
        .where(BomLine.product.in_(list(product_ids)))
        .order_by(BomLine.id)
        .tuples()
    ):
        bom[product_id].append((component_id, Decimal(qty)))
        components.add(component_id)
    if not components:
        return {}
    issued: dict[tuple[int, int], Decimal] = {
        (oid, pid): Decimal(q)
        for oid, pid, q in OrderMaterial.select(
            OrderMaterial.order, OrderMaterial.product, OrderMaterial.issued
        )
        .join(ProductionOrder)
        .where(ProductionOrder.status.in_(OPEN))
        .tuples()
    }
    pool = _stock(components, STOCK_STAGES)
    on_hand = dict(pool)
    names = {
        pid: (sku, unit)
        for pid, sku, unit in Product.select(Product.id, Product.sku, Product.unit)
        .where(Product.id.in_(list(components)))
        .tuples()
    }
    out: dict[int, dict] = {}
    for o in orders:
        short = []
        for component_id, per_unit in bom.get(o.product_id, ()):
            remaining = per_unit * Decimal(o.qty) - issued.get((o.id, component_id), Decimal(0))
            if remaining <= 0:
                continue
            left = pool.get(component_id, Decimal(0))
            take = min(left, remaining)
            pool[component_id] = left - take
            if remaining > take:
                short.append(
                    {
                        "material": names[component_id][0],
                        "unit": names[component_id][1],
                        "needed": txt(remaining),
                        "available": txt(take),
                        "on_hand": txt(on_hand.get(component_id, Decimal(0))),
                        "missing": txt(remaining - take),
                    }
                )
        if short:
            names = ", ".join(f"{m['material']} {m['missing']} {m['unit']}" for m in short)
            out[o.id] = {"flag": "short", "message": f"short: {names}", "materials": short}
    return out


def _stock(product_ids, stages) -> dict[int, Decimal]:
    query = (
        StockCounter.select(StockCounter.product, pw.fn.SUM(StockCounter.qty))
        .where(StockCounter.stage.in_(list(stages)))
        .group_by(StockCounter.product)
    )
    if product_ids is not None:
        query = query.where(StockCounter.product.in_(list(product_ids)))
    return {pid: Decimal(q or 0) for pid, q in query.tuples()}


def _reorder() -> list[dict]:
    products = list(
        Product.select(Product.id, Product.sku, Product.name, Product.unit, Product.reorder_point)
        .where(Product.reorder_point.is_null(False))
        .order_by(Product.sku)
    )
    if not products:
        return []
    stock = _stock([p.id for p in products], ON_HAND_STAGES)
    out = []
    for p in products:
        have, point = stock.get(p.id, Decimal(0)), Decimal(p.reorder_point)
        if have < point:
            out.append(
                {
                    "flag": "reorder",
                    "product": p.sku,
                    "on_hand": txt(have),
                    "reorder_point": txt(point),
                    "message": f"{p.name}: {txt(have)} {p.unit} on hand, "
                    f"reorder point {txt(point)}",
                }
            )
    return out


def _dwell(now: dt.datetime) -> tuple[list[dict], dict[int, list[dict]]]:
    """Stations with WIP past their dwell limit, and the dwelling items per order id."""
    stations = list(
        Station.select(Station.id, Station.code, Station.dwell_limit_minutes)
        .where(Station.dwell_limit_minutes.is_null(False))
        .order_by(Station.code)
    )
    out, by_order = [], defaultdict(list)
    for st in stations:
        cutoff = now - dt.timedelta(minutes=st.dwell_limit_minutes)
        where = (Item.station == st.id) & (Item.stage == Stage.WIP.value) & (Item.stage_at < cutoff)
        count = Item.select().where(where).count()
        if not count:
            continue
        rows = (
            Item.select(Item.code, Item.stage_at, Item.order, Product.sku, ProductionOrder.number)
            .join(Product)
            .switch(Item)
            .join(ProductionOrder, pw.JOIN.LEFT_OUTER)
            .where(where)
            .order_by(Item.stage_at, Item.id)
            .limit(DWELL_LIST_LIMIT)
            .tuples()
        )
        items = []
        for code, since, order_id, sku, number in rows:
            item = {
                "code": code,
                "product": sku,
                "order": number,
                "station": st.code,
                "since": since.isoformat() + "Z",
                "minutes": int((now - since).total_seconds() // 60),
            }
            items.append(item)
            if order_id:
                by_order[order_id].append(item)
        out.append(
            {
                "station": st.code,
                "limit_minutes": st.dwell_limit_minutes,
                "count": count,
                "message": f"{count} item(s) at {st.code} longer than {st.dwell_limit_minutes} min",
                "items": items,
            }
        )
    return out, by_order
