"""Traceability: GET /api/items/<code>/trace and the recall query GET /api/recall."""

from __future__ import annotations

from typing import Literal

import pydantic

from server.api import op
from server.api.schemas import Code, Strict
from server.core import trace


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
    item = trace.get_item(code)
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
