"""Shifts: GET/POST /api/shifts (server/core/shifts.py)."""

from __future__ import annotations

import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Answer, Name, Strict
from server.core import shifts
from server.models import Shift

ShiftTime = pydantic.constr(pattern=shifts.TIME_PATTERN)


class ShiftIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"name": "Early", "start": "06:00", "end": "14:00"}]}
    )

    name: Name = pydantic.Field(max_length=64)
    start: ShiftTime = pydantic.Field(description="local time HH:MM on a quarter hour")  # type: ignore[valid-type]
    end: ShiftTime = pydantic.Field(  # type: ignore[valid-type]
        description="local time HH:MM; at or before start: the next day"
    )
    active: bool = True


class ShiftOut(Answer):
    name: str
    start: str
    end: str
    hours: float
    active: bool


@op(
    "GET",
    "/shifts",
    role="operator",
    tag="shifts",
    summary="List the plant's shifts",
    responses={200: ("Shifts", None)},
)
def list_shifts():
    return {"shifts": [shifts.as_dict(s) for s in Shift.select().order_by(Shift.start, Shift.name)]}


@op(
    "POST",
    "/shifts",
    role="admin",
    tag="shifts",
    summary="Create a shift",
    body=ShiftIn,
    responses={201: ("Created", ShiftOut), 400: ("bad_time", None), 409: ("Name exists", None)},
)
def create_shift(body: ShiftIn):
    with current_app.extensions["koordinator.db"].atomic():
        shift = shifts.create(body.name, body.start, body.end)
        if not body.active:
            Shift.update(active=False).where(Shift.id == shift.id).execute()
            shift.active = False
    return shifts.as_dict(shift), 201
