"""Flags for supervisors, computed from orders, the ledger and the stock counters.

| flag | on | raised when | cleared by |
|---|---|---|---|
| `late` | open order | today is past its due date | completing it (done) or closing it |
| `behind` | released or in-progress order | completed < pro-rata plan | complete scans |
| `short` | open order | remaining need by BOM > what stock can still give it | receive scans |
| `reorder` | product (or site, below) with a reorder point | on hand < reorder point | receive |
| `dwell` | WIP item (and its order) | at a station longer than its `dwell_limit_minutes` | a move |
| `near_expiry` | product with expiry days | stock expires within them (or has) | use, ship, scrap |

Pro-rata plan: an order of `qty` over `span = due - start + 1` days expects
`qty * elapsed / span` completed by the end of today, `elapsed = today - start + 1` clamped to
`0..span`. So on its first day an order expects its first day's share, rounded down to
whole units for a unit-tracked product (5 over 7 days expects 0 on day 1, not 0.71).

Held stock (an item on hold, `held`) is not available: the stock counters count it, so
`short` and `reorder` take the held items' quantity off (found through the partial index
`item_held`, which only held rows enter); released, it counts again.

Short: stock is shared. Each material's available stock (items in stage raw or component,
not held) is given to open orders (planned, released, in progress) earliest due first; an order is
short of a material when its remaining need (`BOM qty x order qty - issued`) exceeds what is
left for it. The flag names each material and the missing quantity.

Reorder with sites: the product's one reorder point applies to **each site's own stock**
when the product is stocked at two or more sites (it has on-hand site counters at two or
more sites, a site's stock being what lies at its places, as on the stock page: stock
received or moved there, even if used up since, so a site that ran out is still checked;
`recount-stock` keeps such a counter at zero); the flag then names the site (`site`, key
`reorder:product:<sku>@<site>`), one flag per site below the point. A product stocked at
one site or none is checked against the plant's stock as before (no `site`: the
plant-wide flag; `stocked_at` names the one site that stocks it, which alerts route by).
`reorder_levels()` gives the levels the flags and the supplies page both read.

Near expiry: "in stock" is raw, component, supplies and finished; an item expiring on
`today + near_expiry_days` is near (0 days: only what expires today or has expired). The
flag lists the lots, earliest expiry first, and how many items have expired already.

Everything is computed in a fixed number of queries, whatever the number of orders:
`compute()` is what `GET /api/flags`, the order pages and the schedule view call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import peewee as pw

from server.core import plantday
from server.core.stages import Stage, Tracking
from server.models import (
    BomLine,
    Item,
    Location,
    OrderMaterial,
    Product,
    ProductionOrder,
    Site,
    SiteCounter,
    Station,
    StockCounter,
)

OPEN = ("planned", "released", "in_progress")
ACTIVE = ("released", "in_progress")
STOCK_STAGES = (Stage.RAW.value, Stage.COMPONENT.value)
ON_HAND_STAGES = (Stage.RAW.value, Stage.COMPONENT.value, Stage.SUPPLIES.value)
#: where an expiring item is still stock to be used or shipped
EXPIRY_STAGES = (*ON_HAND_STAGES, Stage.FINISHED.value)
#: dwelling items listed per station (the count is always complete)
DWELL_LIST_LIMIT = 100
#: lots listed per near-expiry flag (the counts are always complete)
EXPIRY_LOT_LIMIT = 20
Q = Decimal("0.0001")


def txt(value: Decimal) -> str:
    """A quantity for messages and JSON strings: no trailing zeros, no exponent."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return str(int(d))
    return f"{d.quantize(Q).normalize():f}"


