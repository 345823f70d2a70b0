"""The scan payload of the wire contract, shared by the MQTT and HTTP adapters.

`docs/protocol.md` is the prose of this module. Unknown fields are ignored so agents may
add fields before the server knows them; known fields are type-checked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

import pydantic

from server.core.scans import ScanIn
from server.models import utcnow

ScanId = Annotated[
    str,
    pydantic.StringConstraints(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$"),
]


class ScanPayload(pydantic.BaseModel):
    """What an agent publishes on koordinator/scanners/<id>/scans."""

    model_config = pydantic.ConfigDict(extra="ignore")

    scan_id: ScanId = pydantic.Field(description="unique per physical scan; 1-64 printable ASCII")
    code: str = pydantic.Field(
        min_length=1, max_length=4096, description="text as decoded, GS (FNC1) as \\u001d"
    )
    scanned_at: dt.datetime | None = pydantic.Field(
        default=None, description="RFC 3339; the server's receive time when absent"
    )
    source: Literal["barcode", "rfid", "camera"] = pydantic.Field(
        default="barcode",
        description="barcode: a scanner; rfid: an RFID reader; camera: the scan page read a "
        "barcode with the device's camera (parsed as a barcode)",
    )
    qty: Decimal | None = pydantic.Field(
        default=None, gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False
    )
    scrap_qty: Decimal | None = pydantic.Field(
        default=None,
        gt=0,
        max_digits=18,
        decimal_places=4,
        allow_inf_nan=False,
        description="completing a lot: the part of it that is scrap (needs a reason); qty, "
        "if given, is the good part and the two make the label's quantity",
    )
    station: str | None = pydantic.Field(default=None, min_length=1, max_length=32)
    note: str | None = pydantic.Field(
        default=None, max_length=200, description="why, in words (scrap and return need it)"
    )
    reason: str | None = pydantic.Field(
        default=None,
        min_length=1,
        max_length=32,
        description="a code of the plant's reason list (GET /api/reasons), as a reason label "
        "CMD-WHY-<code> would give it; not a rejection reason code",
    )

    @pydantic.field_validator("code", "note", "station", "reason")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # NUL cannot be stored in PostgreSQL text and never comes from a real scanner
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @pydantic.field_validator("scanned_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValueError("scanned_at is outside the representable range") from exc

    def to_scan(self, scanner_id: str, user_id: int | None = None) -> ScanIn:
        scanned_at = self.scanned_at
        if scanned_at is not None and scanned_at.tzinfo is not None:
            scanned_at = scanned_at.astimezone(dt.UTC).replace(tzinfo=None)
        return ScanIn(
            scan_id=self.scan_id,
            scanner_id=scanner_id,
            code=self.code,
            scanned_at=scanned_at or utcnow(),
            source=self.source,
            qty=self.qty,
            station=self.station,
            note=self.note,
            reason=self.reason,
            scrap_qty=self.scrap_qty,
            user_id=user_id,
        )


class HttpScanPayload(ScanPayload):
    """POST /api/scans: the MQTT payload plus the scanner's id."""

    scanner_id: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=64)]


class ScanResultOut(pydantic.BaseModel):
    """What the server answers on koordinator/scanners/<id>/results and to POST /api/scans."""

    scan_id: str
    status: Literal["accepted", "rejected"]
    duplicate: bool
    reason: str | None = pydantic.Field(description="reason code, see docs/reason-codes.md")
    message: str = pydantic.Field(description="short text for the worker")
    item: str | None
    stage: str | None
    warnings: list[dict]
    action: str | None = None
