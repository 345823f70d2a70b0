"""Operation times and labour, read from the ledger.

Operation times: a unit (or lot) is at a station from the accepted scan that brought it
there (start, move) until the scan that took it on (the next move, or complete); a
complete at the station it is at ends the stay there. Per order and routing step the
actual minutes (the sum over its units) stand against the routing's standard:
`setup_minutes` once plus `std_minutes` per unit.

Labour: an operator is signed in at a scanner from their accepted badge scan
(`CMD-OP-<badge>`) until the same badge again, another badge at that scanner, or
`CMD-OUT`. Minutes signed in are clipped to the asked window; the operator's scans are
the item scans (accepted and rejected) the ledger records with them as operator.
Both read ledger rows of one order or one window, through the ledger's indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import peewee as pw

from server.core import plantday, shifts
from server.core.errors import NotFound
from server.models import (
    Item,
    LedgerEntry,
    ProductionOrder,
    RoutingStep,
    Scanner,
    Station,
    User,
)

#: how far before the window sign-ins are replayed, to know who was signed in at its start
LOOKBACK = dt.timedelta(days=2)
_STAY_ACTIONS = ("start", "move", "complete")


def _minutes(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 60


def _num(value) -> float | None:
    return None if value is None else float(value)


def operation_times(order: ProductionOrder) -> dict:
    """Per unit and per routing step of `order`: minutes at each station, actual against
    standard."""
    rows = (
        LedgerEntry.select(
            LedgerEntry.item,
            LedgerEntry.action,
            LedgerEntry.station,
            LedgerEntry.received_at,
            Item.code,
            Item.qty,
        )
        .join(Item, on=(LedgerEntry.item == Item.id))
        .where(
            (Item.order == order.id)
            & (LedgerEntry.status == "accepted")
            & LedgerEntry.action.in_(_STAY_ACTIONS)
        )
        .order_by(LedgerEntry.item, LedgerEntry.received_at, LedgerEntry.id)
        .tuples()
    )
    codes = dict(Station.select(Station.id, Station.code).tuples())
    units: dict[str, dict] = {}
    per_station: dict[int, dict] = {}
    current: dict[int, tuple[int, dt.datetime]] = {}

    def close(item_code: str, qty, station_id: int, since: dt.datetime, until: dt.datetime):
        minutes = _minutes(since, until)
        units[item_code]["stations"].append(
            {
                "station": codes.get(station_id),
                "from": since.isoformat() + "Z",
                "to": until.isoformat() + "Z",
                "minutes": round(minutes, 2),
            }
        )
        agg = per_station.setdefault(station_id, {"units": Decimal(0), "minutes": 0.0})
        agg["units"] += Decimal(qty)
        agg["minutes"] += minutes

    for item_id, action, station_id, at, code, qty in rows:
        units.setdefault(code, {"item": code, "qty": float(qty), "stations": []})
        here = current.pop(item_id, None)
        if here is not None and (action != "complete" or here[0] != station_id):
            close(code, qty, here[0], here[1], at)
        if action in ("start", "move"):
            current[item_id] = (station_id, at)
        elif here is not None and here[0] == station_id:
            close(code, qty, station_id, here[1], at)  # completed where it was
    steps = list(
        RoutingStep.select()
        .where(RoutingStep.product == order.product_id)
        .order_by(RoutingStep.seq)
    )
    operations = []
    for step in steps:
        agg = per_station.get(step.station_id, {"units": Decimal(0), "minutes": 0.0})
        std = None
        if step.std_minutes is not None:
            std = float(Decimal(step.std_minutes) * agg["units"] + Decimal(step.setup_minutes or 0))
        operations.append(
            {
                "seq": step.seq,
                "station": codes.get(step.station_id),
                "units": float(agg["units"]),
                "actual_minutes": round(agg["minutes"], 2),
                "std_minutes_per_unit": _num(step.std_minutes),
                "setup_minutes": _num(step.setup_minutes),
                "standard_minutes": None if std is None else round(std, 2),
                "ratio": round(agg["minutes"] / std, 4) if std else None,
            }
        )
    return {
        "order": order.number,
        "operations": operations,
        "units": sorted(units.values(), key=lambda u: u["item"]),
        "in_progress": len(current),
    }


def labour(
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    stations: set[int] | None = None,
) -> dict:
    """Per operator: signed-in intervals at stations within [start, end), the minutes, and
    their scans in the window; with `stations` (ids), only those at these stations."""
    until = min(end, max(now, start))
    scanner_rows = (
        Scanner.select(Scanner.id, Station.code, Station.id)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(Scanner.station == Station.id))
        .tuples()
    )
    scanner_station = {
        sid: code for sid, code, st_id in scanner_rows if stations is None or st_id in stations
    }
    rows = (
        LedgerEntry.select(
            LedgerEntry.scanner_id,
            LedgerEntry.operator,
            LedgerEntry.received_at,
            LedgerEntry.result,
        )
        .where(
            (LedgerEntry.received_at >= start - LOOKBACK)
            & (LedgerEntry.received_at < until)
            & (LedgerEntry.code_kind == "command")
            & (LedgerEntry.status == "accepted")
        )
        .order_by(LedgerEntry.received_at, LedgerEntry.id)
        .tuples()
    )
    signed: dict[str, tuple[int, dt.datetime]] = {}  # scanner -> (user, since)
    intervals: dict[int, list[dict]] = {}

    def close(scanner_id: str, at: dt.datetime) -> None:
        user_id, since = signed.pop(scanner_id)
        s, e = max(since, start), min(at, until)
        if e > s:
            intervals.setdefault(user_id, []).append(
                {
                    "station": scanner_station.get(scanner_id),
                    "scanner": scanner_id,
                    "from": s.isoformat() + "Z",
                    "to": e.isoformat() + "Z",
                    "minutes": round(_minutes(s, e), 2),
                }
            )

    for scanner_id, user_id, at, result in rows:
        if stations is not None and scanner_id not in scanner_station:
            continue
        action = (result or {}).get("action")
        if action == "command:op" and user_id is not None:
            same = signed.get(scanner_id, (None,))[0] == user_id
            if scanner_id in signed:
                close(scanner_id, at)
            if not same:
                signed[scanner_id] = (user_id, at)
        elif action == "command:out" and scanner_id in signed:
            close(scanner_id, at)
    for scanner_id in list(signed):
        close(scanner_id, until)  # still signed in: up to now (or the window's end)
    scans = (
        LedgerEntry.select(
            LedgerEntry.operator,
            LedgerEntry.status,
            pw.fn.COUNT(LedgerEntry.id),
        )
        .where(
            (LedgerEntry.received_at >= start)
            & (LedgerEntry.received_at < end)
            & (LedgerEntry.origin == "scan")
            & LedgerEntry.operator.is_null(False)
            & (pw.fn.COALESCE(LedgerEntry.code_kind, "") != "command")
            & (LedgerEntry.station.in_(list(stations)) if stations is not None else pw.SQL("1 = 1"))
        )
        .group_by(LedgerEntry.operator, LedgerEntry.status)
        .tuples()
    )
    counts: dict[int, dict] = {}
    for user_id, status, n in scans:
        c = counts.setdefault(user_id, {"accepted": 0, "rejected": 0})
        c[status] = c.get(status, 0) + n
    ids = set(intervals) | set(counts)
    names = dict(User.select(User.id, User.username).where(User.id.in_(list(ids) or [0])).tuples())
    people = []
    for user_id in sorted(ids, key=lambda u: names.get(u, "")):
        c = counts.get(user_id, {"accepted": 0, "rejected": 0})
        spans = intervals.get(user_id, [])
        people.append(
            {
                "operator": names.get(user_id),
                "signed_in_minutes": round(sum(s["minutes"] for s in spans), 2),
                "intervals": spans,
                "scans": c["accepted"] + c["rejected"],
                "accepted": c["accepted"],
                "rejected": c["rejected"],
            }
        )
    return {
        "from": start.isoformat() + "Z",
        "to": end.isoformat() + "Z",
        "until": until.isoformat() + "Z",
        "operators": people,
    }


def merge(parts: list[dict]) -> list[dict]:
    """The operators of several `labour()` answers (one per site's shift window) as one
    list: intervals side by side, minutes and scans added."""
    by_name: dict[str, dict] = {}
    for part in parts:
        for p in part["operators"]:
            have = by_name.get(p["operator"])
            if have is None:
                by_name[p["operator"]] = {**p, "intervals": list(p["intervals"])}
                continue
            have["intervals"] += p["intervals"]
            for key in ("signed_in_minutes", "scans", "accepted", "rejected"):
                have[key] = round(have[key] + p[key], 2)
    return [by_name[k] for k in sorted(by_name, key=lambda n: n or "")]


def labour_of(
    day, shift_name: str | None, site_id: int | None, now, tz, only: Iterable[int] | None = None
) -> dict:
    """Labour of a day, or of a shift: each site's stations in the window of the shift of
    that name at their site (else the plant-wide one); `site_id`: only that site; `only`
    (station ids, a user limited to sites): only those stations."""
    keep = None if only is None else set(only)
    if shift_name is None:
        start = plantday.day_start(day, tz)
        end = plantday.day_start(day + dt.timedelta(days=1), tz)
        stations = keep
        if site_id is not None:
            stations = {
                s
                for s, site in shifts.station_sites().items()
                if site == site_id and (keep is None or s in keep)
            }
        return labour(start, end, now, stations)
    groups: dict[int | None, set[int]] = {}
    for st, site in shifts.station_sites().items():
        if (site_id is None or site == site_id) and (keep is None or st in keep):
            groups.setdefault(site, set()).add(st)
    parts = []
    for site, ids in sorted(groups.items(), key=lambda kv: kv[0] or 0):
        shift = shifts.for_site(shift_name, site)
        if shift is None:
            continue
        start, end = shifts.window(shift, day, tz)
        parts.append(labour(start, end, now, ids))
    if not parts:
        raise NotFound("unknown_shift", f"No shift {shift_name}")
    if len(parts) == 1:
        return parts[0]
    return {
        "from": min(p["from"] for p in parts),
        "to": max(p["to"] for p in parts),
        "until": max(p["until"] for p in parts),
        "operators": merge(parts),
    }
