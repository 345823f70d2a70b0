"""Shifts as data: a name, a start and an end in the plant's local time, a site, breaks.

A shift runs from `start` to `end` ("HH:MM", on quarter hours, so its figures add up from
the quarter-hour OEE buckets exactly); an end at or before the start ends on the next
day (a night shift 22:00-06:00). A shift "of a day" is the one that starts on that local
day.

A shift belongs to a site, or (site null) to every site: the shifts of an existing
database, made before sites had shifts, keep their meaning. The same name may exist on two
sites, and beside a plant-wide one. A station's shifts are those of its site (the site of
its line-side location) and the plant-wide ones; where both have a name, the site's own
shift is the station's (docs/decisions.md).

Breaks are planned stops inside the shift, "HH:MM-HH:MM" local, on any minute: OEE's
planned time is the shift less its breaks, and downtime inside a break is not counted
(server/core/oee.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import peewee as pw

from server.core import locations, plantday
from server.core.errors import Conflict, Invalid
from server.models import Location, Shift, Site, Station

TIME_PATTERN = r"^([01][0-9]|2[0-3]):(00|15|30|45)$"
_TIME_RE = re.compile(TIME_PATTERN)
BREAK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
_BREAK_RE = re.compile(BREAK_PATTERN)
DAY_MINUTES = 24 * 60


def parse_time(text: str) -> dt.time:
    m = _TIME_RE.match(text or "")
    if m is None:
        raise Invalid("bad_time", f"{text!r} is not a time HH:MM on a quarter hour")
    return dt.time(int(m.group(1)), int(m.group(2)))


def _minute(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _length(start: str, end: str) -> int:
    minutes = _minute(end) - _minute(start)
    return minutes if minutes > 0 else minutes + DAY_MINUTES


def check_breaks(start: str, end: str, breaks: Iterable[str]) -> list[dict]:
    """Breaks given as "HH:MM-HH:MM", checked against the shift `start`-`end`: each inside
    the shift, none overlapping another; returned in order as [{"start", "end"}]."""
    length = _length(start, end)
    spans = []
    for text in breaks:
        if not _BREAK_RE.match(text or ""):
            raise Invalid("bad_break", f"{text!r} is not a break HH:MM-HH:MM")
        b_start, b_end = text[:5], text[6:]
        offset = (_minute(b_start) - _minute(start)) % DAY_MINUTES
        minutes = (_minute(b_end) - _minute(b_start)) % DAY_MINUTES
        if minutes == 0 or offset + minutes > length:
            raise Invalid("bad_break", f"Break {text} is not inside the shift {start}-{end}")
        spans.append((offset, offset + minutes, b_start, b_end))
    spans.sort()
    for a, b in zip(spans, spans[1:], strict=False):
        if b[0] < a[1]:
            raise Invalid("bad_break", f"Breaks {a[2]}-{a[3]} and {b[2]}-{b[3]} overlap")
    return [{"start": s, "end": e} for _o, _p, s, e in spans]


def break_texts(shift: Shift) -> list[str]:
    return [f"{b['start']}-{b['end']}" for b in shift.breaks or []]


def break_minutes(shift: Shift) -> int:
    return sum(_length(b["start"], b["end"]) for b in shift.breaks or [])


def as_dict(shift: Shift, site_codes: dict[int, str] | None = None) -> dict:
    if site_codes is None:
        site_codes = site_code_map()
    return {
        "name": shift.name,
        "site": site_codes.get(shift.site_id) if shift.site_id else None,
        "start": shift.start,
        "end": shift.end,
        "hours": hours(shift),
        "breaks": break_texts(shift),
        "break_minutes": break_minutes(shift),
        "active": shift.active,
    }


def site_code_map() -> dict[int, str]:
    return dict(Site.select(Site.id, Site.code).tuples())


def hours(shift: Shift) -> float:
    return _length(shift.start, shift.end) / 60


def window(shift: Shift, day: dt.date, tz: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The shift of local `day` as (start, end), naive UTC."""
    return _span(day, shift.start, _length(shift.start, shift.end), tz)


def _span(day: dt.date, start: str, minutes: int, tz: str | None):
    zone = plantday.zone(tz)
    begin = dt.datetime.combine(day, dt.time(int(start[:2]), int(start[3:5])), tzinfo=zone)
    # local wall-clock end, as a shift's end is read on the clock (a DST night differs)
    end_local = begin.replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    end = end_local.replace(tzinfo=zone)
    return (
        begin.astimezone(dt.UTC).replace(tzinfo=None),
        end.astimezone(dt.UTC).replace(tzinfo=None),
    )


