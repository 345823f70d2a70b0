"""Machines at stations, their state and the downtime log.

A machine is running, idle or down; down always has a reason from the plant's reason list
that applies to `downtime` (`CMD-DOWN-<reason>` at the station, the API, or the machine's
own MQTT message). Every stretch of down is one `Downtime` row, open until the machine is
up again (or down for another reason: that closes the row and opens a new one). Idle is
not downtime: the machine could run but has no work.

While any active machine of a station is down, its item scans meet the `machine_down`
check (warn by default, reject by station policy; see server/core/scans.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from server.core import reasonlist
from server.core.errors import Invalid, NotFound, Rejected
from server.models import Downtime, Machine, Reason, Station

STATES = ("running", "idle", "down")
SOURCES = ("scan", "api", "mqtt")


def as_dict(machine: Machine, station_code: str | None = None) -> dict:
    if station_code is None:
        station_code = Station.select(Station.code).where(Station.id == machine.station_id).scalar()
    return {
        "code": machine.code,
        "name": machine.name,
        "station": station_code,
        "rate_per_hour": None if machine.rate_per_hour is None else float(machine.rate_per_hour),
        "state": machine.state,
        "reason": machine.state_why,
        "since": machine.state_since.isoformat() + "Z",
        "active": machine.active,
    }


def find(code: str) -> Machine:
    machine = Machine.get_or_none(Machine.code == code)
    if machine is None:
        raise NotFound("unknown_machine", f"No machine {code}")
    return machine


def set_state(
    machine: Machine,
    state: str,
    why: str | None,
    *,
    now: dt.datetime,
    source: str,
    user_id: int | None = None,
    find_reason: Callable[[str], Reason | None] = reasonlist.lookup,
) -> bool:
    """Put `machine` into `state` (down with `why`, a downtime reason). Returns False when
    nothing changed (already in that state for that reason). Raises Rejected
    `unknown_reason` / `reason_not_applicable` for a bad reason, `reason_required` for down
    without one; Invalid `bad_state` for another state or a reason given with up/idle."""
    if state not in STATES:
        raise Invalid("bad_state", f"State {state!r}: one of {', '.join(STATES)}")
    if state == "down":
        if not why:
            raise Rejected("reason_required", "A machine goes down with a downtime reason")
        why = reasonlist.check_reason(why, "downtime", find_reason).code
    elif why:
        raise Invalid("bad_state", f"Only down takes a reason ({state} given {why})")
    if machine.state == state and (machine.state_why or None) == (why or None):
        return False
    if machine.state == "down":
        Downtime.update(ended_at=now, ended_source=source).where(
            (Downtime.machine == machine.id) & Downtime.ended_at.is_null()
        ).execute()
    if state == "down":
        Downtime.create(
            machine=machine.id,
            station_id=machine.station_id,
            why=why,
            started_at=now,
            source=source,
            user_id=user_id,
        )
    Machine.update(state=state, state_why=why, state_since=now).where(
        Machine.id == machine.id
    ).execute()
    machine.state, machine.state_why, machine.state_since = state, why, now
    return True


def at_station(station_id: int) -> list[Machine]:
    return list(
        Machine.select()
        .where((Machine.station == station_id) & (Machine.active == True))  # noqa: E712
        .order_by(Machine.code)
    )


def downtimes(
    station_ids: list[int], start: dt.datetime, end: dt.datetime
) -> list[tuple[Downtime, str]]:
    """Downtime rows of the stations overlapping [start, end), with the machine code."""
    rows = (
        Downtime.select(Downtime, Machine.code)
        .join(Machine)
        .where(
            Downtime.station_id.in_(station_ids)
            & (Downtime.started_at < end)
            & (Downtime.ended_at.is_null() | (Downtime.ended_at > start))
        )
        .order_by(Downtime.started_at)
    )
    return [(d, d.machine.code) for d in rows]


def down_minutes(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    """Minutes covered by the union of intervals (two machines down at once count once)."""
    total = 0.0
    cur_start = cur_end = None
    for s, e in sorted(intervals):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total / 60


def log(machine: Machine, limit: int = 500) -> list[dict]:
    """The machine's downtime stretches, newest first."""
    rows = (
        Downtime.select()
        .where(Downtime.machine == machine.id)
        .order_by(Downtime.started_at.desc(), Downtime.id.desc())
        .limit(limit)
    )
    return [
        {
            "reason": d.why,
            "from": d.started_at.isoformat() + "Z",
            "to": d.ended_at.isoformat() + "Z" if d.ended_at else None,
            "minutes": round(((d.ended_at or d.started_at) - d.started_at).total_seconds() / 60, 2)
            if d.ended_at
            else None,
            "source": d.source,
            "ended_by": d.ended_source,
        }
        for d in rows
    ]
