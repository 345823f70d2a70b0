"""Products, stations and scanners can be deactivated instead of deleted; a user's session
version lets a logout, a password change or a demotion end every session of that user."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Product, Scanner, Station, User


def up(db: pw.Database) -> None:
    add_columns(db, User, "session_version")
    add_columns(db, Product, "active")
    add_columns(db, Station, "active")
    add_columns(db, Scanner, "active")