def break_windows(
    shift: Shift, day: dt.date, tz: str | None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The breaks of the shift of local `day` as (start, end), naive UTC, in order."""
    first = _minute(shift.start)
    out = []
    for b in shift.breaks or []:
        offset = (_minute(b["start"]) - first) % DAY_MINUTES
        b_day = day + dt.timedelta(days=(first + offset) // DAY_MINUTES)
        out.append(_span(b_day, b["start"], _length(b["start"], b["end"]), tz))
    return out


# --- sites -----------------------------------------------------------------------------------


def site_id_of(code: str | None) -> int | None:
    """The id of site `code` (None: no site given); unknown_site when there is none."""
    return None if code is None else locations.known_site(code).id


def station_sites(station_ids: Iterable[int] | None = None) -> dict[int, int | None]:
    """Station id -> the site of its line-side location (None: the station has none), in
    one query (as the exports find a station's site)."""
    query = Station.select(Station.id, Location.site_id).join(
        Location, pw.JOIN.LEFT_OUTER, on=(Station.location_id == Location.id)
    )
    if station_ids is not None:
        query = query.where(Station.id.in_(list(station_ids)))
    return dict(query.tuples())


def of_site(site_id: int | None, active_only: bool = True) -> list[Shift]:
    """The shifts a station of site `site_id` works: the site's own and the plant-wide ones
    whose name the site does not have itself; by start, then name."""
    query = Shift.select().where(
        Shift.site_id.is_null() | (Shift.site_id == site_id)
        if site_id is not None
        else Shift.site_id.is_null()
    )
    if active_only:
        query = query.where(Shift.active == True)  # noqa: E712
    rows = list(query)
    own = {s.name for s in rows if s.site_id is not None}
    chosen = [s for s in rows if s.site_id is not None or s.name not in own]
    return sorted(chosen, key=lambda s: (s.start, s.name))


def for_site(name: str, site_id: int | None) -> Shift | None:
    """The shift called `name` at site `site_id`: its own, else the plant-wide one."""
    best = None
    for s in Shift.select().where(Shift.name == name):
        if s.site_id == site_id and site_id is not None:
            return s
        if s.site_id is None:
            best = s
    return best


def stations_working(shift: Shift, sites: dict[int, int | None]) -> set[int]:
    """The stations (of `sites`, station id -> site id) whose shift of its name is `shift`."""
    return {st for st, site in sites.items() if _is_for(shift, site)}


def _is_for(shift: Shift, site_id: int | None) -> bool:
    if shift.site_id is not None:
        return shift.site_id == site_id
    if site_id is None:
        return True
    own = Shift.select().where((Shift.name == shift.name) & (Shift.site_id == site_id))
    return not own.exists()


def active_names(site_ids: Iterable[int] | None = None) -> list[str]:
    """The names of the active shifts, each once (a name may exist on several sites); with
    `site_ids`, those of these sites and the plant-wide ones only."""
    query = Shift.select(Shift.name).where(Shift.active == True).distinct()  # noqa: E712
    if site_ids is not None:
        query = query.where(Shift.site_id.is_null() | Shift.site_id.in_(list(site_ids) or [-1]))
    return sorted(n for (n,) in query.tuples())


def exists(name: str) -> bool:
    return Shift.select().where(Shift.name == name).exists()


def _check(start: str, end: str, breaks: Iterable[str]) -> list[dict]:
    parse_time(start)
    parse_time(end)
    if start == end:
        raise Invalid("bad_time", "A shift needs an end other than its start")
    return check_breaks(start, end, breaks)


def _same_site(name: str, site_id: int | None) -> Shift | None:
    return Shift.get_or_none(
        (Shift.name == name)
        & (Shift.site_id.is_null() if site_id is None else Shift.site_id == site_id)
    )


def create(
    name: str, start: str, end: str, site: str | None = None, breaks: Iterable[str] = ()
) -> Shift:
    spans = _check(start, end, breaks)
    site_id = site_id_of(site)
    if _same_site(name, site_id) is not None:
        raise Conflict("exists", f"Shift {name} exists" + (f" at {site}" if site else ""))
    return Shift.create(name=name, start=start, end=end, site_id=site_id, breaks=spans)


def upsert(
    name: str,
    start: str,
    end: str,
    active: bool = True,
    site: str | None = None,
    breaks: Iterable[str] = (),
) -> str:
    """A shift by name and site, created or replaced (CSV import); returns the outcome."""
    spans = _check(start, end, breaks)
    site_id = site_id_of(site)
    shift = _same_site(name, site_id)
    if shift is None:
        Shift.create(name=name, start=start, end=end, active=active, site_id=site_id, breaks=spans)
        return "created"
    if (shift.start, shift.end, shift.active, shift.breaks or []) == (start, end, active, spans):
        return "unchanged"
    Shift.update(start=start, end=end, active=active, breaks=spans).where(
        Shift.id == shift.id
    ).execute()
    return "updated"
