"""The schedule view and the flags: GET /api/schedule, GET /api/flags."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Strict
from server.core import adherence, flags, plantday
from server.core.errors import Invalid
from server.models import utcnow


class ScheduleQuery(Strict):
    from_: dt.date | None = pydantic.Field(default=None, alias="from")
    to: dt.date | None = None
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
