"""A product's near-expiry window: stock expiring within that many days raises the
`near_expiry` flag (server/core/flags.py); null, as every existing product gets, raises none."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Product


def up(db: pw.Database) -> None:
    add_columns(db, Product, "near_expiry_days")
