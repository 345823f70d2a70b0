"""A user may be limited to sites: `User.site_ids`, null (every site) for every existing
user. See server/core/siteaccess.py."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import User


def up(db: pw.Database) -> None:
    add_columns(db, User, "site_ids")
