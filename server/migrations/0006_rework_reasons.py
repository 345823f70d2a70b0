"""A rework needs a reason since this release: an existing reason list gets the default
reasons to rework (`reasonlist.REWORK_DEFAULTS`), or every rework scan would be refused
until an admin added one. A code the plant already has is left as it is."""

from __future__ import annotations

import peewee as pw

from server.core import reasonlist


def up(db: pw.Database) -> None:
    reasonlist.seed_defaults(reasonlist.REWORK_DEFAULTS)
