"""Spreadsheet exports: GET /api/exports/{stock,items,ledger,production,scrap}.{csv,xlsx}.

A thin adapter around `server.core.exports`: the query string becomes a `Filters`, the
answer streams the pieces the domain yields (stream_with_context keeps the request's
database connection open until the last piece). Supervisors and admins export: the files
carry the whole plant's history, more than an operator's pages show.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import Response, current_app, stream_with_context

from server import scope
from server.api import current_user, op
from server.api.schemas import IsoDate, Strict
from server.core import exports, planning, siteaccess
from server.core.errors import Invalid
from server.core.stages import Stage

StageName = Literal[tuple(s.value for s in Stage)]  # type: ignore[valid-type]


class _Site(Strict):
    site: str | None = pydantic.Field(
        default=None, max_length=32, description="site code: the rows of its stations"
    )


class _Period(_Site):
    from_: IsoDate | None = pydantic.Field(
        default=None, alias="from", description="first plant day (inclusive)"
    )
    to: IsoDate | None = pydantic.Field(default=None, description="last plant day (inclusive)")


class StockExportQuery(_Site):
    stage: StageName | None = None
    product: str | None = pydantic.Field(default=None, max_length=64, description="SKU")
    station: str | None = pydantic.Field(default=None, max_length=32, description="code")


class ItemsExportQuery(_Period):
    stage: StageName | None = None
    product: str | None = pydantic.Field(default=None, max_length=64, description="SKU")
    order: str | None = pydantic.Field(default=None, max_length=64, description="number")
    station: str | None = pydantic.Field(default=None, max_length=32, description="code")


class LedgerExportQuery(ItemsExportQuery):
    status: Literal["accepted", "rejected"] | None = None


class ProductionExportQuery(_Period):
    product: str | None = pydantic.Field(default=None, max_length=64, description="SKU")
    order: str | None = pydantic.Field(default=None, max_length=64, description="number")
    station: str | None = pydantic.Field(default=None, max_length=32, description="the line")
    status: Literal[planning.STATUSES] | None = None  # type: ignore[valid-type]


class ScrapExportQuery(_Period):
    product: str | None = pydantic.Field(default=None, max_length=64, description="SKU")
    order: str | None = pydantic.Field(default=None, max_length=64, description="number")
    station: str | None = pydantic.Field(default=None, max_length=32, description="code")


QUERIES = {
    "stock": StockExportQuery,
    "items": ItemsExportQuery,
    "ledger": LedgerExportQuery,
    "production": ProductionExportQuery,
    "scrap": ScrapExportQuery,
}
WHAT = {
    "stock": "stock by product, stage and station (now)",
    "items": "items (created in the period)",
    "ledger": "the ledger (received in the period)",
    "production": "orders planned vs done (scheduled or completing in the period)",
    "scrap": "scrap events (in the period)",
}


def filters(query: pydantic.BaseModel) -> exports.Filters:
    """The domain's filters from a query model (dates checked against the plant's range)."""
    values = query.model_dump()
    day_from, day_to = values.pop("from_", None), values.pop("to", None)
    for name, day in (("from", day_from), ("to", day_to)):
        if day is not None and not planning.EARLIEST <= day <= planning.LATEST:
            raise Invalid(
                "bad_date",
                f"{name} {day.isoformat()} is outside "
                f"{planning.EARLIEST.isoformat()}..{planning.LATEST.isoformat()}",
            )
    if day_from and day_to and day_to < day_from:
        raise Invalid("bad_payload", "to is before from")
    user = current_user()
    # a user limited to sites: their sites' rows; a site outside them is unknown_site
    siteaccess.check_site(user, values.get("site"))
    return exports.Filters(
        # read once a request: each keyset chunk of a streamed export ran the subquery
        station_ids=scope.station_ids(user),
        day_from=day_from,
        day_to=day_to,
        tz=current_app.config.get("PLANT_TIMEZONE"),
        lang=(user.language if user is not None else None) or "en",
        **values,
    )


def streamed(kind: str, fmt: str, query: pydantic.BaseModel) -> Response:
    pieces = exports.export(kind, fmt, filters(query))
    return Response(
        stream_with_context(pieces),
        mimetype=exports.MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


def _declare(kind: str, fmt: str) -> None:
    model = QUERIES[kind]

    def view(query):
        return streamed(kind, fmt, query)

    view.__name__ = f"export_{kind}_{fmt}"
    op(
        "GET",
        f"/exports/{kind}.{fmt}",
        role="supervisor",
        tag="export",
        summary=f"Export {WHAT[kind]} as {fmt.upper()}, streamed",
        query=model,
        responses={200: (f"{fmt.upper()} file", None)},
        produces={200: (exports.MEDIA[fmt],)},
    )(view)


for _kind in exports.KINDS:
    for _fmt in exports.FORMATS:
        _declare(_kind, _fmt)
