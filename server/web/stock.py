"""Stock by stage (from the StockCounter table only), item lists and the item page."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import peewee as pw
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from jinja2.utils import url_quote
from markupsafe import Markup, escape

from labels import Label, render_pdf, render_svg
from server import labelling
from server.core import codes, locations, printjobs, siteaccess
from server.core.errors import DomainError, Rejected
from server.core.items import left_from
from server.core.stages import GONE, ON_HAND
from server.models import (
    Item,
    LedgerEntry,
    Location,
    Product,
    ProductionOrder,
    Station,
    StockCounter,
    User,
    utcnow,
)
from server.web import bp, charts, i18n
from server.web.pages import STAGES, STOCK_STAGES, role_required, web_user
from server.web.pages import qty as fmt_qty

PAGE_SIZE = 50


def shown_stages(by_stage: dict) -> list[str]:
    """Every stage, always in the same order: a card or a column that came and went with
    its count made the others jump on the live page."""
    return list(STAGES)


def _mine(query):
    """The counters of the signed-in user's stations only, for a user limited to sites
    (server/core/siteaccess.py)."""
    stations = siteaccess.stations_query(web_user())  # a subquery: no statement of its own
    if stations is None:
        return query
    return query.where(StockCounter.station_id.in_(stations))


def stock_figures() -> dict:
    """Counts and quantities by stage, product x stage and station, from the counters.

    Reads StockCounter (a row per product x stage x station) and the small master tables;
    never the item table, so it costs the same with a million items. A user limited to
    sites sees the counters of those sites' stations.
    """
    n, q = pw.fn.SUM(StockCounter.count), pw.fn.SUM(StockCounter.qty)
    products = {
        p.id: p
        for p in Product.select(
            Product.id, Product.sku, Product.name, Product.tracking, Product.unit
        )
    }
    stations = {s.id: s for s in Station.select(Station.id, Station.code, Station.name)}
    by_stage: dict[str, list] = {s: [0, Decimal(0)] for s in STAGES}
    # quantities are only added up within one unit (kg and boxes do not sum); unit-tracked
    # products count one per item, which the count already says
    by_unit: dict[str, dict[str, Decimal]] = {s: {} for s in STAGES}
    by_product: dict[int, dict[str, list]] = defaultdict(dict)
    by_station: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # the database sums the counters (a few thousand rows); Python sees ~products x stages
    for product_id, stage, count, qty in (
        _mine(StockCounter.select(StockCounter.product, StockCounter.stage, n, q))
        .group_by(StockCounter.product, StockCounter.stage)
        .having(n != 0)
        .tuples()
    ):
        qty = Decimal(qty or 0)
        by_product[product_id][stage] = [count, qty]
        entry = by_stage.setdefault(stage, [0, Decimal(0)])
        entry[0] += count
        entry[1] += qty
        product = products.get(product_id)
        if product is not None and (product.tracking == "lot" or qty != count):
            units = by_unit.setdefault(stage, {})
            units[product.unit] = units.get(product.unit, Decimal(0)) + qty
    for station_id, stage, count in (
        _mine(StockCounter.select(StockCounter.station_id, StockCounter.stage, n))
        .where((StockCounter.station_id != 0) & StockCounter.stage.not_in(("consumed", "shipped")))
        .group_by(StockCounter.station_id, StockCounter.stage)
        .having(n != 0)
        .tuples()
    ):
        by_station[station_id][stage] = count
    shown = shown_stages(by_stage)
    product_rows = []
    for pid, cells in sorted(by_product.items(), key=lambda kv: products[kv[0]].sku):
        product = products[pid]
        row = _matrix_row(cells, shown, product.unit, product.tracking == "lot")
        product_rows.append((product, row))
    station_rows = _station_rows(by_station, stations)
    chart = charts.bar_chart(
        [(s, i18n.stage_text(s), by_stage[s][0]) for s in STOCK_STAGES],
        title=gettext("Items by stage"),
    )
    return {
        "by_stage": by_stage,
        "by_unit": {s: sorted(units.items()) for s, units in by_unit.items()},
        "stages": shown,
        "product_rows": product_rows,
        "station_rows": station_rows,
        "chart": chart,
    }


def _matrix_row(cells: dict, stages: list[str], unit: str, lot: bool) -> list[tuple]:
    """A product's cells in stage order, `(stage, count, quantity text or None)`, numbers
    formatted here: the matrix is products x stages cells, and per-cell logic in the
    template was most of the page's time. The quantity is shown where it says more than
    the count (a lot, or a unit product counted in something else than ones)."""
    row = []
    for s in stages:
        c = cells.get(s)
        if not c:
            row.append((s, 0, None))
        else:
            row.append((s, c[0], f"{fmt_qty(c[1])} {unit}" if (lot or c[1] != c[0]) else None))
    return row


def _station_rows(by_station: dict, stations: dict) -> list[tuple]:
    """The stations with stock, by code, each with its counts by stage."""
    return [
        (stations[sid], cells)
        for sid, cells in sorted(by_station.items(), key=lambda kv: stations[kv[0]].code)
        if sid in stations and any(cells.values())
    ]


#: the stages a site's or a location's figures have: stock on hand lies in a place; new
#: items (labels not received) and shipped, consumed or scrapped ones lie in none
PLACED_STAGES = [s for s in STAGES if s in {x.value for x in ON_HAND}]


class _Product:
    """What the matrix shows of a product (its row is drawn from a scope's sums)."""

    __slots__ = ("sku", "name", "unit")

    def __init__(self, sku: str, name: str, unit: str) -> None:
        self.sku, self.name, self.unit = sku, name, unit


def scope_figures(places: dict, station_ids: list[int]) -> dict:
    """The figures of the page filtered to a site or a location, the same keys as
    `stock_figures()`: by stage and product x stage from the scope's stock on hand that
    the stock by place has summed already (a site's from its kept site counters, a
    location's from its subtree's location counters), the stations those whose line side
    lies in the scope (`station_ids`), from their counters."""
    db = Product._meta.database
    lots = {
        sku
        for (sku,) in db.execute_sql(
            f'SELECT "sku" FROM "product" WHERE "tracking" = {getattr(db, "obj", db).param}',
            ["lot"],
        ).fetchall()
    }
    by_stage: dict[str, list] = {s: [0, Decimal(0)] for s in PLACED_STAGES}
    by_unit: dict[str, dict[str, Decimal]] = {s: {} for s in PLACED_STAGES}
    by_product: dict[tuple, dict[str, list]] = {}
    for row in places["products"]:  # sorted by sku, name, unit, stage; one unit a product
        stage, count, qty = row["stage"], row["count"], row["qty"]
        if stage not in by_stage:
            continue
        lot = row["sku"] in lots
        by_product.setdefault((row["sku"], row["name"], row["unit"], lot), {})[stage] = [count, qty]
        entry = by_stage[stage]
        entry[0] += count
        entry[1] += qty
        if lot or qty != count:
            units = by_unit[stage]
            units[row["unit"]] = units.get(row["unit"], Decimal(0)) + qty
    product_rows = [
        (_Product(sku, name, unit), _matrix_row(cells, PLACED_STAGES, unit, lot))
        for (sku, name, unit, lot), cells in by_product.items()
    ]
    station_rows = []
    if station_ids:
        n = pw.fn.SUM(StockCounter.count)
        by_station: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for station_id, stage, count in (
            StockCounter.select(StockCounter.station_id, StockCounter.stage, n)
            .where(
                StockCounter.station_id.in_(station_ids)
                & StockCounter.stage.not_in([g.value for g in GONE])
            )
            .group_by(StockCounter.station_id, StockCounter.stage)
            .having(n != 0)
            .tuples()
        ):
            by_station[station_id][stage] = count
        stations = {}
        if by_station:
            query = Station.select(Station.id, Station.code, Station.name)
            stations = {s.id: s for s in query.where(Station.id.in_(sorted(by_station)))}
        station_rows = _station_rows(by_station, stations)
    chart = charts.bar_chart(
        [(s, i18n.stage_text(s), by_stage[s][0]) for s in PLACED_STAGES],
        title=gettext("Items by stage"),
    )
    return {
        "by_stage": by_stage,
        "by_unit": {s: sorted(units.items()) for s, units in by_unit.items()},
        "stages": PLACED_STAGES,
        "product_rows": product_rows,
        "station_rows": station_rows,
        "chart": chart,
    }


#: past this many locations in the scope, the page lists its top and the level below (a
#: link on each goes down a level), and the picker offers areas and line sides only
PLACES_LISTED = 500


def place_figures() -> dict:
    """The stock by place of the page's `site` and `location` filters: the location tree
    with item counts and quantities per unit (server/core/locations.py), and the scope
    the page's figures are of (`figures_scope`: the plant, the user's sites' stations, a
    site, a location with everything below it)."""
    site = request.args.get("site", "").strip() or None
    location = request.args.get("location", "").strip() or None
    user = web_user()
    mine = siteaccess.site_ids(user)
    try:
        siteaccess.check_site(user, site)
        siteaccess.check_location(user, location)
        places = locations.stock_by_place(site, location, mine, most=PLACES_LISTED)
    except DomainError as exc:
        abort(404, exc.message)
    if places["location"]:
        scope = {"kind": "location", "code": places["location"], "link": "location"}
    elif places["site"]:
        scope = {"kind": "site", "code": places["site"], "link": "site"}
    else:
        scope = {"kind": "plant" if mine is None else "mine", "code": None, "link": None}
    return {
        "places": places,
        "place_filters": {"site": site or "", "location": location or ""},
        "figures_scope": scope,
        "sites": siteaccess.visible_sites(user),
        "all_locations": locations.choices(site, PLACES_LISTED, site_ids=mine),
    }


def page_figures() -> dict:
    """Everything the stock page and its live poll draw: one function, so the poll's
    figures are always of the page's scope. Filtered to a site or a location, the
    figures are of that scope (`scope_figures`); unfiltered, of the plant (or, for a user
    limited to sites, of the stations of those sites: `stock_figures`)."""
    place = place_figures()
    scope = place["figures_scope"]
    if scope["kind"] == "location":
        stations = locations.station_ids_under(locations.by_code(scope["code"]))
        figures = scope_figures(place["places"], stations)
    elif scope["kind"] == "site":
        stations = locations.station_ids_of_site(locations.site_by_code(scope["code"]))
        figures = scope_figures(place["places"], stations)
    else:
        figures = stock_figures()
    # the matrix's rows drawn here, its links in the page's scope: 200 products x stages
    # cells through the template's per-cell logic were most of the page's time
    items_url = url_for("web.items")
    scope_q = f"&{scope['link']}={url_quote(scope['code'])}" if scope["link"] else ""
    rows = []
    for product, cells in figures["product_rows"]:
        base = f"{items_url}?product={url_quote(product.sku)}{scope_q}"
        rows.append((product, base, _cells_html(str(escape(base)), cells)))
    figures["product_rows"] = rows
    return {**figures, **place}


def _cells_html(base: str, cells: list[tuple]) -> Markup:
    """A matrix row's cells: its count linked to the items of the product and stage, and
    the quantity with its unit where it says more than the count."""
    out = []
    for stage, n, extra in cells:
        if not n:
            out.append('<td class="num"></td>')
            continue
        more = f" <small>({str(escape(extra))})</small>" if extra else ""
        out.append(f'<td class="num"><a href="{base}&stage={stage}">{n}</a>{more}</td>')
    return Markup("".join(out))


@bp.route("/stock")
@role_required("operator")
def stock():
    return render_template("stock.html", **page_figures())


@bp.route("/stock/live")
@role_required("operator")
def stock_live():
    return render_template("_stock_live.html", **page_figures())


def _lookup(model, field, value):
    if not value:
        return None
    row = model.get_or_none(field == value)
    if row is None:
        abort(404, gettext("Nothing named %(v)s", v=value))
    return row


@bp.route("/items")
@role_required("operator")
def items():
    """The items of a filter, newest first, a page at a time (keyset on the id)."""
    args = request.args
    product = _lookup(Product, Product.sku, args.get("product", "").strip())
    station = _lookup(Station, Station.code, args.get("station", "").strip())
    order = _lookup(ProductionOrder, ProductionOrder.number, args.get("order", "").strip())
    place = None
    if args.get("location", "").strip():
        place = locations.by_code(args["location"])
        if place is None:
            abort(404, gettext("Nothing named %(v)s", v=args["location"].strip()))
    site = None
    if args.get("site", "").strip():  # the stock page of a site links here with it
        site = locations.site_by_code(args["site"])
        try:
            siteaccess.check_site(web_user(), args["site"] if site else None)
        except DomainError:
            site = None
        if site is None:
            abort(404, gettext("Nothing named %(v)s", v=args["site"].strip()))
    stage = args.get("stage", "").strip()
    lot = args.get("lot", "").strip()
    if stage and stage not in STAGES:
        abort(404, gettext("No stage %(v)s", v=stage))
    query = Item.select(Item, Product).join(Product)
    mine = siteaccess.items_where(web_user())  # a user limited to sites: their items
    if mine is not None:
        query = query.where(mine)
    if product:
        query = query.where(Item.product == product.id)
    if stage:
        query = query.where(Item.stage == stage)
    if station:
        query = query.where(Item.station == station.id)
    if order:
        query = query.where(Item.order == order.id)
    if lot:
        query = query.where(Item.lot == lot)
    if place is not None:
        # the location and every location below it; only stock on hand is somewhere
        query = query.where(
            Item.location_id.in_(locations.subtree_ids(place))
            & Item.stage.in_([str(s) for s in ON_HAND])
        )
    if site is not None:
        # the items on hand in the site's places (a site holds only what lies in it)
        query = query.where(
            Item.location_id.in_(Location.select(Location.id).where(Location.site_id == site.id))
            & Item.stage.in_([str(s) for s in ON_HAND])
        )
    before = args.get("before", type=int)
    if before:
        query = query.where(Item.id < before)
    rows = list(query.order_by(Item.id.desc()).limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    stations = {s.id: s.code for s in Station.select(Station.id, Station.code)}
    places = locations.codes_of(r.location_id for r in rows)
    orders = {}
    order_ids = {r.order_id for r in rows if r.order_id}
    if order_ids:
        orders = {
            o.id: o.number
            for o in ProductionOrder.select(ProductionOrder.id, ProductionOrder.number).where(
                ProductionOrder.id.in_(order_ids)
            )
        }
    total = None
    if not (order or lot or place or site):  # the counters know the total of these
        counted = StockCounter.select(pw.fn.COALESCE(pw.fn.SUM(StockCounter.count), 0))
        if product:
            counted = counted.where(StockCounter.product == product.id)
        if stage:
            counted = counted.where(StockCounter.stage == stage)
        if station:
            counted = counted.where(StockCounter.station_id == station.id)
        total = counted.scalar()
    filters = {
        k: args[k].strip()
        for k in ("product", "stage", "station", "lot", "order", "location", "site")
        if args.get(k, "").strip()
    }
    return render_template(
        "items.html",
        rows=rows,
        stations=stations,
        places=places,
        orders=orders,
        more=more,
        next_before=rows[-1].id if rows and more else None,
        filters=filters,
        total=total,
        products=Product.select(Product.sku, Product.name).order_by(Product.sku),
        station_list=Station.select(Station.code).order_by(Station.code),
        stages=STAGES,
        gone=GONE,
        paged=bool(before),
    )


def _found(text: str) -> tuple[str | None, str | None]:
    """Where a typed or scanned code leads: the item page, or the item list of a lot or a
    product. The code is read by the parser the scans use (server/core/codes.py), so an
    internal code, a GS1 element string (with or without its AIM prefix) and an EPC read
    all find what a scan of them would. Nothing found: (None, the parser's reason code)."""
    user = web_user()
    exact = Item.get_or_none(Item.code == text.strip().upper())
    if exact is not None and not siteaccess.item_visible(user, exact):
        return None, "unknown_item"  # another site's, for a user limited to sites
    if exact is not None:
        return url_for("web.item", code=exact.code), None
    try:
        parsed = codes.parse(
            text, "rfid" if codes.EPC_HEX.match(text.strip().upper()) else "barcode"
        )
    except Rejected as exc:
        return None, exc.code
    if parsed.kind == codes.CodeKind.ITEM:
        item = Item.get_or_none(Item.code == parsed.item_code)
        item = item if item is not None and siteaccess.item_visible(user, item) else None
        return (url_for("web.item", code=item.code), None) if item else (None, "unknown_item")
    if parsed.kind == codes.CodeKind.COMMAND:
        return None, None
    if parsed.ext_key:
        item = Item.get_or_none(Item.ext_key == parsed.ext_key)
        item = item if item is not None and siteaccess.item_visible(user, item) else None
        return (url_for("web.item", code=item.code), None) if item else (None, "unknown_item")
    product = Product.get_or_none(Product.gtin == parsed.gtin) if parsed.gtin else None
    if product is None:
        return None, "unknown_product"
    if parsed.lot:
        lot = Item.select(Item.code).where((Item.product == product.id) & (Item.lot == parsed.lot))
        if not lot.exists():
            return None, "unknown_item"
        return url_for("web.items", product=product.sku, lot=parsed.lot), None
    return url_for("web.items", product=product.sku), None


@bp.route("/find")
@role_required("operator")
def find():
    """The header's search box: a code typed or scanned into it opens what it names."""
    text = request.args.get("code", "").strip()[:200]
    target, reason = _found(text) if text else (None, None)
    if target is not None:
        return redirect(target)
    message = gettext("Nothing matched %(code)s.", code=text) if text else gettext("No code given.")
    if reason:
        message = f"{message} {i18n.reason_text(reason)}"
    return render_template("error.html", code=404, message=message), 404


def _item_or_404(code: str) -> Item:
    item = Item.select(Item, Product).join(Product).where(Item.code == code.strip().upper()).first()
    # another site's item is unknown to a user limited to sites (siteaccess.py)
    if item is None or not siteaccess.item_visible(web_user(), item):
        abort(404, gettext("No item %(code)s", code=code))
    return item


def item_label(item: Item) -> Label:
    return labelling.item_label(item, item.product)


def _ancestors(item: Item, limit: int = 20) -> list[Item]:
    chain, seen = [], {item.id}
    current = item
    while current.parent_id and len(chain) < limit and current.parent_id not in seen:
        current = Item.select(Item, Product).join(Product).where(Item.id == current.parent_id).get()
        seen.add(current.id)
        chain.append(current)
    return chain


def _descendants(item: Item, depth: int = 3, limit: int = 200) -> list[tuple[int, Item]]:
    """The items built into `item`, and theirs, as (depth, item), at most `limit`."""
    out: list[tuple[int, Item]] = []
    level = [item.id]
    for d in range(1, depth + 1):
        if not level or len(out) >= limit:
            break
        children = list(
            Item.select(Item, Product)
            .join(Product)
            .where(Item.parent.in_(level))
            .order_by(Item.id)
            .limit(limit - len(out))
        )
        out.extend((d, c) for c in children)
        level = [c.id for c in children]
    return out


@bp.route("/items/<code>")
@role_required("operator")
def item(code: str):
    it = _item_or_404(code)
    left = left_from(it)  # a shipped, consumed or scrapped item has no station, only this
    station = None
    if it.station_id and it.stage not in GONE:
        station = Station.get_or_none(Station.id == it.station_id)
    order = ProductionOrder.get_or_none(ProductionOrder.id == it.order_id) if it.order_id else None
    split_from = Item.get_or_none(Item.id == it.split_from_id) if it.split_from_id else None
    history = list(
        LedgerEntry.select(LedgerEntry, Station, User)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .switch(LedgerEntry)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.operator == User.id))
        .where(LedgerEntry.item == it.id)
        .order_by(LedgerEntry.id.desc())
        .limit(500)
    )
    # the labels queued for it by a station's rule and their outcome, placed by time
    history = printjobs.merged(
        history, printjobs.item_prints(it.id), at=lambda e: e.received_at, newest_first=True
    )
    splits = list(Item.select(Item.code).where(Item.split_from == it.id).limit(100))
    return render_template(
        "item.html",
        item=it,
        station=station,
        left=left,
        order=order,
        split_from=split_from,
        splits=splits,
        shipment=_shipment_of(it),
        history=history,
        ancestors=_ancestors(it),
        descendants=_descendants(it),
        hold_reasons=_reasons_for("release" if it.held else "hold"),
    )


