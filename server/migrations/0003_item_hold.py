"""Hold: an item's held flag beside its stage, with the reason, who held it and when."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Item


def up(db: pw.Database) -> None:
    add_columns(db, Item, "held", "held_why", "held_by_id", "held_at")
