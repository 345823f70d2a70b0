"""Cycle counts: open a count of locations, watch it, close it, approve its adjustments;
see server/core/counts.py."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Strict
from server.core import counts, siteaccess
from server.core.errors import NotFound
from server.core.scans import writing
from server.models import utcnow

LocCode = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
ReasonCode = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]


class CountIn(Strict):
    """A count of one location (with everything below it) or of a set of bins."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"locations": ["A-01"], "note": "weekly, rack A"}]}
    )

    locations: list[LocCode] = pydantic.Field(min_length=1, max_length=200)
    note: str = pydantic.Field(default="", max_length=200)


class ApproveIn(Strict):
    """`why`: a reason of the plant's list that applies to `adjust` (default `COUNT`)."""

    why: ReasonCode | None = None


class CountQuery(Strict):
    status: Literal["open", "closed", "approved", "cancelled"] | None = None


class CountOut(Answer):
    id: int
    label: str
    status: str
    locations: list[str]


def _db():
    return current_app.extensions["koordinator.db"]


def _count(count_id: str):
    """The count, or `unknown_count` (none, or of a site outside the caller's)."""
    if not re.fullmatch(r"[0-9]{1,12}", count_id):
        raise NotFound("unknown_count", f"No count {count_id}")
    return siteaccess.check_count(current_user(), counts.get(int(count_id)))


@op(
    "POST",
    "/counts",
    role="supervisor",
    tag="counts",
    summary="Open a cycle count of a location (and its subtree) or a set of bins",
    body=CountIn,
    responses={
        201: ("The open count, with its count-mode label CMD-COUNT-<id>", CountOut),
        400: ("bad_parent: locations of two sites", None),
        404: ("unknown_location", None),
    },
)
def open_count(body: CountIn):
    for code in body.locations:
        siteaccess.check_location(current_user(), code)
    with writing(_db()):
        count = counts.open_count(body.locations, note=body.note, user=current_user(), now=utcnow())
    return counts.report(count), 201


@op(
    "GET",
    "/counts",
    role="operator",
    tag="counts",
    summary="Cycle counts, newest first (up to 100)",
    query=CountQuery,
    responses={200: ("Counts", None)},
)
def list_counts(query: CountQuery):
    return {"counts": counts.listing(query.status, site_ids=siteaccess.site_ids(current_user()))}


@op(
    "GET",
    "/counts/<count_id>",
    role="operator",
    tag="counts",
    summary="One count: state, progress while open, its lines (sightings; outcomes once closed)",
    responses={200: ("The count", CountOut), 404: ("unknown_count", None)},
)
def get_count(count_id: str):
    return counts.report(_count(count_id))


@op(
    "POST",
    "/counts/<count_id>/close",
    role="supervisor",
    tag="counts",
    summary="Close a count: found, missing, elsewhere and quantity variances (no stock change)",
    responses={
        200: ("The closed count with its outcomes", CountOut),
        404: ("unknown_count", None),
        409: ("count_not_open", None),
    },
)
def close_count(count_id: str):
    count = _count(count_id)
    with writing(_db()):
        counts.close(count, user=current_user(), now=utcnow())
    return counts.report(counts.get(count.id))


@op(
    "POST",
    "/counts/<count_id>/approve",
    role="supervisor",
    tag="counts",
    summary="Approve a closed count: one adjust ledger row per variance, stock follows",
    body=ApproveIn,
    responses={
        200: ("The approved count, with adjusted and skipped", CountOut),
        404: ("unknown_count", None),
        409: ("count_not_closed", None),
        422: ("unknown_reason, reason_not_applicable", None),
    },
)
def approve_count(count_id: str, body: ApproveIn):
    count = _count(count_id)
    with writing(_db()):
        done = counts.approve(count, why=body.why, user=current_user(), now=utcnow())
    return {**counts.report(counts.get(count.id)), **done}
