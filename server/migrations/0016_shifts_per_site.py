"""Shifts per site and their planned breaks: `Shift.site_id` (null: every site, so the
shifts of an existing database keep their meaning) and `Shift.breaks` (empty: none).

The name is no longer unique on its own: the unique index on it goes, and create_schema
makes `shift_site_name` (the name within its site) after the migrations."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Shift


def up(db: pw.Database) -> None:
    add_columns(db, Shift, "site_id", "breaks")
    db.execute_sql('UPDATE "shift" SET "breaks" = \'[]\' WHERE "breaks" IS NULL')
    db.execute_sql('DROP INDEX IF EXISTS "shift_name"')
