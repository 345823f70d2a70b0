"""The cycle count pages: the list with the form that opens a count, one count's page
(progress live while it is open, the outcomes once closed, close and approve for a
supervisor); the work is server/core/counts.py through the API's own operations."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from server.core import counts, siteaccess
from server.core.errors import DomainError
from server.models import Reason, utcnow
from server.web import bp, i18n
from server.web.pages import role_required, web_user

OUTCOME_ORDER = ("missing", "elsewhere", "variance", "not_in_stock", "moved", "scanned", "found")


def _db():
    from flask import current_app

    return current_app.extensions["koordinator.db"]


def _count_or_404(count_id: int):
    try:
        # a count of another site is unknown to a user limited to sites (siteaccess.py)
        return siteaccess.check_count(web_user(), counts.get(count_id))
    except DomainError:
        abort(404)


def _view(count) -> dict:
    data = counts.report(count)
    data["lines"].sort(
        key=lambda ln: (
            OUTCOME_ORDER.index(ln["outcome"]) if ln["outcome"] in OUTCOME_ORDER else 99,
            ln["item"],
        )
    )
    return data


def _adjust_reasons() -> list[Reason]:
    rows = Reason.select().where(Reason.active == True).order_by(Reason.code)  # noqa: E712
    return [r for r in rows if "adjust" in (r.applies_to or [])]


@bp.route("/counts")
@role_required("supervisor")
def counts_list():
    mine = siteaccess.site_ids(web_user())
    return render_template("counts.html", counts=counts.listing(site_ids=mine))


@bp.route("/counts", methods=["POST"])
@role_required("supervisor")
def count_open():
    from server.core.scans import writing

    codes = [c for c in request.form.get("locations", "").replace(",", " ").split() if c]
    try:
        for code in codes[:200]:
            siteaccess.check_location(web_user(), code)
        with writing(_db()):
            count = counts.open_count(
                codes[:200], note=request.form.get("note", "")[:200], user=web_user(), now=utcnow()
            )
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
        return redirect(url_for("web.counts_list"))
    return redirect(url_for("web.count_page", count_id=count.id))


@bp.route("/counts/<int:count_id>")
@role_required("supervisor")
def count_page(count_id: int):
    count = _count_or_404(count_id)
    return render_template("count.html", c=_view(count), reasons=_adjust_reasons())


@bp.route("/counts/<int:count_id>/live")
@role_required("supervisor")
def count_live(count_id: int):
    return render_template("_count_live.html", c=_view(_count_or_404(count_id)))


@bp.route("/counts/<int:count_id>/close", methods=["POST"])
@role_required("supervisor")
def count_close(count_id: int):
    return _count_step(count_id, "close")


@bp.route("/counts/<int:count_id>/approve", methods=["POST"])
@role_required("supervisor")
def count_approve(count_id: int):
    return _count_step(count_id, "approve")


def _count_step(count_id: int, what: str):
    from server.core.scans import writing

    count = _count_or_404(count_id)
    try:
        with writing(_db()):
            if what == "close":
                counts.close(count, user=web_user(), now=utcnow())
                flash(gettext("Count closed: nothing changes until it is approved."))
            else:
                done = counts.approve(
                    count, why=request.form.get("why") or None, user=web_user(), now=utcnow()
                )
                flash(gettext("Approved: %(n)s adjustment(s) written.", n=done["adjusted"]))
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
    return redirect(url_for("web.count_page", count_id=count.id))


def outcome_text(outcome: str | None) -> str:
    texts = {
        "found": gettext("found"),
        "missing": gettext("missing"),
        "elsewhere": gettext("seen here, recorded elsewhere"),
        "variance": gettext("quantity differs"),
        "not_in_stock": gettext("not in stock"),
        "moved": gettext("scanned again after the count"),
        "scanned": gettext("confirmed by a scan"),
    }
    if outcome is None:
        return gettext("seen")
    base, _sep, skip = outcome.partition(":")
    text = texts.get(base, base)
    return f"{text} ({gettext('skipped')})" if skip else text


def count_status_text(status: str) -> str:
    return {
        "open": gettext("open"),
        "closed": gettext("closed"),
        "approved": gettext("approved"),
        "cancelled": gettext("cancelled"),
    }.get(status, status)


@bp.app_context_processor
def _count_helpers():
    return {"outcome_text": outcome_text, "count_status_text": count_status_text}