def _shipment_of(it: Item):
    """The shipment the item last left in (kept after a return: the page says so)."""
    from server.models import Shipment

    if not it.shipment_id:
        return None
    return Shipment.get_or_none(Shipment.id == it.shipment_id)


def _reasons_for(use: str) -> list:
    """The active reasons that apply to `use`, for the item page's hold or release."""
    from server.models import Reason

    rows = Reason.select().where(Reason.active == True).order_by(Reason.code)  # noqa: E712
    return [r for r in rows if use in (r.applies_to or [])]


@bp.route("/items/<code>/hold", methods=["POST"])
@role_required("operator")
def item_hold(code: str):
    """The item page's hold and release buttons, through the API's own operation."""
    from server.api.items import set_hold
    from server.core.errors import DomainError
    from server.core.stages import Action

    it = _item_or_404(code)
    action = Action.RELEASE if request.form.get("what") == "release" else Action.HOLD
    if action == Action.RELEASE and web_user().role not in ("supervisor", "admin"):
        abort(403)
    try:
        set_hold(it.code, request.form.get("reason", ""), action, web_user())
        flash(gettext("Released.") if action == Action.RELEASE else gettext("Held."))
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
    if request.form.get("back") == "scrap":
        return redirect(url_for("web.scrap") + "#held")
    return redirect(url_for("web.item", code=it.code))


@bp.route("/items/<code>/label.svg")
@role_required("operator")
def item_label_svg(code: str):
    it = _item_or_404(code)
    svg = render_svg(item_label(it), "thermal-2x1")
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.route("/items/<code>/reprint", methods=["POST"])
@role_required("clerk")
def item_reprint(code: str):
    """A PDF of the item's label for printing; the reprint is written to the ledger."""
    it = _item_or_404(code)
    template = request.form.get("template", "thermal-2x1")
    try:
        pdf = render_pdf([item_label(it)], template, title=it.code)
    except ValueError:
        abort(404, gettext("No label template %(v)s", v=template))
    with current_app.extensions["koordinator.db"].atomic():
        labelling.record_prints([it], f"pdf {template}", web_user().id, utcnow())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{it.code}.pdf"'},
    )
