"""Shifts, machines, the downtime log, OEE buckets; standard and setup time per routing step.

The new tables are made by `create_schema` from the models before migrations run; this
adds the routing step columns to an existing table."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Downtime, Machine, OeeBucket, RoutingStep, Shift


def up(db: pw.Database) -> None:
    db.create_tables([Shift, Machine, Downtime, OeeBucket], safe=True)
    add_columns(db, RoutingStep, "std_minutes", "setup_minutes")
