"""Scanners: each belongs to a station and keeps its command-label context."""

from __future__ import annotations

import peewee as pw
import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Code, Strict
from server.core import locations, siteaccess
from server.core.errors import Conflict, NotFound
from server.models import ProductionOrder, Scanner, Station, User


class ScannerIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [{"id": "sc-a3", "station": "A1", "name": "Line 1 handheld"}]
        }
    )

    id: Code
    station: Code
    name: str = pydantic.Field(default="", max_length=200)


class ScannerEdit(Strict):
    """`active: false` deactivates the scanner: its scans are refused (`unknown_scanner`)
    until it is active again."""

    station: Code | None = None
    name: str | None = pydantic.Field(default=None, max_length=200)
    active: bool | None = None


class ScannerOut(Answer):
    id: str
    station: str | None
    operator: str | None
    order: str | None
    action: str | None
    #: the scanner's current location (its last location label), null: its station's
    location: str | None
    active: bool


def scanner_dict(s: Scanner) -> dict:
    return {
        "id": s.id,
        "name": s.name,
        "station": s.station.code if s.station_id else None,
        "operator": User.get_by_id(s.operator_id).username if s.operator_id else None,
        "order": ProductionOrder.get_by_id(s.order_id).number if s.order_id else None,
        "action": s.action,
        "location": locations.current(s),
        "last_scan_at": s.last_scan_at.isoformat() + "Z" if s.last_scan_at else None,
        "active": s.active,
    }


@op(
    "POST",
    "/scanners",
    role="admin",
    tag="scanners",
    summary="Register a scanner",
    body=ScannerIn,
    responses={
        201: ("Created", ScannerOut),
        404: ("unknown_station", None),
        409: ("Id exists", None),
    },
)
def create_scanner(body: ScannerIn):
    station = Station.get_or_none(Station.code == body.station)
    if station is None:
        raise NotFound("unknown_station", f"No station {body.station}")
    try:
        with current_app.extensions["koordinator.db"].atomic():
            scanner = Scanner.create(id=body.id, station=station, name=body.name)
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Scanner {body.id} exists") from exc
    return scanner_dict(scanner), 201


@op(
    "GET",
    "/scanners",
    role="operator",
    tag="scanners",
    summary="List scanners and contexts",
    responses={200: ("Scanners", None)},
)
def list_scanners():
    query = Scanner.select().order_by(Scanner.id)
    mine = siteaccess.stations_query(current_user())  # a limited user: their stations'
    if mine is not None:
        query = query.where(Scanner.station.in_(mine))
    return {"scanners": [scanner_dict(s) for s in query]}


@op(
    "PATCH",
    "/scanners/<scanner_id>",
    role="admin",
    tag="scanners",
    summary="Move a scanner to another station, rename it or (de)activate it",
    body=ScannerEdit,
    responses={200: ("The scanner as changed", ScannerOut), 404: ("unknown_station", None)},
)
def edit_scanner(scanner_id: str, body: ScannerEdit):
    scanner = Scanner.get_or_none(Scanner.id == scanner_id)
    if scanner is None:
        raise NotFound("not_found", f"No scanner {scanner_id}")
    changes = body.changes("name", "active")  # a null station leaves it without one
    if changes.get("station") is not None:
        station = Station.get_or_none(Station.code == changes["station"])
        if station is None:
            raise NotFound("unknown_station", f"No station {changes['station']}")
        changes["station"] = station.id
    if changes:
        Scanner.update(**changes).where(Scanner.id == scanner.id).execute()
    return scanner_dict(Scanner.get_by_id(scanner.id))
