"""The event outbox: what happened, as rows written in the transaction of the change.

A scan, a hold from a page, an order's release each write their event rows beside their
own rows, in the same transaction: the change and its event commit together or not at
all. Nothing is sent from here; `server/dispatch.py` reads the outbox and delivers each
event to each sink (docs/events.md lists every type and its payload).

Ids grow in commit order. On PostgreSQL a writer takes a transaction-scoped advisory lock
(`OUTBOX_LOCK`) just before its first event row and keeps it to its commit, so no later
id can commit before an earlier one and a sink's cursor can be a single event id; the
scan path writes its events last, right before the commit, to hold the lock briefly.
SQLite has one writer at a time already.

Flags (server/core/flags.py) are computed, not stored; `evaluate_flags()` compares them
with the flags raised at its last run (`FlagState`) and emits `flag.raised` once when one
rises and `flag.cleared` once when it clears.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import peewee as pw

from server.core import flags as flag_rules
from server.core import hot
from server.models import Event, FlagState

#: every event type, what it means (docs/events.md has their payloads)
TYPES = {
    "scan.accepted": "a scan was applied",
    "scan.rejected": "a scan was refused (the ledger records it too)",
    "item.held": "an item was put on hold (scan, page or lot recall)",
    "item.released": "a held item was released",
    "item.scrapped": "an item was scrapped",
    "item.reworked": "a unit went back into work",
    "order.released": "a planned order was released to the floor",
    "order.done": "an order's completed quantity reached its planned quantity",
    "order.changed": "an order was edited or rescheduled (quantity, dates, station)",
    "order.closed": "an order was closed, cancelled or short-closed",
    "flag.raised": "a flag rose (late, behind, short, reorder, dwell, near_expiry)",
    "flag.cleared": "a flag that stood has cleared",
    "count.variance": "a cycle count closed with variances (missing, elsewhere, quantity)",
    "count.approved": "a cycle count was approved: its adjustments were written",
    "sink.disabled": "a sink failed for too long and was switched off",
    "print.job": "a label was queued for a printer (a print job, docs/labels.md)",
}
#: the item events of a scan's action
ACTION_EVENTS = {
    "hold": "item.held",
    "release": "item.released",
    "scrap": "item.scrapped",
    "rework": "item.reworked",
}
#: event types after which the flags are evaluated again (besides the timer)
FLAG_TRIGGERS = (
    "scan.accepted",
    "item.held",
    "item.released",
    "item.scrapped",
    "item.reworked",
    "order.released",
    "order.done",
    "order.changed",
    "order.closed",
)
#: any number, the same for every process: the outbox's commit order (PostgreSQL)
OUTBOX_LOCK = 0x6B7A6576  # "kzev"
#: one flag evaluation at a time (PostgreSQL; SQLite runs one dispatcher)
FLAG_LOCK = 0x6B7A666C  # "kzfl"
_CHUNK = 200


def _db() -> pw.Database:
    db = Event._meta.database
    return getattr(db, "obj", db)


@cache
def _insert_sql(param: str, rows: int) -> str:
    marks = ", ".join([f"({param}, {param}, {param}, {param})"] * rows)
    return f'INSERT INTO "event" ("type", "subject", "payload", "created_at") VALUES {marks}'


def _lock(db: pw.Database) -> None:
    if isinstance(db, pw.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (OUTBOX_LOCK,))


def write(rows: list[tuple[str, str, dict]], now: dt.datetime) -> None:
    """Append events `(type, subject, payload)` to the outbox, in order, inside the
    caller's transaction: one INSERT per 200 events."""
    if not rows:
        return
    db = _db()
    _lock(db)
    when = hot._dt(now)
    for i in range(0, len(rows), _CHUNK):
        chunk = rows[i : i + _CHUNK]
        params: list = []
        for type_, subject, payload in chunk:
            params.extend((type_, (subject or "")[:200], hot.compact_json(payload), when))
        db.execute_sql(_insert_sql(db.param, len(chunk)), params)


def emit(type_: str, subject: str, payload: dict, *, now: dt.datetime) -> None:
    """One event, in the caller's transaction (pages and the API; the scan path collects
    its events per batch and calls `write`)."""
    write([(type_, subject, payload)], now)


