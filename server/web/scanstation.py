"""The scan station page for a tablet or a PC with a keyboard-wedge scanner.

The page posts each scan to POST /api/scans with the browser session (and the CSRF token
in X-CSRFToken), so a browser scan is handled exactly like a scanner's. The answer is
worded in the station's language from the reason code (server/web/i18n.py).
"""

from __future__ import annotations

import peewee as pw
from flask import abort, g, render_template
from flask_babel import gettext

from server.models import LedgerEntry, Scanner, Station, User
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
        LedgerEntry.select()
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
