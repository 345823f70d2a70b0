"""The scan station page for a tablet or a PC with a keyboard-wedge scanner.

The page posts each scan to POST /api/scans with the browser session (and the CSRF token
in X-CSRFToken), so a browser scan is handled exactly like a scanner's. The answer is
worded in the station's language from the reason code and its parameters
(server/web/i18n.py); on a page not in English the product's name of an accepted item
comes from `/scan/items/<code>`, as the scan answer carries only the item's code.
"""

from __future__ import annotations

import peewee as pw
from flask import abort, g, jsonify, render_template, send_from_directory
from flask_babel import get_locale, gettext

from server.core import locations, reasonlist, siteaccess
from server.core.errors import DomainError
from server.models import (
    Item,
    LedgerEntry,
    Product,
    ProductionOrder,
    Reason,
    Scanner,
    Station,
    User,
)
from server.web import bp, i18n
from server.web.pages import role_required, web_user

RECENT = 10


@bp.route("/scan")
@role_required("operator")
def scan_index():
    query = (
        Scanner.select(Scanner, Station)
        .join(Station, pw.JOIN.LEFT_OUTER)
        .order_by(Station.code, Scanner.id)
    )
    mine = siteaccess.stations_query(web_user())  # a user limited to sites: their scanners
    if mine is not None:
        query = query.where(Scanner.station.in_(mine))
    scanners = list(query)
    return render_template("scan_index.html", scanners=scanners)


def _scanner_and_station(scanner_id: str) -> tuple[Scanner, Station | None]:
    scanner = Scanner.get_or_none(Scanner.id == scanner_id)
    try:  # another site's scanner: a limited user's scans there are refused other_site
        siteaccess.check_scanner(web_user(), scanner_id)
    except DomainError:
        scanner = None
    if scanner is None:
        abort(404, gettext("No scanner %(id)s", id=scanner_id))
    station = Station.get_or_none(Station.id == scanner.station_id) if scanner.station_id else None
    if station is not None and station.language:
        g.page_language = station.language
    return scanner, station


def scanner_context(scanner: Scanner, station: Station | None) -> dict:
    """What the scanner's next scan will be done as: its action (the command label's,
    else the station's default), order, operator and current location (the last location
    label, the same `location` GET /api/scanners gives), read fresh from the database."""
    operator = User.get_or_none(User.id == scanner.operator_id) if scanner.operator_id else None
    order = (
        ProductionOrder.get_or_none(ProductionOrder.id == scanner.order_id)
        if scanner.order_id
        else None
    )
    action = scanner.action or (station.default_action if station else None)
    reason = reasonlist.lookup(scanner.why) if scanner.why else None
    language = str(get_locale() or i18n.DEFAULT)
    reason_text = f"{scanner.why} {reasonlist.text(reason, language)}" if reason else ""
    place = locations.current(scanner)
    counting = getattr(scanner, "count_id", None)
    action_text = (
        gettext("Counting (count %(count)s)", count=counting)
        if counting
        else i18n.action_text(action)
    )
    parts = [
        action_text,
        order.number if order else "",
        operator.username if operator else "",
        reason_text,
        gettext("at %(location)s", location=place) if place else "",
    ]
    return {
        "scanner": scanner.id,
        "operator": operator.username if operator else None,
        "order": order.number if order else None,
        "action": action,
        "action_text": action_text,
        #: count mode (CMD-COUNT-<id>): the count its item scans are sightings for
        "count": counting,
        "reason": scanner.why,
        "reason_text": reason_text or None,
        # the header's location row: where the next scan puts an item (the text names only
        # a location label's, as the agent's context does)
        "location": locations.where_next(scanner, station),
        "text": " · ".join(p for p in parts if p),
    }


@bp.route("/scan/sw.js")
def scan_service_worker():
    """The scan pages' service worker. Served from /scan/ so its scope covers the scan
    station pages (a worker under /static/web/ could control only static files); no
    sign-in needed, it is a static file."""
    resp = send_from_directory(bp.static_folder, "scan-sw.js", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/scan/"
    return resp


def reason_choices(language: str) -> list[dict]:
    """The plant's active reason list for the picker, worded in the page's language."""
    return [
        {"code": r.code, "text": reasonlist.text(r, language), "uses": list(r.applies_to or [])}
        for r in Reason.select().where(Reason.active == True).order_by(Reason.code)  # noqa: E712
    ]


@bp.route("/scan/<scanner_id>/context")
@role_required("operator")
def scan_context(scanner_id: str):
    """The header of the scan station page, asked again after every answer."""
    scanner, station = _scanner_and_station(scanner_id)
    resp = jsonify(scanner_context(scanner, station))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/scan/<scanner_id>")
@role_required("operator")
def scan_station(scanner_id: str):
    scanner, station = _scanner_and_station(scanner_id)
    recent = list(
        LedgerEntry.select(LedgerEntry, Item, Product)
        .join(Item, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.item == Item.id))
        .join(Product, pw.JOIN.LEFT_OUTER)
        .where((LedgerEntry.scanner_id == scanner.id) & (LedgerEntry.origin == "scan"))
        .order_by(LedgerEntry.id.desc())
        .limit(RECENT)
    )
    return render_template(
        "scan.html",
        scanner=scanner,
        station=station,
        context=scanner_context(scanner, station),
        recent=recent,
        catalogue=i18n.worker_catalogue(),
        reasons=reason_choices(str(get_locale() or i18n.DEFAULT)),
    )


@bp.route("/scan/items/<code>")
@role_required("operator")
def scan_item(code: str):
    """The product and lot of an item, for the scan station's answer in a language other
    than English (the core's English message names them; the answer's fields do not)."""
    item = Item.select(Item, Product).join(Product).where(Item.code == code.strip().upper()).first()
    # another site's item is unknown to a user limited to sites, as on its page
    if item is None or not siteaccess.item_visible(web_user(), item):
        return jsonify(
            {"error": "unknown_item", "message": gettext("No item %(code)s", code=code)}
        ), 404
    return jsonify({"sku": item.product.sku, "product": item.product.name, "lot": item.lot})