def scan_events(scan, result, ctx) -> list[tuple[str, str, dict]]:
    """The events of one answered scan: scan.accepted or scan.rejected, the item event of
    its action, order.done when it completed its order. `ctx` is the scan's context
    (server/core/scans.py `_Ctx`)."""
    payload = {
        "scan_id": scan.scan_id,
        "scanner": scan.scanner_id,
        "station": ctx.station.code if ctx.station is not None else None,
        "action": result.action,
        "item": result.item,
        "from_stage": ctx.from_stage,
        "stage": result.stage,
        "order": ctx.order.number if ctx.order is not None else None,
        "operator": ctx.operator.username if ctx.operator is not None else None,
        "why": ctx.why,
    }
    subject = result.item or scan.scanner_id
    if not result.accepted:
        payload["reason"] = result.reason
        payload["message"] = result.message
        return [("scan.rejected", subject, payload)]
    out = [("scan.accepted", subject, payload)]
    item_event = ACTION_EVENTS.get(result.action or "")
    if item_event is not None:
        out.append((item_event, subject, payload))
    if ctx.order_done is not None:
        out.append(("order.done", ctx.order_done, {"order": ctx.order_done, "by": "scan"}))
    return out


# --- flags ---------------------------------------------------------------------------


def current_flags(now: dt.datetime, tz: str | None = None) -> dict[str, dict]:
    """The flags standing now, by key `<flag>:<kind>:<name>` (an order's dwelling units
    are the station's dwell flag, not one more per order)."""
    out: dict[str, dict] = {}
    for f in flag_rules.compute(now, tz=tz).flat():
        flag = f["flag"]
        if "order" in f and flag != "dwell":
            kind, name = "order", f["order"]
        elif flag == "dwell" and "items" in f:
            kind, name = "station", f["station"]
        elif "product" in f and "order" not in f:
            # a reorder flag of one site's stock (flags.py): one flag per site
            kind, name = "product", f["product"] + (f"@{f['site']}" if f.get("site") else "")
        else:
            continue
        detail = {k: v for k, v in f.items() if k not in ("items", "lots", "materials")}
        out[f"{flag}:{kind}:{name}"] = {"flag": flag, "subject": f"{kind}:{name}", **detail}
    return out


def evaluate_flags(db: pw.Database, now: dt.datetime, tz: str | None = None) -> list[str]:
    """Compare the flags of `now` with those raised at the last evaluation; emit
    `flag.raised` / `flag.cleared` for each that changed and keep the new state. Returns
    the keys that changed (empty when another process is evaluating)."""
    from server.core.scans import writing  # scans imports this module

    standing = current_flags(now, tz)  # read outside the write transaction
    changed: list[str] = []
    with writing(db):
        if isinstance(db, pw.PostgresqlDatabase):
            got = db.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (FLAG_LOCK,))
            if not got.fetchone()[0]:
                return []
        known = {row.key: row for row in FlagState.select()}
        rows: list[tuple[str, str, dict]] = []
        for key in sorted(set(standing) - set(known)):
            f = standing[key]
            FlagState.create(key=key, flag=f["flag"], subject=f["subject"], raised_at=now, detail=f)
            rows.append(("flag.raised", f"flag:{key}", {"key": key, "state": "raised", **f}))
            changed.append(key)
        gone = sorted(set(known) - set(standing))
        for key in gone:
            old = known[key]
            payload = {
                **(old.detail or {}),
                "key": key,
                "state": "cleared",
                "flag": old.flag,
                "subject": old.subject,
                "raised_at": old.raised_at.isoformat() + "Z",
            }
            rows.append(("flag.cleared", f"flag:{key}", payload))
            changed.append(key)
        if gone:
            FlagState.delete().where(FlagState.key.in_(gone)).execute()
        write(rows, now)
    return changed


def flag_triggered_since(event_id: int) -> int | None:
    """The newest event id after `event_id` of a type that may change a flag, or None."""
    row = (
        Event.select(pw.fn.MAX(Event.id))
        .where((Event.id > event_id) & Event.type.in_(FLAG_TRIGGERS))
        .scalar()
    )
    return row


def last_id() -> int:
    return Event.select(pw.fn.MAX(Event.id)).scalar() or 0
