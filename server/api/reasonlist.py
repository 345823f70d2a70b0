"""The plant's reason list: GET/POST /api/reasons, PATCH /api/reasons/<code>.

Why something was scrapped, held, released, returned or adjusted (server/core/reasonlist.py);
not the rejection reason codes of scan answers (docs/reason-codes.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Answer, Name, Strict
from server.core import reasonlist
from server.core.errors import Conflict, NotFound
from server.models import Reason

ReasonCodeText = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_]*$"
    ),
    pydantic.AfterValidator(str.upper),
]
Use = Literal[reasonlist.USES]  # type: ignore[valid-type]
Text = Annotated[str, pydantic.StringConstraints(strip_whitespace=True, max_length=200)]


class ReasonIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "BURR",
                    "text_en": "Burr on edge",
                    "text_id": "Gerinda di tepi",
                    "applies_to": ["scrap", "hold"],
                }
            ]
        }
    )

    code: ReasonCodeText
    text_en: Name
    text_id: Text = ""
    applies_to: list[Use] = pydantic.Field(min_length=1)
    active: bool = True


class ReasonEdit(Strict):
    """`active: false` deactivates the reason: its history stays, new scans naming it are
    refused `unknown_reason`."""

    text_en: Name | None = None
    text_id: Text | None = None
    applies_to: list[Use] | None = pydantic.Field(default=None, min_length=1)
    active: bool | None = None


class ReasonOut(Answer):
    code: str
    text_en: str
    text_id: str
    applies_to: list[str]
    active: bool


def reason_dict(r: Reason) -> dict:
    return {
        "code": r.code,
        "text_en": r.text_en,
        "text_id": r.text_id,
        "applies_to": list(r.applies_to or []),
        "active": r.active,
    }


@op(
    "POST",
    "/reasons",
    role="admin",
    tag="reasons",
    summary="Add a reason to the plant's reason list",
    body=ReasonIn,
    responses={201: ("Created", ReasonOut), 409: ("Code exists", None)},
)
def create_reason(body: ReasonIn):
    data = body.model_dump()
    data["applies_to"] = reasonlist.in_order(data["applies_to"])
    try:
        with current_app.extensions["koordinator.db"].atomic():
            reason = Reason.create(**data)
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"Reason {body.code} exists") from exc
    return reason_dict(reason), 201


@op(
    "GET",
    "/reasons",
    role="operator",
    tag="reasons",
    summary="The reason list (scrap, hold, release, return, adjust, downtime)",
    responses={200: ("Reasons", None)},
)
def list_reasons():
    return {"reasons": [reason_dict(r) for r in Reason.select().order_by(Reason.code)]}


@op(
    "PATCH",
    "/reasons/<code>",
    role="admin",
    tag="reasons",
    summary="Edit a reason's texts and uses, or (de)activate it",
    body=ReasonEdit,
    responses={200: ("The reason as changed", ReasonOut)},
)
def edit_reason(code: str, body: ReasonEdit):
    reason = reasonlist.lookup(code)
    if reason is None:
        raise NotFound("not_found", f"No reason {code}")
    changes = body.changes("text_en", "text_id", "applies_to", "active")
    if "applies_to" in changes:
        changes["applies_to"] = reasonlist.in_order(changes["applies_to"])
    if changes:
        Reason.update(**changes).where(Reason.id == reason.id).execute()
    return reason_dict(Reason.get_by_id(reason.id))
