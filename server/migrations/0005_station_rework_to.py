"""A rework station names the routing station its reworked units go to next."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Station


def up(db: pw.Database) -> None:
    add_columns(db, Station, "rework_to_id")
