"""Shifts: GET/POST /api/shifts (server/core/shifts.py): per site (null: every site), with
planned breaks."""

from __future__ import annotations

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import CODE_PATTERN, Answer, Name, Strict
from server.core import shifts, siteaccess
from server.models import Shift

ShiftTime = pydantic.constr(pattern=shifts.TIME_PATTERN)
BreakText = pydantic.constr(pattern=shifts.BREAK_PATTERN)
SiteCode = pydantic.constr(min_length=1, max_length=32, pattern=CODE_PATTERN)


class ShiftIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Early",
                    "start": "06:00",
                    "end": "14:00",
                    "site": "MAIN",
                    "breaks": ["10:00-10:15", "12:00-12:30"],
                }
            ]
        }
    )

    name: Name = pydantic.Field(max_length=64)
    start: ShiftTime = pydantic.Field(description="local time HH:MM on a quarter hour")  # type: ignore[valid-type]
    end: ShiftTime = pydantic.Field(  # type: ignore[valid-type]
        description="local time HH:MM; at or before start: the next day"
    )
    site: SiteCode | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="the site it belongs to; left out or null: every site"
    )
    breaks: list[BreakText] = pydantic.Field(  # type: ignore[valid-type]
        default_factory=list,
        max_length=12,
        description='planned breaks "HH:MM-HH:MM" local, inside the shift, not overlapping',
    )
    active: bool = True


class ShiftOut(Answer):
    name: str
    site: str | None
    start: str
    end: str
    hours: float
    breaks: list[str]
    break_minutes: int
    active: bool


@op(
    "GET",
    "/shifts",
    role="operator",
    tag="shifts",
    summary="List the plant's shifts, each with its site (null: every site) and breaks",
    responses={200: ("Shifts", None)},
)
def list_shifts():
    sites = shifts.site_code_map()
    query = Shift.select()
    mine = siteaccess.site_ids(current_user())  # a user limited to sites: theirs and the
    if mine is not None:  # plant-wide ones
        query = query.where(Shift.site_id.is_null() | Shift.site_id.in_(sorted(mine) or [-1]))
    rows = sorted(query, key=lambda s: (s.start, s.name, sites.get(s.site_id) or ""))
    return {"shifts": [shifts.as_dict(s, sites) for s in rows]}


@op(
    "POST",
    "/shifts",
    role="admin",
    tag="shifts",
    summary="Create a shift",
    body=ShiftIn,
    responses={
        201: ("Created", ShiftOut),
        400: ("bad_time, bad_break", None),
        404: ("unknown_site", None),
        409: ("The name exists at that site", None),
    },
)
def create_shift(body: ShiftIn):
    with current_app.extensions["koordinator.db"].atomic():
        shift = shifts.create(body.name, body.start, body.end, body.site, body.breaks)
        if not body.active:
            Shift.update(active=False).where(Shift.id == shift.id).execute()
            shift.active = False
    return shifts.as_dict(shift), 201
