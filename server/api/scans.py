"""POST /api/scans: the HTTP adapter around apply_scan()."""

from __future__ import annotations

from flask import current_app

from server.api import current_user, op
from server.api.schemas import PositiveQty
from server.core import siteaccess
from server.core.scans import apply_scan
from server.wire import HttpScanPayload, ScanResultOut


class HttpScanIn(HttpScanPayload):
    """The HTTP body: the wire payload with a quantity that is a JSON number, as its schema
    says (an MQTT agent's payload keeps the wire's own rules)."""

    qty: PositiveQty | None = None
    scrap_qty: PositiveQty | None = None


@op(
    "POST",
    "/scans",
    role="operator",
    tag="scans",
    summary="Apply one scan",
    body=HttpScanIn,
    responses={
        201: ("Accepted", ScanResultOut),
        200: ("Duplicate scan_id: the first answer again", ScanResultOut),
        400: ("Malformed", None),
        403: (
            "other_site: a user limited to sites, through a scanner of another site or "
            "naming another site's station",
            None,
        ),
        422: ("Rejected, with its reason code", ScanResultOut),
    },
)
def post_scan(body: HttpScanIn):
    user = current_user()
    # an operator's badge is no session: the limit is on the signed-in user (siteaccess.py)
    siteaccess.check_scanner(user, body.scanner_id, body.station)
    result = apply_scan(
        current_app.extensions["koordinator.db"],
        body.to_scan(body.scanner_id, user.id),
        tz=current_app.config.get("PLANT_TIMEZONE"),
    )
    status = 200 if result.duplicate else (201 if result.accepted else 422)
    return result.to_dict(), status
