"""Recording scans that never reached `apply_scan()`: unreadable or misaddressed payloads.

An adapter (the MQTT ingest) calls `record_rejected_payload()` for a payload it could not
turn into a `ScanIn` - not JSON, a schema failure, a payload naming another scanner than
its topic. The ledger keeps a rejected row so supervisors see it among rejected scans, but
with `scan_id` NULL: the row must not make a later, correct send of the same scan_id a
duplicate. The scan_id that could be read (if any) is kept in `note`.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from server.core.reasons import describe
from server.core.scans import ScanResult
from server.models import LedgerEntry, utcnow


def rejected_result(scan_id: str, reason: str, detail: str = "") -> ScanResult:
    """The answer for a payload rejected before `apply_scan()`."""
    message = describe(reason)
    if detail:
        message = f"{message}: {detail}"
    return ScanResult(scan_id=scan_id, status="rejected", reason=reason, message=message[:200])


def record_rejected_payload(
    db: pw.Database,
    *,
    scanner_id: str,
    reason: str,
    detail: str,
    scan_id: str | None = None,
    raw: str | None = None,
    now: dt.datetime | None = None,
) -> ScanResult | None:
    """Write the ledger row of a rejected payload; return its answer when scan_id is known.

    Runs in the caller's transaction (the ingest's group commit) when there is one.
    """
    result = rejected_result(scan_id, reason, detail) if scan_id else None
    message = (result.message if result else f"{describe(reason)}: {detail}")[:200]
    with db.atomic():
        LedgerEntry.create(
            scan_id=None,
            origin="scan",
            scanner_id=scanner_id[:64],
            raw_code=(raw or "")[:500].replace("\x00", "\ufffd") or None,
            status="rejected",
            reason=reason,
            message=message,
            note=scan_id,  # the scan_id read, if any; the column itself stays NULL
            received_at=now or utcnow(),
            result=result.to_dict() if result else None,
        )
    return result
