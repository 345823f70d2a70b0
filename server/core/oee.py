"""OEE per station and shift, from counters kept in the scan transaction.

Availability = run time / planned time, where planned time is the shift (up to now while
it runs) less its planned breaks, and run time is planned time minus the station's downtime
(the union of its machines' down stretches, clipped to the shift; the part inside a break
is not counted, the break being off the planned time already). The shift is the station's:
the one of that name at the station's site, else the plant-wide one (server/core/shifts.py).
Performance = (good + scrap) / (run hours x standard rate), the rate being the lowest
`rate_per_hour` of the station's active machines (a station runs at its slowest machine's
pace). Quality = good / (good + scrap).
OEE = availability x performance x quality.

Good and scrap come from `OeeBucket` rows (station x quarter hour, UTC) that every
accepted scan adds to in its own transaction (`OeeDelta`, flushed once per batch like the
stock counters): start, move and complete add the item's quantity to `units` at the
station; a scrap adds to `scrap`, and takes the quantity back out of `units` when the item
was counted at that same station (it was produced there, then scrapped there). A month of
one station is under 3,000 bucket rows, so a figure never reads the ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import peewee as pw

from server.core import hot, machines, shifts
from server.models import Machine, OeeBucket, Shift, Station

BUCKET_MINUTES = 15


def bucket_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(
        minute=moment.minute - moment.minute % BUCKET_MINUTES, second=0, microsecond=0
    )


class OeeDelta:
    """Units and scrap per (station, bucket) collected during a scan or batch."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[tuple[int, dt.datetime], list] = {}

    def add(self, station_id: int, when: dt.datetime, units=0, scrap=0) -> None:
        key = (station_id, bucket_of(when))
        entry = self._d.get(key)
        if entry is None:
            self._d[key] = [Decimal(units), Decimal(scrap)]
        else:
            entry[0] += Decimal(units)
            entry[1] += Decimal(scrap)

    def merge(self, other: OeeDelta) -> None:
        for (station_id, bucket), (units, scrap) in other._d.items():
            entry = self._d.get((station_id, bucket))
            if entry is None:
                self._d[(station_id, bucket)] = [units, scrap]
            else:
                entry[0] += units
                entry[1] += scrap
        other._d.clear()

    def flush(self) -> None:
        for (station_id, bucket), (units, scrap) in sorted(self._d.items()):
            if units or scrap:
                hot.upsert_oee(station_id, bucket, units, scrap)
        self._d.clear()


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den > 0 else None


def station_oee(
    station: Station, shift: Shift, day: dt.date, now: dt.datetime, tz: str | None
) -> dict:
    """The OEE of `station` in `shift` of local `day`, with every input of the formula."""
    start, end = shifts.window(shift, day, tz)
    until = max(start, min(end, now))
    shift_minutes = (until - start).total_seconds() / 60
    breaks = [(s, min(e, until)) for s, e in shifts.break_windows(shift, day, tz) if s < until]
    break_minutes = sum((e - s).total_seconds() for s, e in breaks) / 60
    planned = shift_minutes - break_minutes
    stretches = []
    intervals = []
    for d, code in machines.downtimes([station.id], start, until):
        s = max(d.started_at, start)
        e = min(d.ended_at or until, until)
        if e > s:
            intervals.append((s, e))
            stretches.append(
                {
                    "machine": code,
                    "reason": d.why,
                    "from": d.started_at.isoformat() + "Z",
                    "to": d.ended_at.isoformat() + "Z" if d.ended_at else None,
                    "minutes_in_shift": round((e - s).total_seconds() / 60, 2),
                }
            )
    # breaks never overlap one another: the union's part in each break, summed
    down_in_breaks = (
        sum(
            machines.down_minutes(
                [(max(s, bs), min(e, be)) for s, e in intervals if s < be and e > bs]
            )
            for bs, be in breaks
        )
        + 0.0
    )
    down = machines.down_minutes(intervals) - down_in_breaks
    run = max(planned - down, 0.0)
    row = (
        OeeBucket.select(
            pw.fn.COALESCE(pw.fn.SUM(OeeBucket.units), 0),
            pw.fn.COALESCE(pw.fn.SUM(OeeBucket.scrap), 0),
        )
        .where(
            (OeeBucket.station_id == station.id)
            & (OeeBucket.bucket >= start)
            & (OeeBucket.bucket < end)
        )
        .tuples()
        .first()
    )
    good, scrap = float(row[0] or 0), float(row[1] or 0)
    rate = (
        Machine.select(pw.fn.MIN(Machine.rate_per_hour))
        .where(
            (Machine.station == station.id)
            & (Machine.active == True)  # noqa: E712
            & Machine.rate_per_hour.is_null(False)
        )
        .scalar()
    )
    rate = float(rate) if rate is not None else None
    total = good + scrap
    availability = _ratio(run, planned)
    ideal = run / 60 * rate if rate else 0.0
    performance = _ratio(total, ideal) if rate else None
    quality = _ratio(good, total)
    parts = (availability, performance, quality)
    figure = round(availability * performance * quality, 4) if None not in parts else None
    return {
        "station": station.code,
        "shift": shift.name,
        "day": day.isoformat(),
        "from": start.isoformat() + "Z",
        "to": end.isoformat() + "Z",
        "until": until.isoformat() + "Z",
        "site": shifts.site_code_map().get(shift.site_id) if shift.site_id else None,
        "breaks": shifts.break_texts(shift),
        "inputs": {
            "shift_minutes": round(shift_minutes, 2),
            "break_minutes": round(break_minutes, 2),
            "planned_minutes": round(planned, 2),
            "downtime_in_breaks_minutes": round(down_in_breaks, 2),
            "downtime_minutes": round(down, 2),
            "run_minutes": round(run, 2),
            "rate_per_hour": rate,
            "ideal_units": round(ideal, 4),
            "good": good,
            "scrap": scrap,
            "total": total,
        },
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": figure,
        "formula": "oee = availability x performance x quality; availability = run_minutes / "
        "planned_minutes (planned = shift - breaks; run = planned - downtime, downtime in a "
        "break not counted); performance = total / (run_minutes / "
        "60 x rate_per_hour); quality = good / total",
        "downtime": stretches,
    }
