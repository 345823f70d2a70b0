"""Traceability: GET /api/items/<code>/trace, the recall query GET /api/recall and the recall
hold POST /api/recall/hold."""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Code, Strict
from server.core import holds, reasonlist, siteaccess, trace
from server.core.scans import writing
from server.models import utcnow


class TraceQuery(Strict):
    direction: Literal["down", "up"] = "down"


class RecallQuery(Strict):
    product: Code
    lot: str = pydantic.Field(min_length=1, max_length=64)


@op(
    "GET",
    "/items/<code>/trace",
    role="operator",
    tag="trace",
    summary="Genealogy: what went into an item (down) or where it went (up)",
    query=TraceQuery,
    responses={200: ("The genealogy tree", None), 404: ("Unknown code", None)},
)
def get_trace(code: str, query: TraceQuery):
    item = siteaccess.check_item(current_user(), trace.get_item(code), code)
    tree = trace.down(item) if query.direction == "down" else trace.up(item)
    return {"direction": query.direction, "item": tree}


@op(
    "GET",
    "/recall",
    role="supervisor",
    tag="trace",
    summary="Every finished or shipped unit containing a lot, with orders and dates",
    query=RecallQuery,
    responses={200: ("Units containing the lot", None), 404: ("Unknown product", None)},
)
def get_recall(query: RecallQuery):
    return trace.recall(query.product, query.lot)


class RecallHoldIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"product": "STEEL", "lot": "S-1", "reason": "QC_CHECK"}]}
    )

    product: Code
    lot: str = pydantic.Field(min_length=1, max_length=64)
    reason: str = pydantic.Field(
        min_length=1,
        max_length=32,
        description="a code of the reason list (GET /api/reasons) that applies to hold",
    )


@op(
    "POST",
    "/recall/hold",
    role="supervisor",
    tag="trace",
    summary="Hold every item of a lot and every item built from it, in one transaction",
    body=RecallHoldIn,
    responses={
        200: ("Counts: held now, already held, gone (shipped, consumed, scrapped)", None),
        404: ("Unknown product", None),
        422: ("unknown_reason, reason_not_applicable", None),
    },
)
def hold_recall(body: RecallHoldIn):
    return hold_lot(body.product, body.lot, body.reason, current_user())


def hold_lot(product: str, lot: str, reason_code: str, user) -> dict:
    """The recall hold for `user` (the API and the scrap and hold page), all in one
    transaction; a refusal raises the domain's error and changes nothing."""
    with writing(current_app.extensions["koordinator.db"]):
        reason = reasonlist.check_reason(reason_code, "hold")
        return holds.hold_recall(product, lot, why=reason.code, user=user, now=utcnow())
