"""The shop floor seen from the office: stations and scanners, rejected scans, supplies."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import peewee as pw
from flask import current_app, render_template, request

from server.core import flags, siteaccess
from server.models import (
    Item,
    LedgerEntry,
    Product,
    ProductionOrder,
    Scanner,
    SiteCounter,
    Station,
    StockCounter,
    User,
    utcnow,
)
from server.web import bp
from server.web.pages import role_required, today, web_user

REJECTED_PAGE = 100


def register_ingest(app, parts: list) -> None:
    """Show the stations page the ingest worker among `parts` (what start_mqtt started in
    this process): every process that runs both the web app and the ingest calls this."""
    for part in parts:
        if hasattr(part, "scanner_status"):
            app.extensions["koordinator.ingest"] = part


def scanner_states() -> dict[str, dict]:
    """Online/offline per scanner id, from the retained status topic the MQTT ingest reads.

    The ingest worker keeps `scanner_status` ({id: {"state": ...}}); the page sees it when
    the worker runs in this process and is registered as app.extensions["koordinator.ingest"]
    (register_ingest: `serve` and `demo`).
    Without it the page shows how long ago each scanner last scanned.
    """
    worker = current_app.extensions.get("koordinator.ingest")
    status = getattr(worker, "scanner_status", None)
    if not isinstance(status, dict):
        return {}
    return {k: v for k, v in list(status.items()) if isinstance(v, dict)}


def station_rows() -> list[dict]:
    now = utcnow()
    query = Station.select().order_by(Station.code)
    mine = siteaccess.stations_query(web_user())  # a user limited to sites: their stations
    if mine is not None:
        query = query.where(Station.id.in_(mine))
    stations = list(query)
    wip = dict(
        StockCounter.select(StockCounter.station_id, pw.fn.SUM(StockCounter.count))
        .where(StockCounter.stage == "wip")
        .group_by(StockCounter.station_id)
        .tuples()
    )
    # the oldest WIP item per station with WIP: one seek on the (station, stage) index each
    oldest = {
        sid: Item.select(pw.fn.MIN(Item.stage_at))
        .where((Item.station == sid) & (Item.stage == "wip"))
        .scalar()
        for sid, n in wip.items()
        if n
    }
    users = {u.id: u.username for u in User.select(User.id, User.username)}
    orders = {}
    scanners: dict[int, list[Scanner]] = {}
    for sc in Scanner.select().order_by(Scanner.id):
        scanners.setdefault(sc.station_id, []).append(sc)
        if sc.order_id:
            orders[sc.order_id] = None
    if orders:
        orders = dict(
            ProductionOrder.select(ProductionOrder.id, ProductionOrder.number)
            .where(ProductionOrder.id.in_(list(orders)))
            .tuples()
        )
    states = scanner_states()
    out = []
    for st in stations:
        since = oldest.get(st.id)
        if isinstance(since, str):  # SQLite hands MIN() of a datetime back as text
            since = pw.format_date_time(since, Item.stage_at.formats)
        dwell_min = int((now - since).total_seconds() // 60) if since else None
        out.append(
            {
                "station": st,
                "wip": int(wip.get(st.id) or 0),
                "oldest": since,
                "dwell_minutes": dwell_min,
                "dwelling": bool(
                    st.dwell_limit_minutes and dwell_min and dwell_min > st.dwell_limit_minutes
                ),
                "scanners": [
                    {
                        "scanner": sc,
                        "operator": users.get(sc.operator_id),
                        "order": orders.get(sc.order_id),
                        "state": (states.get(sc.id) or {}).get("state"),
                    }
                    for sc in scanners.get(st.id, [])
                ],
            }
        )
    return out


@bp.route("/stations")
@role_required("supervisor")
def stations():
    return render_template("stations.html", rows=station_rows(), now=utcnow())


@bp.route("/stations/live")
@role_required("supervisor")
def stations_live():
    return render_template("_stations_live.html", rows=station_rows(), now=utcnow())


def rejected_rows(reason: str | None = None) -> list[LedgerEntry]:
    query = (
        LedgerEntry.select(LedgerEntry, Station, User)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .switch(LedgerEntry)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.operator == User.id))
        .where(LedgerEntry.status == "rejected")
    )
    if reason:
        query = query.where(LedgerEntry.reason == reason)
    mine = siteaccess.stations_query(web_user())  # a user limited to sites: their stations'
    if mine is not None:
        query = query.where(LedgerEntry.station.in_(mine))
    rows = list(query.order_by(LedgerEntry.id.desc()).limit(REJECTED_PAGE))
    ids = {e.item_id for e in rows if e.item_id}
    codes = (
        dict(Item.select(Item.id, Item.code).where(Item.id.in_(list(ids))).tuples()) if ids else {}
    )
    for e in rows:
        e.item_code = codes.get(e.item_id)
    return rows


def _reason_arg() -> str | None:
    return request.args.get("reason", "").strip() or None


@bp.route("/rejected")
@role_required("supervisor")
def rejected():
    reason = _reason_arg()
    codes = [
        r
        for (r,) in LedgerEntry.select(LedgerEntry.reason)
        .where((LedgerEntry.status == "rejected") & LedgerEntry.reason.is_null(False))
        .order_by(LedgerEntry.id.desc())
        .limit(1000)
        .tuples()
    ]
    return render_template(
        "rejected.html",
        rows=rejected_rows(reason),
        reason=reason,
        reasons=sorted(set(codes)),
    )


@bp.route("/rejected/live")
@role_required("supervisor")
def rejected_live():
    return render_template("_rejected_live.html", rows=rejected_rows(_reason_arg()))


def supply_rows(expiring: list[dict] | None = None, sites: set[int] | None = None) -> list[dict]:
    """Supplies against their reorder points, marked as the reorder flag is
    (`flags.reorder_levels`): a product stocked at two or more sites a row per site, each
    site's stock (its site counters, as the stock page) against the point; any other a
    row of the plant's, which belongs to the one site that stocks it, if one does. With
    `sites` (a user limited to sites: `siteaccess.site_ids`), the rows of those sites and
    of no site, as their alerts, a row of no site with those sites' quantity
    (docs/decisions.md)."""
    in_stock: dict[tuple, Decimal] = defaultdict(Decimal)
    counts: dict[tuple, int] = defaultdict(int)
    for pid, qty, n in (  # the plant's, labels not yet received included
        StockCounter.select(
            StockCounter.product, pw.fn.SUM(StockCounter.qty), pw.fn.SUM(StockCounter.count)
        )
        .where(StockCounter.stage == "supplies")
        .group_by(StockCounter.product)
        .tuples()
    ):
        in_stock[(pid, None)] += Decimal(qty or 0)
        counts[(pid, None)] += int(n or 0)
    for pid, site_id, qty, n in (  # each site's
        SiteCounter.select(
            SiteCounter.product_id,
            SiteCounter.site_id,
            pw.fn.SUM(SiteCounter.qty),
            pw.fn.SUM(SiteCounter.count),
        )
        .where(SiteCounter.stage == "supplies")
        .group_by(SiteCounter.product_id, SiteCounter.site_id)
        .tuples()
    ):
        in_stock[(pid, site_id)] += Decimal(qty or 0)
        counts[(pid, site_id)] += int(n or 0)
        if sites is not None and site_id in sites:  # a limited user's: their sites' only
            in_stock[(pid, "mine")] += Decimal(qty or 0)
            counts[(pid, "mine")] += int(n or 0)
    levels: dict[int, list[flags.ReorderLevel]] = defaultdict(list)
    for level in flags.reorder_levels(Product.kind == "supplies"):
        levels[level.product.id].append(level)
    near = {f["product"]: f for f in expiring or ()}
    rows = []
    for p in Product.select().where(Product.kind == "supplies").order_by(Product.sku):
        point = Decimal(p.reorder_point) if p.reorder_point is not None else None
        for level in levels.get(p.id) or [None]:
            at = level.site_id if level is not None else None
            about = level.about if level is not None else None
            if about is not None and sites is not None and about not in sites:
                continue  # another site's row (of a product it alone stocks, or of several)
            # a row of no one site: the plant's figures, a limited user's sites' for them
            key = (p.id, at if at is not None or sites is None else "mine")
            rows.append(
                {
                    "product": p,
                    "site": level.site if level is not None else None,
                    "qty": in_stock.get(key, Decimal(0)),
                    "labels": counts.get(key, 0),
                    "reorder_point": point,
                    "reorder": level is not None and level.below,
                    "near_expiry": near.get(p.sku),
                }
            )
    rows.sort(key=lambda r: (not r["reorder"], r["product"].sku, r["site"] or ""))
    return rows


@bp.route("/supplies")
@role_required("supervisor")
def supplies():
    return render_template("supplies.html", **_supplies())


@bp.route("/supplies/live")
@role_required("supervisor")
def supplies_live():
    return render_template("_supplies_live.html", **_supplies())


def _supplies() -> dict:
    """Supplies against their reorder points, and every product's near-expiry lots (the
    page a supervisor checks for what to use first; the stock page reads counters only)."""
    user = web_user()  # a user limited to sites: those sites' supplies and lots
    expiring = flags.near_expiry(today(), where=siteaccess.items_where(user))
    return {
        "rows": supply_rows(expiring, sites=siteaccess.site_ids(user)),
        "expiring": expiring,
    }
