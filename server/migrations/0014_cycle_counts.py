"""Cycle counts: the count and count line tables, and the scanner's count mode
(`Scanner.count_id`, set by `CMD-COUNT-<id>`); see server/core/counts.py."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import CountLine, CycleCount, Scanner


def up(db: pw.Database) -> None:
    db.create_tables([CycleCount, CountLine], safe=True)
    add_columns(db, Scanner, "count_id")
