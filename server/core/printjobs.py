"""Print jobs and print rules: labels asked for by a scan or an action, queued as rows.

A print job is a `print_job` row plus a `print.job` event (subject `printer:<id>`),
both written in the transaction of the scan or action that asks for the label: a scan
rolled back prints nothing, a committed one is never forgotten. The dispatcher delivers
the events to each printer's sink (server/dispatch.py `PrinterSink`, one `sink` row of
kind `printer` per printer), which draws the label, sends it, and marks the job `sent`
only after the printer took the bytes (docs/labels.md "Print jobs").

Print rules (`print_rule`): per station, on `receive`, `split` or `complete`, the template
and the printer. `for_scan` is called by the scan path for an accepted scan and costs a
dict lookup when no rule matches (the rules are read once per batch).
"""

from __future__ import annotations

import datetime as dt

from server.core import events, labeltemplates, printers
from server.core.errors import Conflict, Invalid, NotFound
from server.models import DeliveryAttempt, Printer, PrintJob, PrintRule, Sink, utcnow

EVENT_TYPE = "print.job"
RULE_EVENTS = ("receive", "split", "complete")
STATES = ("queued", "sent", "cancelled", "failed")
SINK_KIND = "printer"


def sink_name(printer_id: int) -> str:
    return f"printer:{printer_id}"


def subject(printer_id: int) -> str:
    return f"printer:{printer_id}"


def ensure_sink(printer: Printer, now: dt.datetime | None = None) -> Sink:
    """The printer's sink (made on first use: it starts after the newest event now)."""
    sink = Sink.get_or_none(Sink.name == sink_name(printer.id))
    if sink is None:
        sink = Sink.create(
            name=sink_name(printer.id),
            kind=SINK_KIND,
            config={"printer": printer.id, "subject": subject(printer.id)},
            types=[EVENT_TYPE],
            cursor=events.last_id(),
            created_at=now or utcnow(),
        )
    return sink


def _event(job_id: int, printer: Printer, item_code: str | None) -> tuple[str, str, dict]:
    payload = {"job": job_id, "printer": printer.name, "item": item_code}
    return (EVENT_TYPE, subject(printer.id), payload)


def enqueue(
    printer: Printer,
    *,
    source: str,
    now: dt.datetime,
    item=None,
    template: str | None = None,
    data: bytes | None = None,
    labels: int = 1,
    user_id: int | None = None,
    scan_id: str | None = None,
    emit: bool = True,
) -> tuple[PrintJob, tuple[str, str, dict]]:
    """A queued job in the caller's transaction, and its event (written here unless
    `emit` is False: the scan path writes its events with the batch)."""
    if not printer.active:
        raise Conflict("printer_unavailable", f"Printer {printer.name} is not active")
    ensure_sink(printer, now)
    job = PrintJob.create(
        printer=printer,
        source=source,
        item=item,
        template=template,
        data=data,
        labels=labels,
        created_by=user_id,
        scan_id=scan_id,
        created_at=now,
    )
    event = _event(job.id, printer, item.code if item is not None else None)
    if emit:
        events.write([event], now)
    return job, event


# --- print rules ------------------------------------------------------------------------


def rules_by_station() -> dict[tuple[int, str], tuple[PrintRule, Printer]]:
    """Every rule with its printer, by (station id, event): one query, once per batch."""
    rows = PrintRule.select(PrintRule, Printer).join(Printer).where(Printer.active == True)  # noqa: E712
    return {(r.station_id, r.event): (r, r.printer) for r in rows}


def rule_event(action: str | None, warnings: list[dict]) -> str | None:
    """Which rule an accepted scan triggers: split (a part split off) before its action."""
    if any(w.get("code") == "split" for w in warnings):
        return "split"
    if action in ("receive", "complete"):
        return action
    return None


def for_scan(rules: dict, station_id: int | None, action, warnings, item, scan_id, now):
    """The print job of an accepted scan's rule, or None: (printer name, event)."""
    if station_id is None or item is None or not rules:
        return None
    on = rule_event(action, warnings)
    if on is None:
        return None
    found = rules.get((station_id, on))
    if found is None:
        return None
    rule, printer = found
    _job, event = enqueue(
        printer, source=on, now=now, item=item, template=rule.template, scan_id=scan_id, emit=False
    )
    return printer.name, event


def set_rule(station, event: str, printer: Printer, template: str | None) -> PrintRule:
    """A station's rule for `event` (one per station and event: set again, replaced).
    The template must exist (`unknown_template`) and fit the printer's media
    (`media_mismatch`); a template edited later to a larger size fails its jobs instead."""
    if event not in RULE_EVENTS:
        raise Invalid("bad_payload", f"event is one of {', '.join(RULE_EVENTS)}")
    row = labeltemplates.get(template or labeltemplates.DEFAULT)
    design = labeltemplates.design_of(row)
    printers.check_fits(printer, design.width, design.height, f"template {row.name}")
    rule = PrintRule.get_or_none((PrintRule.station == station) & (PrintRule.event == event))
    if rule is None:
        return PrintRule.create(station=station, event=event, printer=printer, template=template)
    rule.printer, rule.template = printer, template
    rule.save()
    return rule


# --- a clerk's retry and cancel ---------------------------------------------------------


def get(job_id: int) -> PrintJob:
    job = PrintJob.get_or_none(PrintJob.id == job_id)
    if job is None:
        raise NotFound("unknown_print_job", f"No print job {job_id}")
    return job


