"""The scrap and hold page for supervisors: scrap over a chosen period as a Pareto by reason,
product or station (a chart and a table), and the held items with their release buttons."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext

from server.core import plantday, scrapreport, shifts, siteaccess
from server.web import bp, charts, i18n
from server.web.pages import role_required, today, web_user
from server.web.stock import _reasons_for

#: the longest period the page counts, in days
MAX_DAYS = 366


def _day(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


@bp.route("/scrap")
@role_required("supervisor")
def scrap():
    end_day = _day("to", today())
    start_day = _day("from", end_day - dt.timedelta(days=6))
    if start_day > end_day:
        start_day, end_day = end_day, start_day
    start_day = max(start_day, end_day - dt.timedelta(days=MAX_DAYS - 1))
    by = request.args.get("by", "reason")
    by = by if by in scrapreport.BY else "reason"
    tz = i18n.plant_timezone()
    user = web_user()
    rows = scrapreport.scrap_pareto(
        plantday.day_start(start_day, tz),
        plantday.day_start(end_day + dt.timedelta(days=1), tz),
        by,
        # a user limited to sites: the scrap recorded at those sites' stations
        stations=siteaccess.stations_query(user),
    )
    labels = {}
    for r in rows:
        if by == "reason":
            labels[r.key] = (
                f"{r.key} · {i18n.listed_reason_text(r.key)}" if r.key else i18n.no_reason_text()
            )
        else:
            labels[r.key] = f"{r.key or '—'} {r.label}".strip()
    chart = charts.bar_chart(
        [(str(r.key), labels[r.key], r.count) for r in rows[:15]],
        title=i18n.scrap_chart_title(),
    )
    return render_template(
        "scrap.html",
        start=start_day,
        end=end_day,
        by=by,
        rows=rows,
        labels=labels,
        chart=chart if rows else None,
        held=scrapreport.held_items(where=siteaccess.items_where(user)),
        release_reasons=_reasons_for("release"),
        hold_reasons=_reasons_for("hold"),
        # the shift report's choices: a shift of the day, a site
        shift_names=shifts.active_names(siteaccess.site_ids(user)),
        report_sites=[s.code for s in siteaccess.visible_sites(user)],
    )


@bp.route("/recall/hold", methods=["POST"])
@role_required("supervisor")
def recall_hold():
    """The scrap and hold page's lot recall: holds the lot and what was built from it,
    through the API's own operation."""
    from server.api.trace import hold_lot
    from server.core.errors import DomainError

    product = request.form.get("product", "").strip().upper()
    lot = request.form.get("lot", "").strip()
    if not product or not lot:
        flash(gettext("Give the product and the lot to hold."), "error")
        return redirect(url_for("web.scrap") + "#recall")
    try:
        out = hold_lot(product, lot, request.form.get("reason", ""), web_user())
        flash(
            gettext(
                "Lot %(lot)s of %(product)s: %(held)d held now, %(already)d already held, "
                "%(gone)d shipped, consumed or scrapped.",
                lot=lot,
                product=product,
                held=out["held"],
                already=out["already_held"],
                gone=out["gone"],
            )
        )
        if out["other_sites"]:  # a user limited to sites holds theirs only
            codes = ", ".join(out["other_site_codes"][:20])
            flash(
                gettext(
                    "%(others)d of the lot's items are at sites outside yours and were "
                    "not held: %(codes)s.",
                    others=out["other_sites"],
                    codes=codes + (" …" if out["other_sites"] > 20 else ""),
                ),
                "error",
            )
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
    return redirect(url_for("web.scrap") + "#recall")


@bp.route("/recall")
@role_required("supervisor")
def recall_report():
    """The recall report of a lot: the customers who got it, with their shipments, and
    every finished or shipped unit containing it (GET /api/recall's figures)."""
    from server.core import trace
    from server.core.errors import DomainError

    product = request.args.get("product", "").strip().upper()
    lot = request.args.get("lot", "").strip()
    out = None
    if product and lot:
        try:
            out = trace.recall(product, lot)
        except DomainError as exc:
            flash(i18n.error_text(exc.code, exc.message), "error")
    return render_template("recall.html", product=product, lot=lot, out=out)
