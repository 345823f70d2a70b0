"""Cycle counts and shipments: the count, count line and shipment tables; the scanner's
count mode (`Scanner.count_id`, `CMD-COUNT-<id>`) and current shipment
(`Scanner.shipment_id`, `SHP-<ref>`); the shipment an item left in (`Item.shipment_id`)
and the one a ship or return ledger row names (`LedgerEntry.shipment_id`). See
server/core/counts.py and server/core/shipments.py."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import CountLine, CycleCount, Item, LedgerEntry, Scanner, Shipment


def up(db: pw.Database) -> None:
    db.create_tables([CycleCount, CountLine, Shipment], safe=True)
    add_columns(db, Scanner, "count_id", "shipment_id")
    add_columns(db, Item, "shipment_id")
    add_columns(db, LedgerEntry, "shipment_id")