def _wake(printer_id: int) -> None:
    """Try the printer's pending event now instead of at its next backoff."""
    Sink.update(retry_at=None).where(Sink.name == sink_name(printer_id)).execute()


def retry(job_id: int, now: dt.datetime) -> PrintJob:
    """A queued job: try it now. A sent, failed or cancelled one: queue it again (a
    reprint, a new event)."""
    job = get(job_id)
    printer = Printer.get_by_id(job.printer_id)
    if job.state != "queued":
        if not printer.active:
            raise Conflict("printer_unavailable", f"Printer {printer.name} is not active")
        ensure_sink(printer, now)
        job.state, job.last_error = "queued", ""
        job.save()
        code = job.item.code if job.item_id else None
        events.write([_event(job.id, printer, code)], now)
    _wake(printer.id)
    return job


def cancel(job_id: int) -> PrintJob:
    job = get(job_id)
    if job.state == "sent":
        raise Conflict("print_job_sent", f"Print job {job_id} was printed already")
    job.state = "cancelled"
    job.save()
    _wake(job.printer_id)  # the sink passes it by now, not after its backoff
    return job


def printer_state(printer: Printer) -> dict:
    """Online state from the last attempt of the printer's sink: online, offline or
    unknown (never tried), with queued jobs."""
    sink = Sink.get_or_none(Sink.name == sink_name(printer.id))
    last = None
    if sink is not None:
        last = (
            DeliveryAttempt.select()
            .where(DeliveryAttempt.sink == sink)
            .order_by(DeliveryAttempt.id.desc())
            .first()
        )
    queued = (
        PrintJob.select()
        .where((PrintJob.printer == printer) & (PrintJob.state == "queued"))
        .count()
    )
    return {
        "online": None if last is None else bool(last.ok),
        "state": "unknown" if last is None else ("online" if last.ok else "offline"),
        "last_attempt_at": last.at.isoformat() + "Z" if last is not None else None,
        "queued": queued,
    }


def job_dict(job: PrintJob, printer_name: str | None = None) -> dict:
    return {
        "id": job.id,
        "printer": printer_name or Printer.get_by_id(job.printer_id).name,
        "state": job.state,
        "source": job.source,
        "item": job.item.code if job.item_id else None,
        "template": job.template,
        "version": job.version,
        "labels": job.labels,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "created_at": job.created_at.isoformat() + "Z",
        "sent_at": job.sent_at.isoformat() + "Z" if job.sent_at else None,
    }


def listing(
    state: str | None = None, printer: str | None = None, limit: int = 200, printer_ids=None
):
    """The newest jobs; `printer_ids` (a user limited to sites) keeps those printers'."""
    query = PrintJob.select(PrintJob, Printer).join(Printer)
    if printer_ids is not None:
        query = query.where(Printer.id.in_(list(printer_ids) or [-1]))
    if state:
        query = query.where(PrintJob.state == state)
    if printer:
        query = query.where(Printer.name == printer)
    rows = query.order_by(PrintJob.id.desc()).limit(limit)
    return [job_dict(j, j.printer.name) for j in rows]


# --- an item's history: the labels queued for it and their outcome ----------------------

#: a job's outcome as an item's history shows it (a queued job has none yet)
OUTCOMES = {"sent": "label_sent", "failed": "label_failed", "cancelled": "label_cancelled"}


def item_prints(item_id: int) -> list[dict]:
    """The print jobs of an item (a station's rule, a clerk's reprint of one) as history
    entries, oldest first: `label_queued` when the job was made, then its outcome
    (`label_sent` at `sent_at`, `label_failed` or `label_cancelled` at its last attempt)
    while it has one. Each: at, action, printer, job, source, error."""
    rows = (
        PrintJob.select(PrintJob, Printer.name)
        .join(Printer)
        .where(PrintJob.item == item_id)
        .order_by(PrintJob.id)
    )
    out: list[dict] = []
    for job in rows:
        base = {"printer": job.printer.name, "job": job.id, "source": job.source}
        out.append({"at": job.created_at, "action": "label_queued", "error": None, **base})
        outcome = OUTCOMES.get(job.state)
        if outcome is not None:
            at = job.sent_at if job.state == "sent" else job.last_attempt_at
            error = (job.last_error or None) if job.state == "failed" else None
            out.append({"at": at or job.created_at, "action": outcome, "error": error, **base})
    out.sort(key=lambda e: e["at"])
    return out


def label_message(entry: dict) -> str:
    """The English line of an item_prints entry."""
    printer = entry["printer"]
    if entry["action"] == "label_queued":
        return f"Label queued at {printer}"
    if entry["action"] == "label_sent":
        return f"Label sent to {printer}"
    if entry["action"] == "label_cancelled":
        return f"Label cancelled at {printer}"
    return f"Label failed at {printer}" + (f": {entry['error']}" if entry["error"] else "")


def merged(history: list, prints: list[dict], at, newest_first: bool = False) -> list:
    """`history` (ledger rows in their own order) with the `prints` entries placed by
    time; `at(row)` is a history row's time. The ledger's order is kept as it is."""
    prints = sorted(prints, key=lambda e: e["at"], reverse=newest_first)
    out: list = []
    k = 0
    for row in history:
        when = at(row)
        while k < len(prints) and (
            prints[k]["at"] > when if newest_first else prints[k]["at"] < when
        ):
            out.append(prints[k])
            k += 1
        out.append(row)
    out.extend(prints[k:])
    return out
