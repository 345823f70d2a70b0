"""Registered label printers: POST /api/printers and GET /api/printers (admin).

Print jobs (POST /api/labels) name one of these printers; nobody else chooses a host or a
port, so a print job cannot be used to reach arbitrary machines (docs/labels.md).
"""

from __future__ import annotations

from typing import Literal

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Answer, Code, Strict
from server.core import printjobs
from server.core.errors import Conflict, Invalid, NotFound
from server.labelling import PRINTER_KINDS, check_address
from server.models import Printer, Station

PrinterKind = Literal[PRINTER_KINDS]  # type: ignore[valid-type]


class PrinterIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "zebra-recv",
                    "kind": "zpl-tcp",
                    "address": "127.0.0.1:9100",
                    "station": "RECV",
                }
            ]
        }
    )

    name: Code
    kind: PrinterKind
    address: str = pydantic.Field(
        min_length=1,
        max_length=255,
        description="zpl-tcp: host or host:port (raw TCP, port 9100 by default); "
        "pdf-cups: a CUPS queue name",
        pattern=r"^[A-Za-z0-9_\[][A-Za-z0-9_.:\[\]-]*$",
    )
    station: Code | None = None
    active: bool = True


class PrinterOut(Answer):
    name: str
    kind: str
    address: str
    station: str | None
    active: bool
    online: bool | None
    state: str
    last_attempt_at: str | None
    queued: int


def printer_dict(p: Printer) -> dict:
    return {
        "name": p.name,
        "kind": p.kind,
        "address": p.address,
        "station": Station.get_by_id(p.station_id).code if p.station_id else None,
        "active": p.active,
        **printjobs.printer_state(p),
    }


@op(
    "POST",
    "/printers",
    role="admin",
    tag="printers",
    summary="Register a label printer (zpl-tcp or pdf-cups)",
    body=PrinterIn,
    responses={
        201: ("Registered", PrinterOut),
        404: ("Unknown station", None),
        409: ("Name exists", None),
    },
)
def create_printer(body: PrinterIn):
    why = check_address(body.kind, body.address)
    if why is not None:
        raise Invalid("bad_payload", f"address: {why}")
    station = None
    if body.station is not None:
        station = Station.get_or_none(Station.code == body.station)
        if station is None:
            raise NotFound("unknown_station", f"No station {body.station}")
    try:
        with current_app.extensions["koordinator.db"].atomic():
            printer = Printer.create(
                name=body.name,
                kind=body.kind,
                address=body.address,
                station=station,
                active=body.active,
            )
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Printer {body.name} exists") from exc
    return printer_dict(printer), 201


@op(
    "GET",
    "/printers",
    role="admin",
    tag="printers",
    summary="List the registered label printers",
    responses={200: ("Printers", None)},
)
def list_printers():
    return {"printers": [printer_dict(p) for p in Printer.select().order_by(Printer.name)]}
