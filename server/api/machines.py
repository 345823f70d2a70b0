"""Machines: GET/POST /api/machines, PATCH /api/machines/<code>, POST .../state
(server/core/machines.py)."""

from __future__ import annotations

from typing import Literal

import peewee as pw
import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Code, Name, NonNegQty, StationCode, Strict
from server.core import machines, siteaccess
from server.core.errors import Conflict, NotFound
from server.models import Machine, Station, utcnow

MachineCode = pydantic.constr(
    strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
)


class MachineIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {"code": "PRESS1", "name": "Press 1", "station": "A1", "rate_per_hour": 60}
            ]
        }
    )

    code: MachineCode  # type: ignore[valid-type]
    name: Name
    station: StationCode
    rate_per_hour: NonNegQty | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="standard output, units per hour (OEE performance)"
    )
    active: bool = True


class MachineEdit(Strict):
    """Fields left out stay as they are; `active: false` retires the machine (its state
    no longer stops its station's scans)."""

    name: Name | None = None
    station: StationCode | None = None
    rate_per_hour: NonNegQty | None = None  # type: ignore[valid-type]
    active: bool | None = None


class StateIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"state": "down", "reason": "BREAKDOWN"}]}
    )

    state: Literal["running", "idle", "down"]
    reason: Code | None = pydantic.Field(
        default=None, description="down: a reason-list code that applies to downtime"
    )


class MachineOut(Answer):
    code: str
    name: str
    station: str
    rate_per_hour: float | None
    state: str
    reason: str | None
    since: str
    active: bool


def _station(code: str) -> Station:
    station = Station.get_or_none(Station.code == code)
    if station is None:
        raise NotFound("unknown_station", f"No station {code}")
    return station


@op(
    "GET",
    "/machines",
    role="operator",
    tag="machines",
    summary="List machines with their state",
    responses={200: ("Machines", None)},
)
def list_machines():
    rows = Machine.select(Machine, Station.code).join(Station).order_by(Machine.code)
    stations = siteaccess.stations_query(current_user())  # a user limited to sites: theirs
    if stations is not None:
        rows = rows.where(Machine.station.in_(stations))
    return {"machines": [machines.as_dict(m, m.station.code) for m in rows]}


@op(
    "POST",
    "/machines",
    role="admin",
    tag="machines",
    summary="Register a machine at a station",
    body=MachineIn,
    responses={
        201: ("Created", MachineOut),
        404: ("unknown_station", None),
        409: ("Code exists", None),
    },
)
def create_machine(body: MachineIn):
    station = _station(body.station)
    try:
        with current_app.extensions["koordinator.db"].atomic():
            machine = Machine.create(
                code=body.code,
                name=body.name,
                station=station.id,
                rate_per_hour=body.rate_per_hour,
                active=body.active,
            )
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Machine {body.code} exists") from exc
    return machines.as_dict(machine, station.code), 201


@op(
    "PATCH",
    "/machines/<code>",
    role="admin",
    tag="machines",
    summary="Edit a machine or (de)activate it",
    body=MachineEdit,
    responses={200: ("The machine as changed", MachineOut), 404: ("unknown_machine", None)},
)
def edit_machine(code: str, body: MachineEdit):
    machine = machines.find(code)
    changes = body.changes("name", "station", "active")
    if "station" in changes:
        changes["station"] = _station(changes["station"]).id
    if changes:
        Machine.update(**changes).where(Machine.id == machine.id).execute()
    return machines.as_dict(Machine.get_by_id(machine.id))


@op(
    "POST",
    "/machines/<code>/state",
    role="operator",
    tag="machines",
    summary="Set a machine running, idle or down (with a downtime reason)",
    body=StateIn,
    responses={
        200: ("The machine in its new state; changed false when it already was", MachineOut),
        400: ("bad_state", None),
        404: ("unknown_machine", None),
        422: ("reason_required, unknown_reason, reason_not_applicable", None),
    },
)
def set_machine_state(code: str, body: StateIn):
    user = current_user()
    with current_app.extensions["koordinator.db"].atomic():
        machine = siteaccess.check_machine(user, machines.find(code))
        if not machine.active:
            raise NotFound("unknown_machine", f"Machine {code} is inactive")
        changed = machines.set_state(
            machine, body.state, body.reason, now=utcnow(), source="api", user_id=user.id
        )
    return {**machines.as_dict(machine), "changed": changed}


@op(
    "GET",
    "/machines/<code>/downtime",
    role="operator",
    tag="machines",
    summary="The machine's downtime log, newest first",
    responses={200: ("Downtime stretches", None), 404: ("unknown_machine", None)},
)
def machine_downtime(code: str):
    machine = siteaccess.check_machine(current_user(), machines.find(code))
    return {"machine": machine.code, "downtime": machines.log(machine, limit=500)}
