"""The schedule view and the flags: GET /api/schedule, GET /api/flags."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import IsoDate, Strict
from server.core import adherence, flags, planning, plantday
from server.core.errors import Invalid
from server.models import utcnow


class ScheduleQuery(Strict):
    from_: IsoDate | None = pydantic.Field(default=None, alias="from")
    to: IsoDate | None = None
    bucket: Literal["day", "week"] = "day"


@op(
    "GET",
    "/schedule",
    role="operator",
    tag="schedule",
    summary="Planned vs completed per product and day/week, adherence, flagged orders",
    query=ScheduleQuery,
    responses={200: ("The schedule view", None)},
)
def get_schedule(query: ScheduleQuery):
    now, tz = utcnow(), current_app.config.get("PLANT_TIMEZONE")
    for name, day in (("from", query.from_), ("to", query.to)):
        if day is not None and not planning.EARLIEST <= day <= planning.LATEST:
            raise Invalid(
                "bad_date",
                f"{name} {day.isoformat()} is outside "
                f"{planning.EARLIEST.isoformat()}..{planning.LATEST.isoformat()}",
            )
    today = plantday.local_date(now, tz)
    start = query.from_ or (today - dt.timedelta(days=today.weekday()))
    end = query.to or (start + dt.timedelta(days=6 if query.bucket == "day" else 27))
    if end < start:
        raise Invalid("bad_payload", "to is before from")
    if (end - start).days >= adherence.MAX_DAYS:
        raise Invalid("bad_payload", f"at most {adherence.MAX_DAYS} days at once")
    return adherence.schedule(start, end, query.bucket, now=now, tz=tz)


@op(
    "GET",
    "/flags",
    role="operator",
    tag="schedule",
    summary="All current flags: late, behind, short, reorder, dwell",
    responses={200: ("Flags", None)},
)
def get_flags():
    now = utcnow()
    found = flags.compute(now, tz=current_app.config.get("PLANT_TIMEZONE"))
    return {
        "at": now.isoformat() + "Z",
        "today": found.today.isoformat(),
        "counts": found.counts(),
        "flags": found.flat(),
    }
