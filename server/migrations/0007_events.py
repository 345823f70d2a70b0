"""The event outbox, the flags last raised, the sinks and their delivery attempts."""

from __future__ import annotations

import peewee as pw

from server.models import DeliveryAttempt, Event, FlagState, Sink


def up(db: pw.Database) -> None:
    db.create_tables([Event, FlagState, Sink, DeliveryAttempt], safe=True)