def expected_by(order: ProductionOrder, today: dt.date) -> Decimal:
    """The pro-rata planned quantity of `order` through the end of `today`.

    Whole units, rounded down, for a unit-tracked product: nobody completes 0.71 of a
    unit, so 5 over 7 days expects 0 on day 1 and 1 on day 2 (exact integer division,
    no float tolerance needed: 3 over 3 days expects exactly 1 on day 1). Lot-tracked
    products are made in any quantity and expect their share to 4 places."""
    span = max((order.due - order.start).days, 0) + 1
    elapsed = min(max((today - order.start).days + 1, 0), span)
    if order.product.tracking == Tracking.UNIT:
        return (Decimal(order.qty) * elapsed // span).quantize(Q)
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
        counts = {"late": 0, "behind": 0, "short": 0, "reorder": 0, "dwell": 0, "near_expiry": 0}
        for f in self.products:
            counts[f["flag"]] += 1
        for flags in self.orders.values():
            for f in flags:
                if f["flag"] != "dwell":
                    counts[f["flag"]] += 1
        counts["dwell"] = sum(s["count"] for s in self.dwell)
        return counts


def compute(
    now: dt.datetime,
    *,
    today: dt.date | None = None,
    only: ProductionOrder | None = None,
    tz: str | None = None,
) -> Flags:
    """All current flags. `now` is naive UTC; `today` defaults to its date in the plant's
    time zone `tz` (an IANA name, None for UTC): late and behind turn at local midnight.

    With `only`, the flags of that one order (the product flags stay complete).
    """
    today = today or plantday.local_date(now, tz)
    query = (
        ProductionOrder.select(ProductionOrder, Product)
        .join(Product)
        .where(ProductionOrder.status.in_(OPEN))
        .order_by(ProductionOrder.due, ProductionOrder.start, ProductionOrder.id)
    )
    if only is not None:
        query = query.where(ProductionOrder.id == only.id)
    orders = list(query)
    by_order: dict[int, list[dict]] = defaultdict(list)
    for o in orders:
        by_order[o.id].extend(_time_flags(o, today))
    if orders:
        for oid, short in _shortages(orders, only).items():
            if oid in by_order:
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
        products=_reorder() + near_expiry(today),
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


def _shortages(orders: list[ProductionOrder], only: ProductionOrder | None = None):
    """Short flags per order id, by the earliest-due-first share of each material's stock.

    One SQL statement does the sharing: per material, the running total of remaining need
    over open orders in (due, start, id) order, against the material's stock; only the
    rows where the running total passes the stock come back. With `only`, just the
    materials of that order's BOM are looked at.
    """
    if not orders:
        return {}
    db = ProductionOrder._meta.database
    t = {
        m: m._meta.table_name for m in (ProductionOrder, BomLine, OrderMaterial, StockCounter, Item)
    }
    p = db.param
    only_sql, params = "", [*OPEN]
    if only is not None:
        only_sql = (
            f" AND b.component_id IN (SELECT component_id FROM {t[BomLine]} WHERE product_id = {p})"
        )
        params.append(only.product_id)
    params.extend(STOCK_STAGES)
    params.extend(STOCK_STAGES)
    sql = f"""
        WITH need AS (
            SELECT o.id AS order_id, o.due, o.start, b.id AS line_id,
                   b.component_id AS comp,
                   b.qty * o.qty - COALESCE(m.issued, 0) AS remaining
            FROM {t[ProductionOrder]} o
            JOIN {t[BomLine]} b ON b.product_id = o.product_id
            LEFT JOIN {t[OrderMaterial]} m
                   ON m.order_id = o.id AND m.product_id = b.component_id
            WHERE o.status IN ({p}, {p}, {p}){only_sql}
        ), pos AS (
            SELECT order_id, line_id, comp, remaining,
                   SUM(remaining) OVER (
                       PARTITION BY comp ORDER BY due, start, order_id
                       ROWS UNBOUNDED PRECEDING
                   ) AS cum
            FROM need WHERE remaining > 0
        ), stock AS (
            SELECT product_id, SUM(qty) AS qty FROM (
                SELECT product_id, qty FROM {t[StockCounter]} WHERE stage IN ({p}, {p})
                UNION ALL
                SELECT product_id, -qty FROM {t[Item]} WHERE held AND stage IN ({p}, {p})
            ) AS counted GROUP BY product_id
        )
        SELECT pos.order_id, pos.comp, pos.remaining, pos.cum, COALESCE(stock.qty, 0)
        FROM pos LEFT JOIN stock ON stock.product_id = pos.comp
        WHERE ROUND(pos.cum - COALESCE(stock.qty, 0), 4) > 0
        ORDER BY pos.order_id, pos.line_id
    """
    rows = db.execute_sql(sql, params).fetchall()
    if not rows:
        return {}
    names = {
        pid: (sku, unit)
        for pid, sku, unit in Product.select(Product.id, Product.sku, Product.unit)
        .where(Product.id.in_(list({r[1] for r in rows})))
        .tuples()
    }
    by_order: dict[int, list[dict]] = defaultdict(list)
    for order_id, comp, remaining, cum, stock in rows:
        remaining, cum, stock = _dec(remaining), _dec(cum), _dec(stock)
        missing = min(remaining, cum - stock)
        sku, unit = names[comp]
        by_order[order_id].append(
            {
                "material": sku,
                "unit": unit,
                "needed": txt(remaining),
                "available": txt(remaining - missing),
                "on_hand": txt(stock),
                "missing": txt(missing),
            }
        )
    out: dict[int, dict] = {}
    for order_id, short in by_order.items():
        listing = ", ".join(f"{m['material']} {m['missing']} {m['unit']}" for m in short)
        out[order_id] = {"flag": "short", "message": f"short: {listing}", "materials": short}
    return out


def _dec(value) -> Decimal:
    """A number from SQL (SQLite may answer float) as a Decimal of 4 places."""
    return Decimal(str(value)).quantize(Q) if not isinstance(value, Decimal) else value.quantize(Q)


def _stock(product_ids, stages) -> dict[int, Decimal]:
    query = (
        StockCounter.select(StockCounter.product, pw.fn.SUM(StockCounter.qty))
        .where(StockCounter.stage.in_(list(stages)))
        .group_by(StockCounter.product)
    )
    held = (
        Item.select(Item.product, pw.fn.SUM(Item.qty))
        # the partial index item_held serves only a WHERE that states its condition
        .where(Item.held & Item.stage.in_(list(stages)))
        .group_by(Item.product)
    )
    if product_ids is not None:
        query = query.where(StockCounter.product.in_(list(product_ids)))
        held = held.where(Item.product.in_(list(product_ids)))
    out = {pid: Decimal(q or 0) for pid, q in query.tuples()}
    for pid, q in held.tuples():
        out[pid] = out.get(pid, Decimal(0)) - _dec(q or 0)
    return out


@dataclasses.dataclass(frozen=True)
class ReorderLevel:
    """A product's on-hand stock against its reorder point: of one site (`site`, its code)
    when the product is stocked at two or more sites, else of the plant (`site` None;
    `stocked_at`, the code of the one site that stocks it, if one does)."""

    product: Product
    site_id: int | None
    site: str | None
    on_hand: Decimal
    point: Decimal
    stocked_at_id: int | None = None
    stocked_at: str | None = None

    @property
    def below(self) -> bool:
        return self.on_hand < self.point

    @property
    def about(self) -> int | None:
        """The site the level concerns (its own, else the one that stocks the product),
        or None: every site's."""
        return self.site_id if self.site_id is not None else self.stocked_at_id


def _site_stock(product_ids, stages) -> dict[int, dict[int, Decimal]]:
    """product id -> {site id: on-hand quantity less held} from the site counters (the
    stock page's "a site's stock": items located at the site's places; a counter at 0
    included: the site stocked the product and ran out, and `recount-stock` keeps it),
    held items placed by their location's site; two statements."""
    counters = (
        SiteCounter.select(SiteCounter.product_id, SiteCounter.site_id, pw.fn.SUM(SiteCounter.qty))
        .where(SiteCounter.stage.in_(list(stages)) & SiteCounter.product_id.in_(product_ids))
        .group_by(SiteCounter.product_id, SiteCounter.site_id)
    )
    held = (
        Item.select(Item.product, Location.site_id, pw.fn.SUM(Item.qty))
        .join(Location, on=(Item.location_id == Location.id))
        # the partial index item_held serves only a WHERE that states its condition
        .where(Item.held & Item.stage.in_(list(stages)) & Item.product.in_(product_ids))
        .group_by(Item.product, Location.site_id)
    )
    out: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for pid, site_id, q in counters.tuples():
        out[pid][int(site_id)] = _dec(q or 0)
    for pid, site_id, q in held.tuples():
        if pid in out and int(site_id) in out[pid]:
            out[pid][int(site_id)] -= _dec(q or 0)
    return out


def reorder_levels(where: pw.Expression | None = None) -> list[ReorderLevel]:
    """The reorder levels of the products with a reorder point (`where` narrows the
    products), by product, then site code: see the module docstring. Four statements
    (five with sites), whatever the number of products and sites."""
    query = Product.select().where(Product.reorder_point.is_null(False)).order_by(Product.sku)
    if where is not None:
        query = query.where(where)
    products = list(query)
    if not products:
        return []
    ids = [p.id for p in products]
    plant = _stock(ids, ON_HAND_STAGES)
    by_site = _site_stock(ids, ON_HAND_STAGES)
    # the sites of the levels, by code
    codes = dict(Site.select(Site.id, Site.code).tuples()) if by_site else {}
    out = []
    for p in products:
        point = Decimal(p.reorder_point)
        sites = by_site.get(p.id, {})
        if len(sites) < 2:
            one = next(iter(sites), None)  # the one site that stocks it, if any
            have = plant.get(p.id, Decimal(0))
            out.append(ReorderLevel(p, None, None, have, point, one, codes.get(one)))
            continue
        for site_id, have in sorted(sites.items(), key=lambda kv: codes.get(kv[0], "")):
            out.append(ReorderLevel(p, site_id, codes.get(site_id), have, point))
    return out


def _reorder() -> list[dict]:
    out = []
    for level in reorder_levels():
        if not level.below:
            continue
        p, have, point = level.product, level.on_hand, level.point
        at = f" at {level.site}" if level.site else ""
        flag = {
            "flag": "reorder",
            "product": p.sku,
            "on_hand": txt(have),
            "reorder_point": txt(point),
            "message": f"{p.name}: {txt(have)} {p.unit} on hand{at}, reorder point {txt(point)}",
        }
        if level.site:
            flag["site"] = level.site
        elif level.stocked_at:  # the plant-wide flag, routed to the one site stocking it
            flag["stocked_at"] = level.stocked_at
        out.append(flag)
    return out


def near_expiry(today: dt.date, where: pw.Expression | None = None) -> list[dict]:
    """A near_expiry flag per product with `near_expiry_days` whose stock expires by
    `today + near_expiry_days`. Two queries: the products, then their expiring items by
    lot (an index seek on item (product, stage) for each product). `where` narrows the
    items (a user limited to sites: `siteaccess.items_where`)."""
    products = {
        p.id: p
        for p in Product.select(
            Product.id, Product.sku, Product.name, Product.unit, Product.near_expiry_days
        ).where(Product.near_expiry_days.is_null(False))
    }
    if not products:
        return []
    latest = today + dt.timedelta(days=max(p.near_expiry_days for p in products.values()))
    rows = (
        Item.select(Item.product, Item.lot, Item.expiry, pw.fn.COUNT(Item.id), pw.fn.SUM(Item.qty))
        .where(
            Item.product.in_(list(products))
            & Item.stage.in_(list(EXPIRY_STAGES))
            & Item.expiry.is_null(False)
            & (Item.expiry <= latest)
            & (pw.SQL("1 = 1") if where is None else where)
        )
        .group_by(Item.product, Item.lot, Item.expiry)
        .order_by(Item.product, Item.expiry, Item.lot)
        .tuples()
    )
    lots: dict[int, list[dict]] = defaultdict(list)
    for pid, lot, expiry, count, qty in rows:
        p = products[pid]
        if expiry > today + dt.timedelta(days=p.near_expiry_days):
            continue
        lots[pid].append(
            {
                "lot": lot,
                "expiry": expiry.isoformat(),
                "expired": expiry < today,
                "count": count,
                "qty": txt(_dec(qty or 0)),
            }
        )
    out = []
    for pid, found in sorted(lots.items(), key=lambda kv: products[kv[0]].sku):
        p = products[pid]
        count = sum(x["count"] for x in found)
        expired = sum(x["count"] for x in found if x["expired"])
        until = today + dt.timedelta(days=p.near_expiry_days)
        first = found[0]
        out.append(
            {
                "flag": "near_expiry",
                "product": p.sku,
                "days": p.near_expiry_days,
                "until": until.isoformat(),
                "count": count,
                "expired": expired,
                "qty": txt(sum((_dec(x["qty"]) for x in found), Decimal(0))),
                "unit": p.unit,
                "earliest": first["expiry"],
                "lots": found[:EXPIRY_LOT_LIMIT],
                "message": f"{p.name}: {count} item(s) expire by {until.isoformat()}"
                f" ({expired} expired), first {first['lot'] or '-'} {first['expiry']}",
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
