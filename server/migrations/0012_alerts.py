"""Alerts: a user's e-mail address, alert subscriptions and the alerts of each user.

The new tables are made by `create_schema` from the models before migrations run; this
adds the user's e-mail column to an existing table."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Alert, AlertSubscription, User


def up(db: pw.Database) -> None:
    db.create_tables([AlertSubscription, Alert], safe=True)
    add_columns(db, User, "email")
