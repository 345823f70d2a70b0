"""Stations: where scans happen, with their default action and check policy."""

from __future__ import annotations

from typing import Literal

import peewee as pw
import pydantic
from flask import current_app

from server import scope
from server.api import current_user, op
from server.api.schemas import Answer, Name, StationCode, Strict, whole_number
from server.core import locations
from server.core.errors import Conflict, NotFound
from server.core.reasons import CONFIGURABLE_CHECKS
from server.core.stages import SCRAP_BY, STATION_ACTIONS
from server.models import Location, Station

CheckName = Literal[tuple(CONFIGURABLE_CHECKS)]  # type: ignore[valid-type]
StationAction = Literal[tuple(a.value for a in STATION_ACTIONS)]  # type: ignore[valid-type]


def _no_default(schema: dict) -> None:
    schema.pop("default", None)  # left out, not null: the document must not say null


#: a station's policy: per check reject or warn, and who may scrap there (`scrap_by`)
Policy = pydantic.create_model(
    "StationPolicy",
    __config__=pydantic.ConfigDict(extra="forbid"),
    # optional but not nullable: a check is set or left out, as in the stored JSON
    **{
        check: (Literal["reject", "warn"], pydantic.Field(None, json_schema_extra=_no_default))
        for check in CONFIGURABLE_CHECKS
    },
    scrap_by=(
        Literal[SCRAP_BY],  # type: ignore[valid-type]
        pydantic.Field(
            default=None,
            json_schema_extra=_no_default,
            description="supervisor (the default): scrap needs a supervisor; operator: any "
            "signed-in worker with a reason from the list that applies to scrap",
        ),
    ),
)


class StationIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "A3",
                    "name": "Assembly 3",
                    "default_action": "move",
                    "policy": {"over_plan": "warn"},
                    "dwell_limit_minutes": 120,
                }
            ]
        }
    )

    code: StationCode
    name: Name
    default_action: StationAction
    policy: Policy = pydantic.Field(default_factory=Policy)  # type: ignore[valid-type]

    @pydantic.field_serializer("policy")
    def _policy(self, policy) -> dict:
        # stored as only what was set: a missing check takes its default
        return policy.model_dump(exclude_unset=True)

    operator_required: bool = False
    dwell_limit_minutes: whole_number(1, 525600) | None = None  # type: ignore[valid-type]
    #: language of the scan station page and of the worker messages there (None: the user's)
    language: str | None = pydantic.Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    #: a rework station: the routing station its reworked units go to next (docs/stages.md)
    rework_to: StationCode | None = None
    #: the station's location (its line side), an existing location's code; left out: a
    #: `line` location of the station's own code is made (server/core/locations.py)
    location: StationCode | None = None


class StationEdit(Strict):
    """`active: false` deactivates the station: its scanners' scans are refused
    (`unknown_station`) until it is active again."""

    name: Name | None = None
    default_action: StationAction | None = None
    operator_required: bool | None = None
    dwell_limit_minutes: whole_number(1, 525600) | None = None  # type: ignore[valid-type]
    language: str | None = pydantic.Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    active: bool | None = None
    #: null: the reworked units go back to the first station of their routing
    rework_to: StationCode | None = None
    #: the station's location (an existing location's code)
    location: StationCode | None = None


class StationOut(Answer):
    code: str
    name: str
    default_action: str
    policy: dict
    operator_required: bool
    dwell_limit_minutes: int | None
    language: str | None
    active: bool
    rework_to: str | None
    location: str | None


def station_dict(s: Station, codes: dict[int, str] | None = None) -> dict:
    if s.rework_to_id is None:
        rework_to = None
    elif codes is not None:
        rework_to = codes.get(s.rework_to_id)
    else:
        rework_to = Station.select(Station.code).where(Station.id == s.rework_to_id).scalar()
    return {
        "code": s.code,
        "name": s.name,
        "default_action": s.default_action,
        "policy": {**CONFIGURABLE_CHECKS, "scrap_by": SCRAP_BY[0], **(s.policy or {})},
        "operator_required": s.operator_required,
        "dwell_limit_minutes": s.dwell_limit_minutes,
        "language": s.language,
        "active": s.active,
        "rework_to": rework_to,
        "location": (
            Location.select(Location.code).where(Location.id == s.location_id).scalar()
            if s.location_id
            else None
        ),
    }


def _location_id(code: str) -> int:
    loc = locations.by_code(code)
    if loc is None:
        raise NotFound("unknown_location", f"No location {code}")
    return loc.id


def _station_id(code: str) -> int:
    station = Station.get_or_none(Station.code == code)
    if station is None:
        raise NotFound("unknown_station", f"No station {code}")
    return station.id


@op(
    "POST",
    "/stations",
    role="admin",
    tag="stations",
    summary="Create a station",
    body=StationIn,
    responses={
        201: ("Created", StationOut),
        404: ("unknown_station, unknown_location", None),
        409: ("Code exists", None),
    },
)
def create_station(body: StationIn):
    data = body.model_dump()
    rework_to = data.pop("rework_to")
    data["rework_to_id"] = _station_id(rework_to) if rework_to is not None else None
    location = data.pop("location")
    if location is not None:
        data["location_id"] = _location_id(location)
    try:
        with current_app.extensions["koordinator.db"].atomic():
            station = Station.create(**data)
            locations.line_side(station)
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Station {body.code} exists") from exc
    return station_dict(station), 201


@op(
    "GET",
    "/stations",
    role="operator",
    tag="stations",
    summary="List stations",
    responses={200: ("Stations", None)},
)
def list_stations():
    stations = list(Station.select().order_by(Station.code))
    codes = {s.id: s.code for s in stations}  # a rework station of another site keeps its code
    mine = scope.station_ids(current_user())  # a user limited to sites: theirs
    if mine is not None:
        mine = set(mine)
        stations = [s for s in stations if s.id in mine]
    return {"stations": [station_dict(s, codes) for s in stations]}


@op(
    "PATCH",
    "/stations/<code>",
    role="admin",
    tag="stations",
    summary="Edit a station or (de)activate it",
    body=StationEdit,
    responses={200: ("The station as changed", StationOut), 404: ("unknown_station", None)},
)
def edit_station(code: str, body: StationEdit):
    station = Station.get_or_none(Station.code == code)
    if station is None:
        raise NotFound("not_found", f"No station {code}")
    changes = body.changes("name", "default_action", "operator_required", "active")
    if "rework_to" in changes:  # a null: no rework target
        rework_to = changes.pop("rework_to")
        changes["rework_to_id"] = _station_id(rework_to) if rework_to is not None else None
    if changes.get("location") is not None:  # a null leaves the location as it is
        changes["location_id"] = _location_id(changes.pop("location"))
    changes.pop("location", None)
    if changes:
        Station.update(**changes).where(Station.id == station.id).execute()
    return station_dict(Station.get_by_id(station.id))
