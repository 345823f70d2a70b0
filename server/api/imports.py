"""CSV import and export: POST /api/import/<kind>, GET /api/export/<kind>.csv.

The body is the CSV text (`Content-Type: text/csv`) or a multipart form with one file.
Rows are validated with the JSON API's own request models; see `server.core.imports`.
Master data (products, bom, routings, stations, reasons, locations, shifts, machines,
standard_times) needs the admin role, orders a supervisor.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import Response, current_app, request

from server import auth
from server.api import current_user, op
from server.api.locations import LocationIn
from server.api.machines import MachineIn
from server.api.orders import OrderIn
from server.api.products import BomLineIn, ProductIn, RoutingIn, StepTimesIn
from server.api.reasonlist import ReasonIn
from server.api.schemas import Strict
from server.api.shifts import ShiftIn
from server.api.stations import StationIn
from server.core import imports
from server.core.errors import DomainError, Invalid, NotFound
from server.models import utcnow

MAX_BYTES = 16 * 1024 * 1024
MODELS = {
    "product": ProductIn,
    "bom_line": BomLineIn,
    "routing": RoutingIn,
    "station": StationIn,
    "order": OrderIn,
    "reason": ReasonIn,
    "location": LocationIn,
    "shift": ShiftIn,
    "machine": MachineIn,
    "step_times": StepTimesIn,
}


class Forbidden(DomainError):
    status = 403


class ImportQuery(Strict):
    dry_run: Literal["1", "0", "true", "false"] = pydantic.Field(
        default="0", description="1 or true: check only, write nothing"
    )


class ImportMove(pydantic.BaseModel):
    line: int = pydantic.Field(description="the row's line in the file (the header is 1)")
    code: str = pydantic.Field(description="the location moved")
    from_: str | None = pydantic.Field(alias="from", description="its parent's code before")
    to: str | None = pydantic.Field(description="its new parent's code (null: the top)")


class ImportUnitChange(pydantic.BaseModel):
    line: int
    sku: str
    from_: str = pydantic.Field(alias="from")
    to: str


class ImportResult(pydantic.BaseModel):
    kind: str
    rows: int = pydantic.Field(description="rows in the file")
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    moves: list[ImportMove] = pydantic.Field(
        description="locations moved to another parent (a dry run: to be moved)"
    )
    unit_changes: list[ImportUnitChange] = pydantic.Field(
        description="products whose unit changed (a dry run: to change)"
    )


class RefusedLine(pydantic.BaseModel):
    line: int
    error: str


class ImportDone(ImportResult):
    """What an import answered 409 did: its rows are in (the counts), `moves` and
    `unit_changes` are those made, `refused` those refused after the commit."""

    moves: list[ImportMove] = pydantic.Field(description="the moves made")
    unit_changes: list[ImportUnitChange] = pydantic.Field(description="the unit changes made")
    refused: list[RefusedLine] = pydantic.Field(
        description="moves and unit changes refused after the commit, by line; importing "
        "the file again makes them"
    )


class ImportIncompleteBody(pydantic.BaseModel):
    error: Literal["import_incomplete"]
    message: str
    details: ImportDone


def _kind(kind: str) -> str:
    if kind not in imports.KINDS:
        raise NotFound("not_found", f"No CSV for {kind}; use one of {', '.join(imports.KINDS)}")
    return kind


def _csv_text() -> str:
    if (request.content_length or 0) > MAX_BYTES:
        raise Invalid("too_large", f"CSV files up to {MAX_BYTES // (1024 * 1024)} MB")
    if request.mimetype == "multipart/form-data":
        files = list(request.files.values())
        if len(files) != 1:
            raise Invalid("bad_csv", "Send exactly one file in the form")
        raw = files[0].read(MAX_BYTES + 1)
    else:
        raw = request.get_data(cache=False)
    if len(raw) > MAX_BYTES:
        raise Invalid("too_large", f"CSV files up to {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("bad_csv", f"The file is not UTF-8 (byte {exc.start})") from exc


@op(
    "POST",
    "/import/<kind>",
    role="supervisor",
    tag="import",
    summary="Import a CSV file (products, bom, routings, stations, orders, reasons, "
    "locations, shifts, machines, standard_times) at once",
    query=ImportQuery,
    content_type="text/csv",
    responses={
        200: ("Imported (or checked, with dry_run)", ImportResult),
        400: ("bad_csv: every bad row with its line number; nothing written", None),
        409: (
            "import_incomplete: the rows are in, but some moves or unit changes were "
            "refused after the commit; `details` says what was done (the counts, the moves "
            "and unit changes made) and what was refused, by line; importing the file "
            "again finishes them",
            ImportIncompleteBody,
        ),
    },
)
def import_csv(kind: str, query: ImportQuery):
    kind = _kind(kind)
    user = current_user()
    if kind != "orders" and not auth.has_role(user, "admin"):
        raise Forbidden("forbidden", f"Importing {kind} needs the admin role")
    text = _csv_text()
    result = imports.import_csv(
        current_app.extensions["koordinator.db"],
        kind,
        text,
        models=MODELS,
        now=utcnow(),
        user_id=user.id,
        dry_run=query.dry_run in ("1", "true"),
    )
    return result.as_dict()


@op(
    "GET",
    "/export/<kind>.csv",
    role="supervisor",
    tag="import",
    summary="Export products, bom, routings, stations, orders, reasons, locations, shifts, "
    "machines or standard_times as CSV (importable back)",
    responses={200: ("text/csv", None)},
    produces={200: ("text/csv",)},
)
def export_csv(kind: str):
    kind = _kind(kind)
    return Response(
        imports.export_csv(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )
