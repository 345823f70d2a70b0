"""The printers and print jobs page (clerk and above): each printer with its online state
(from its last delivery attempt) and a test-print button; the jobs with their state,
attempts and last error, and retry and cancel. The work is server/core/printjobs.py's;
the dispatcher's printer sinks deliver (docs/labels.md "Print jobs")."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from server.core import printjobs, siteaccess
from server.core.errors import DomainError
from server.labelling import test_label
from server.models import Printer, Station, utcnow
from server.web import bp, i18n
from server.web.pages import role_required, web_user


def _db():
    return current_app.extensions["koordinator.db"]


@bp.route("/labels/jobs")
@role_required("clerk")
def print_jobs():
    state = request.args.get("state") or None
    if state not in printjobs.STATES:
        state = None
    stations = {s.id: s.code for s in Station.select(Station.id, Station.code)}
    # a user limited to sites: those sites' printers and their jobs (siteaccess.py)
    mine = siteaccess.printer_ids(web_user())
    query = Printer.select().order_by(Printer.name)
    if mine is not None:
        query = query.where(Printer.id.in_(mine or [-1]))
    printers = [
        {"row": p, "station": stations.get(p.station_id), **printjobs.printer_state(p)}
        for p in query
    ]
    return render_template(
        "print_jobs.html",
        printers=printers,
        jobs=printjobs.listing(state, printer_ids=mine),
        state=state,
        states=printjobs.STATES,
    )


def _run(action, job_id: int | None = None) -> None:
    try:
        if job_id is not None:
            siteaccess.check_print_job(web_user(), job_id)
        with _db().atomic():
            action()
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")


@bp.route("/labels/jobs/<int:job_id>/retry", methods=["POST"])
@role_required("clerk")
def print_job_retry(job_id: int):
    _run(lambda: printjobs.retry(job_id, utcnow()), job_id)
    return redirect(url_for("web.print_jobs"))


@bp.route("/labels/jobs/<int:job_id>/cancel", methods=["POST"])
@role_required("clerk")
def print_job_cancel(job_id: int):
    _run(lambda: printjobs.cancel(job_id), job_id)
    return redirect(url_for("web.print_jobs"))


@bp.route("/labels/printers/<int:printer_id>/test", methods=["POST"])
@role_required("clerk")
def printer_test(printer_id: int):
    printer = Printer.get_or_none(Printer.id == printer_id)
    mine = siteaccess.printer_ids(web_user())
    if printer is not None and mine is not None and printer.id not in mine:
        printer = None  # another site's: as unknown as no printer
    if printer is None:
        flash(i18n.error_text("unknown_printer", "Printer not known"), "error")
        return redirect(url_for("web.print_jobs"))
    user_id = web_user().id

    def queue():
        printjobs.enqueue(
            printer, source="test", now=utcnow(), data=test_label(printer), user_id=user_id
        )
        flash(gettext("Test label queued for %(printer)s", printer=printer.name), "ok")

    _run(queue)
    return redirect(url_for("web.print_jobs"))
