"""Shared pieces of the request and answer models."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import pydantic

Code = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
StationCode = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Name = Annotated[
    str, pydantic.StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
PositiveQty = Annotated[Decimal, pydantic.Field(gt=0, max_digits=18, decimal_places=4)]
NonNegQty = Annotated[Decimal, pydantic.Field(ge=0, max_digits=18, decimal_places=4)]


class Strict(pydantic.BaseModel):
    """Request bodies: unknown fields are an error (a typo is not silently ignored)."""

    model_config = pydantic.ConfigDict(extra="forbid")


class Answer(pydantic.BaseModel):
    """Answer bodies (documented in OpenAPI; built as dicts by the views)."""

    model_config = pydantic.ConfigDict(extra="allow")


def num(value) -> float | int | None:
    """A Decimal as a JSON number: an int when whole."""
    if value is None:
        return None
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)
