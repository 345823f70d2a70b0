"""Reason labels: the scanner keeps the reason (`CMD-WHY-<code>`) of its next scan, and a
ledger row records the reason a worker gave (beside `reason`, the rejection code)."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import LedgerEntry, Scanner


def up(db: pw.Database) -> None:
    add_columns(db, Scanner, "why")
    add_columns(db, LedgerEntry, "why")
