"""Shifts as data: a name, a start and an end in the plant's local time.

A shift runs from `start` to `end` ("HH:MM", on quarter hours, so its figures add up from
the quarter-hour OEE buckets exactly); an end at or before the start ends on the next
day (a night shift 22:00-06:00). A shift "of a day" is the one that starts on that local
day. Shifts are not yet per site: the plant has one list (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import re

from server.core import plantday
from server.core.errors import Conflict, Invalid, NotFound
from server.models import Shift

TIME_PATTERN = r"^([01][0-9]|2[0-3]):(00|15|30|45)$"
_TIME_RE = re.compile(TIME_PATTERN)


def parse_time(text: str) -> dt.time:
    m = _TIME_RE.match(text or "")
    if m is None:
        raise Invalid("bad_time", f"{text!r} is not a time HH:MM on a quarter hour")
    return dt.time(int(m.group(1)), int(m.group(2)))


def as_dict(shift: Shift) -> dict:
    return {
        "name": shift.name,
        "start": shift.start,
        "end": shift.end,
        "hours": hours(shift),
        "active": shift.active,
    }


def hours(shift: Shift) -> float:
    start, end = parse_time(shift.start), parse_time(shift.end)
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return (minutes if minutes > 0 else minutes + 24 * 60) / 60


def window(shift: Shift, day: dt.date, tz: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The shift of local `day` as (start, end), naive UTC."""
    zone = plantday.zone(tz)
    start_t, end_t = parse_time(shift.start), parse_time(shift.end)
    start = dt.datetime.combine(day, start_t, tzinfo=zone)
    end_day = day if end_t > start_t else day + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, end_t, tzinfo=zone)
    return (
        start.astimezone(dt.UTC).replace(tzinfo=None),
        end.astimezone(dt.UTC).replace(tzinfo=None),
    )


def find(name: str) -> Shift:
    shift = Shift.get_or_none(Shift.name == name)
    if shift is None:
        raise NotFound("unknown_shift", f"No shift {name}")
    return shift


def create(name: str, start: str, end: str) -> Shift:
    parse_time(start)
    parse_time(end)
    if start == end:
        raise Invalid("bad_time", "A shift needs an end other than its start")
    if Shift.get_or_none(Shift.name == name) is not None:
        raise Conflict("exists", f"Shift {name} exists")
    return Shift.create(name=name, start=start, end=end)


def upsert(name: str, start: str, end: str, active: bool = True) -> str:
    """A shift by name, created or replaced (CSV import); returns the outcome."""
    parse_time(start)
    parse_time(end)
    if start == end:
        raise Invalid("bad_time", "A shift needs an end other than its start")
    shift = Shift.get_or_none(Shift.name == name)
    if shift is None:
        Shift.create(name=name, start=start, end=end, active=active)
        return "created"
    if (shift.start, shift.end, shift.active) == (start, end, active):
        return "unchanged"
    Shift.update(start=start, end=end, active=active).where(Shift.id == shift.id).execute()
    return "updated"
