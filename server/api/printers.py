"""Registered label printers: POST, PATCH and GET /api/printers (admin), with site, dpi
and media (server/core/printers.py).

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
from server.core import printers, printjobs
from server.core.errors import Conflict, Invalid
from server.labelling import PRINTER_KINDS, check_address
from server.models import Printer

PrinterKind = Literal[PRINTER_KINDS]  # type: ignore[valid-type]


Dpi = Literal[printers.DPIS]  # type: ignore[valid-type]
MediaKind = Literal[printers.MEDIA_KINDS]  # type: ignore[valid-type]
_ADDRESS = dict(
    min_length=1,
    max_length=255,
    description="zpl-tcp: host or host:port (raw TCP, port 9100 by default); "
    "pdf-cups: a CUPS queue name",
    pattern=r"^[A-Za-z0-9_\[][A-Za-z0-9_.:\[\]-]*$",
)


class MediaIn(Strict):
    """The media loaded: gap (die-cut labels: width and height) or continuous (a roll
    cut to length: the width only)."""

    width_mm: float = pydantic.Field(
        ge=printers.MEDIA_WIDTH_MM[0], le=printers.MEDIA_WIDTH_MM[1], allow_inf_nan=False
    )
    height_mm: float | None = pydantic.Field(
        default=None,
        ge=printers.MEDIA_HEIGHT_MM[0],
        le=printers.MEDIA_HEIGHT_MM[1],
        allow_inf_nan=False,
        description="a gap label's height (needed for gap media, ignored for continuous)",
    )
    kind: MediaKind = "gap"


class PrinterIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "zebra-recv",
                    "kind": "zpl-tcp",
                    "address": "127.0.0.1:9100",
                    "station": "RECV",
                    "site": "MAIN",
                    "dpi": 203,
                    "media": {"width_mm": 50.8, "height_mm": 25.4, "kind": "gap"},
                }
            ]
        }
    )

    name: Code
    kind: PrinterKind
    address: str = pydantic.Field(**_ADDRESS)
    station: Code | None = None
    site: Code | None = None
    dpi: Dpi = pydantic.Field(default=203, description="the print head's dots per inch")
    media: MediaIn | None = pydantic.Field(
        default=None, description="the media loaded (none: not known, labels not checked)"
    )
    active: bool = True


class PrinterEdit(Strict):
    """The fields to change; a field left out stays, `null` clears station, site or
    media (and leaves the others as they are)."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [{"dpi": 300, "media": {"width_mm": 104, "kind": "continuous"}}]
        }
    )

    kind: PrinterKind | None = None
    address: str | None = pydantic.Field(default=None, **_ADDRESS)
    station: Code | None = None
    site: Code | None = None
    dpi: Dpi | None = None
    media: MediaIn | None = None
    active: bool | None = None


class MediaOut(Answer):
    width_mm: float
    height_mm: float | None
    kind: str


class PrinterOut(Answer):
    name: str
    kind: str
    address: str
    station: str | None
    site: str | None
    dpi: int
    media: MediaOut | None
    active: bool
    online: bool | None
    state: str
    last_attempt_at: str | None
    queued: int
    last_error: str | None
    last_error_at: str | None


def printer_dict(p: Printer) -> dict:
    return printers.printer_dict(p, printjobs.printer_state(p))


def _fields(body: Strict) -> dict:
    """The fields a body sets, media as a plain dict: a PATCH's null clears station, site
    or media and leaves kind, address, dpi and active as they are (Strict.changes)."""
    return body.changes("kind", "address", "dpi", "active")


def _check_address(kind: str, address: str) -> None:
    why = check_address(kind, address)
    if why is not None:
        raise Invalid("bad_payload", f"address: {why}")


@op(
    "POST",
    "/printers",
    role="admin",
    tag="printers",
    summary="Register a label printer (zpl-tcp or pdf-cups) with its site, dpi and media",
    body=PrinterIn,
    responses={
        201: ("Registered", PrinterOut),
        400: ("bad_media, bad_payload (the address, dpi, a field)", None),
        404: ("Unknown station or site", None),
        409: ("Name exists", None),
    },
)
def create_printer(body: PrinterIn):
    _check_address(body.kind, body.address)
    fields = _fields(body)
    fields.setdefault("dpi", body.dpi)
    fields.setdefault("active", body.active)
    try:
        with current_app.extensions["koordinator.db"].atomic():
            printer = Printer(name=body.name)
            printers.apply_fields(printer, fields)
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Printer {body.name} exists") from exc
    return printer_dict(printer), 201


@op(
    "PATCH",
    "/printers/<name>",
    role="admin",
    tag="printers",
    summary="Change a printer: kind, address, station, site, dpi, media, active",
    body=PrinterEdit,
    responses={
        200: ("Changed", PrinterOut),
        400: ("bad_media, bad_payload (the address, dpi, a field)", None),
        404: ("Unknown printer, station or site", None),
    },
)
def edit_printer(name: str, body: PrinterEdit):
    printer = printers.by_name(name)
    fields = _fields(body)
    _check_address(fields.get("kind", printer.kind), fields.get("address", printer.address))
    with current_app.extensions["koordinator.db"].atomic():
        printers.apply_fields(printer, fields)
    return printer_dict(Printer.get_by_id(printer.id))


@op(
    "GET",
    "/printers",
    role="admin",
    tag="printers",
    summary="List the registered label printers with their online state and last error",
    responses={200: ("Printers", None)},
)
def list_printers():
    return {"printers": [printer_dict(p) for p in Printer.select().order_by(Printer.name)]}
