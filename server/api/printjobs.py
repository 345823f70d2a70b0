"""Print jobs and print rules: GET /api/print-jobs, retry and cancel (clerk), a printer's
test print, the stations' print rules (admin). The jobs are delivered by the dispatcher's
printer sinks (docs/labels.md "Print jobs")."""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Code, Strict
from server.core import printjobs, siteaccess
from server.core.errors import NotFound
from server.labelling import test_label
from server.models import Printer, PrintRule, Station, utcnow

State = Literal[printjobs.STATES]  # type: ignore[valid-type]
RuleEvent = Literal[printjobs.RULE_EVENTS]  # type: ignore[valid-type]


def _db():
    return current_app.extensions["koordinator.db"]


def _printer(name: str) -> Printer:
    printer = Printer.get_or_none(Printer.name == name)
    if printer is None:
        raise NotFound("unknown_printer", f"No printer {name}")
    return printer


class JobsQuery(Strict):
    state: State | None = None
    printer: Code | None = None


@op(
    "GET",
    "/print-jobs",
    role="clerk",
    tag="printers",
    summary="Print jobs, newest first (200), with state, attempts and last error",
    query=JobsQuery,
    responses={200: ("Print jobs", None)},
)
def list_jobs(query: JobsQuery):
    ids = siteaccess.printer_ids(current_user())
    return {"jobs": printjobs.listing(query.state, query.printer, printer_ids=ids)}


@op(
    "POST",
    "/print-jobs/<int:job_id>/retry",
    role="clerk",
    tag="printers",
    summary="Retry a print job: a queued one now, a sent, failed or cancelled one again",
    responses={
        200: ("Queued", None),
        404: ("No such job", None),
        409: ("printer_unavailable: the printer is not active", None),
    },
)
def retry_job(job_id: int):
    siteaccess.check_print_job(current_user(), job_id)
    with _db().atomic():
        job = printjobs.retry(job_id, utcnow())
    return printjobs.job_dict(printjobs.get(job.id))


@op(
    "POST",
    "/print-jobs/<int:job_id>/cancel",
    role="clerk",
    tag="printers",
    summary="Cancel a print job not yet printed",
    responses={
        200: ("Cancelled", None),
        404: ("No such job", None),
        409: ("print_job_sent: printed already", None),
    },
)
def cancel_job(job_id: int):
    siteaccess.check_print_job(current_user(), job_id)
    with _db().atomic():
        job = printjobs.cancel(job_id)
    return printjobs.job_dict(job)


@op(
    "POST",
    "/printers/<name>/test",
    role="clerk",
    tag="printers",
    summary="Queue a test label at a printer (202 with the job)",
    responses={
        202: ("Queued", None),
        404: ("Unknown printer", None),
        409: ("printer_unavailable: the printer is not active", None),
    },
)
def queue_test_print(name: str):
    printer = siteaccess.check_printer(current_user(), _printer(name), name)
    with _db().atomic():
        job, _event = printjobs.enqueue(
            printer,
            source="test",
            now=utcnow(),
            data=test_label(printer),
            user_id=current_user().id,
        )
    return printjobs.job_dict(job, printer.name), 202


class RuleIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [{"station": "ASSY", "event": "complete", "printer": "zebra-assy"}]
        }
    )

    station: Code
    event: RuleEvent
    printer: Code
    template: Code | None = pydantic.Field(
        default=None, description="a label template's name (none: the default template)"
    )


def rule_dict(rule: PrintRule) -> dict:
    return {
        "station": Station.get_by_id(rule.station_id).code,
        "event": rule.event,
        "printer": Printer.get_by_id(rule.printer_id).name,
        "template": rule.template,
    }


@op(
    "PUT",
    "/print-rules",
    role="admin",
    tag="printers",
    summary="Set a station's print rule for receive, split or complete",
    body=RuleIn,
    responses={
        200: ("Set", None),
        404: ("Unknown station, printer or template", None),
        409: ("media_mismatch: the template's label is larger than the printer's media", None),
    },
)
def put_rule(body: RuleIn):
    station = Station.get_or_none(Station.code == body.station)
    if station is None:
        raise NotFound("unknown_station", f"No station {body.station}")
    printer = _printer(body.printer)
    with _db().atomic():
        rule = printjobs.set_rule(station, body.event, printer, body.template)
    return rule_dict(rule)


@op(
    "GET",
    "/print-rules",
    role="admin",
    tag="printers",
    summary="The stations' print rules",
    responses={200: ("Rules", None)},
)
def list_rules():
    rows = PrintRule.select().order_by(PrintRule.station, PrintRule.event)
    return {"rules": [rule_dict(r) for r in rows]}


@op(
    "DELETE",
    "/print-rules/<station>/<event>",
    role="admin",
    tag="printers",
    summary="Remove a station's print rule",
    responses={200: ("Removed", None), 404: ("No such rule", None)},
)
def delete_rule(station: str, event: str):
    where = Station.get_or_none(Station.code == station)
    removed = 0
    if where is not None:
        removed = (
            PrintRule.delete()
            .where((PrintRule.station == where) & (PrintRule.event == event))
            .execute()
        )
    if not removed:
        raise NotFound("unknown_rule", f"No {event} rule at {station}")
    return {"deleted": {"station": station, "event": event}}
