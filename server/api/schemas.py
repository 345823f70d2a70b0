"""Shared pieces of the request and answer models."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

import pydantic
import pydantic_core

from labels.model import MAX_CODE_CHARS

#: a code is checked as sent against its anchored pattern, as its schema says: stripping
#: first let " WO-1 " through a body the schema forbids (a form or CSV cell is stripped
#: before it is validated, so only a JSON body meets this)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Code = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=64, pattern=CODE_PATTERN)]
StationCode = Annotated[
    str, pydantic.StringConstraints(min_length=1, max_length=32, pattern=CODE_PATTERN)
]
#: an order number fits its command label: CMD-ORD-<number> within a label's 60 characters
OrderNumber = Annotated[
    str,
    pydantic.StringConstraints(
        min_length=1, max_length=MAX_CODE_CHARS - len("CMD-ORD-"), pattern=CODE_PATTERN
    ),
]
#: a name is checked as sent, as its schema says (1 to 200 characters, not only blanks),
#: then stored stripped: stripping first let 3 spaces + 200 letters through
Name = Annotated[
    str,
    pydantic.StringConstraints(min_length=1, max_length=200, pattern=r"\S"),
    pydantic.AfterValidator(str.strip),
]
#: quantities are stored to 0.0001 with at most 14 digits before the point
QTY_STEP = Decimal("0.0001")
QTY_MAX = Decimal("99999999999999")


def _json_number(value, info: pydantic.ValidationInfo):
    # a JSON body carries a quantity as a number, as its schema says; CSV cells and form
    # fields (validated in python mode) are text and stay accepted
    if info.mode != "json":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise pydantic_core.PydanticCustomError("decimal_type", "Input should be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise pydantic_core.PydanticCustomError("finite_number", "Input should be a finite number")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _to_step(value: Decimal) -> Decimal:
    return value.quantize(QTY_STEP, rounding=ROUND_HALF_EVEN)


def _qty(minimum: Decimal):
    return Annotated[
        Decimal,
        pydantic.BeforeValidator(_json_number),
        pydantic.Field(ge=minimum, le=QTY_MAX, allow_inf_nan=False),
        pydantic.AfterValidator(_to_step),
        pydantic.WithJsonSchema(
            {
                "type": "number",
                "minimum": float(minimum),
                "maximum": float(QTY_MAX),
                "description": "rounded to 0.0001",
            }
        ),
    ]


def check_total(count: int, qty, what: str = "count x qty") -> None:
    """Refuse a request whose items add up beyond what a stock counter holds."""
    if count * (qty if qty is not None else 1) > QTY_MAX:
        raise ValueError(f"{what} must not exceed {QTY_MAX}")


#: a quantity > 0: at least 0.0001, rounded to 0.0001 (half to even)
PositiveQty = _qty(QTY_STEP)
#: a quantity >= 0, rounded to 0.0001 (half to even)
NonNegQty = _qty(Decimal(0))


class Strict(pydantic.BaseModel):
    """Request bodies: unknown fields are an error (a typo is not silently ignored)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    def changes(self, *kept_when_null: str) -> dict:
        """The fields a PATCH body sets. Those in `kept_when_null` cannot be emptied: given
        as null they stay as they are, as an omitted field does (the convention of every
        PATCH here, and what the OpenAPI document's nullable types promise)."""
        changes = self.model_dump(exclude_unset=True)
        for field in kept_when_null:
            if changes.get(field, 0) is None:
                del changes[field]
        return changes


class Answer(pydantic.BaseModel):
    """Answer bodies (documented in OpenAPI; built as dicts by the views)."""

    model_config = pydantic.ConfigDict(extra="allow")


def num(value) -> float | int | None:
    """A Decimal as a JSON number: an int when whole."""
    if value is None:
        return None
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)


def _iso_date(value):
    # pydantic also reads "0" or 1700000000 as a date (seconds since 1970); a date here is
    # YYYY-MM-DD, as its schema says
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise pydantic_core.PydanticCustomError("date_format", "Input should be a date YYYY-MM-DD")


#: a calendar date written YYYY-MM-DD (body, query string or CSV cell)
IsoDate = Annotated[
    dt.date,
    pydantic.BeforeValidator(_iso_date),
    pydantic.WithJsonSchema({"type": "string", "format": "date"}),
]


def _whole_number_text(value):
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,18}", value):
            raise pydantic_core.PydanticCustomError("int_parsing", "Input should be a whole number")
        return int(value)
    return value


#: an integer in a query string: digits only (not "1.0")
QueryInt = Annotated[int, pydantic.BeforeValidator(_whole_number_text)]


def _json_int(value, info: pydantic.ValidationInfo):
    # JSON Schema counts 3.0 as an integer; text and booleans are not (CSV cells, validated
    # in python mode, are text and stay accepted)
    if info.mode == "json" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(ge: int, le: int):
    """An integer ge..le in a JSON body: 3 or 3.0, never "3" or true."""
    return Annotated[int, pydantic.Field(ge=ge, le=le), pydantic.BeforeValidator(_json_int)]
