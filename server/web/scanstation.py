"""The scan station page for a tablet or a PC with a keyboard-wedge scanner.

The page posts each scan to POST /api/scans with the browser session (and the CSRF token
in X-CSRFToken), so a browser scan is handled exactly like a scanner's. The answer is
worded in the station's language from the reason code and its parameters
(server/web/i18n.py); on a page not in English the product's name of an accepted item
comes from `/scan/items/<code>`, as the scan answer carries only the item's code.
"""

from __future__ import annotations

import peewee as pw
from flask import abort, g, jsonify, render_template
from flask_babel import gettext

from server.models import Item, LedgerEntry, Product, Scanner, Station, User
from server.web import bp, i18n
from server.web.pages import role_required

RECENT = 10


@bp.route("/scan")
@role_required("operator")
def scan_index():
    scanners = list(
        Scanner.select(Scanner, Station)
        .join(Station, pw.JOIN.LEFT_OUTER)
        .order_by(Station.code, Scanner.id)
    )
    return render_template("scan_index.html", scanners=scanners)


@bp.route("/scan/<scanner_id>")
@role_required("operator")
def scan_station(scanner_id: str):
    scanner = Scanner.get_or_none(Scanner.id == scanner_id)
    if scanner is None:
        abort(404, gettext("No scanner %(id)s", id=scanner_id))
    station = Station.get_or_none(Station.id == scanner.station_id) if scanner.station_id else None
    if station is not None and station.language:
        g.page_language = station.language
    operator = User.get_or_none(User.id == scanner.operator_id) if scanner.operator_id else None
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
        operator=operator,
        recent=recent,
        catalogue=i18n.worker_catalogue(),
    )


@bp.route("/scan/items/<code>")
@role_required("operator")
def scan_item(code: str):
    """The product of an item, for the scan station's answer in a language other than
    English (the core's English message names it; the answer's fields do not)."""
    row = (
        Item.select(Product.sku, Product.name)
        .join(Product)
        .where(Item.code == code.strip().upper())
        .tuples()
        .first()
    )
    if row is None:
        return jsonify(
            {"error": "unknown_item", "message": gettext("No item %(code)s", code=code)}
        ), 404
    return jsonify({"sku": row[0], "product": row[1]})
