"""Who is signed in where, from badge scans, and how many scans each person made today.

Signed in: a scanner's context holds an operator (set by a `CMD-OP-<badge>` scan, cleared
by the same badge again or `CMD-OUT`). The sign-in time is that scanner's latest accepted
OP command scan for the operator (ledger `code_kind` `command`, answer action
`command:op`). Scans today: the ledger's item scans (command scans left out) with that
operator, received since 00:00 in the plant's time zone (`tz`, an IANA name; None is
UTC), accepted and rejected.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from server.core import plantday, siteaccess
from server.models import LedgerEntry, Scanner, Station, User


def people(now: dt.datetime, tz: str | None = None, station_ids=None) -> dict:
    """`station_ids` (a user limited to sites: a list of ids or `siteaccess.stations_query`)
    keeps the sign-ins at those stations and the scans made there."""
    day = plantday.local_date(now, tz)
    since = plantday.day_start(day, tz)
    signed_in = list(
        Scanner.select(
            Scanner.id, Scanner.context_at, User.id, User.username, User.role, Station.code
        )
        .join(User, on=(Scanner.operator == User.id))
        .switch(Scanner)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(Scanner.station == Station.id))
        .where(
            pw.SQL("1 = 1")
            if station_ids is None
            else siteaccess.among(Scanner.station, station_ids)
        )
        .order_by(Station.code, Scanner.id)
        .tuples()
    )
    sign_in_at = {
        (scanner_id, user_id): _signed_in_at(scanner_id, user_id)
        for scanner_id, _c, user_id, *_ in signed_in
    }
    counts: dict[int, dict] = {}
    rows = (
        LedgerEntry.select(
            LedgerEntry.operator,
            LedgerEntry.status,
            pw.fn.COUNT(LedgerEntry.id),
            pw.fn.MAX(LedgerEntry.received_at),
        )
        .where(
            (LedgerEntry.received_at >= since)
            & (LedgerEntry.origin == "scan")
            & LedgerEntry.operator.is_null(False)
            & (pw.fn.COALESCE(LedgerEntry.code_kind, "") != "command")
            & (
                pw.SQL("1 = 1")
                if station_ids is None
                else siteaccess.among(LedgerEntry.station, station_ids)
            )
        )
        .group_by(LedgerEntry.operator, LedgerEntry.status)
        .tuples()
    )
    for operator_id, status, n, last in rows:
        c = counts.setdefault(operator_id, {"scans": 0, "accepted": 0, "rejected": 0, "last": None})
        c["scans"] += n
        c[status] = c.get(status, 0) + n
        c["last"] = max(c["last"], last) if c["last"] else last
    names = {
        u.id: u
        for u in User.select(User.id, User.username, User.role).where(
            User.id.in_(list(counts) or [0])
        )
    }
    stations_of: dict[int, list[str]] = {}
    out_signed = []
    for scanner_id, context_at, user_id, username, role, station in signed_in:
        at = sign_in_at.get((scanner_id, user_id)) or context_at
        stations_of.setdefault(user_id, []).append(station)
        out_signed.append(
            {
                "operator": username,
                "role": role,
                "station": station,
                "scanner": scanner_id,
                "since": at.isoformat() + "Z" if at else None,
                "scans_today": counts.get(user_id, {}).get("scans", 0),
            }
        )
    today = [
        {
            "operator": names[uid].username,
            "role": names[uid].role,
            "scans": c["scans"],
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "last_scan_at": c["last"].isoformat() + "Z" if c["last"] else None,
            "signed_in_at": stations_of.get(uid, []),
        }
        for uid, c in sorted(counts.items(), key=lambda kv: names[kv[0]].username)
        if uid in names
    ]
    return {"date": day.isoformat(), "signed_in": out_signed, "today": today}


def _signed_in_at(scanner_id: str, user_id: int) -> dt.datetime | None:
    """When `user_id` signed in at `scanner_id`: its latest accepted OP command there."""
    rows = (
        LedgerEntry.select(LedgerEntry.received_at, LedgerEntry.result)
        .where(
            (LedgerEntry.scanner_id == scanner_id)
            & (LedgerEntry.code_kind == "command")
            & (LedgerEntry.operator == user_id)
            & (LedgerEntry.status == "accepted")
        )
        .order_by(LedgerEntry.id.desc())
        .limit(20)
    )
    for row in rows:
        if (row.result or {}).get("action") == "command:op":
            return row.received_at
    return None
