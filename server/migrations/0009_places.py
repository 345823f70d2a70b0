"""Places: sites and locations (the tables come from the models), a location for every
station (its line side), scanner and ledger, and every item placed.

An existing database gets the default site `MAIN`, a `line` location per station (its code
the station's), and every item the location of the station it was last scanned at; items
never scanned at a station (labelled, not received) get theirs when they are received. The
location counters are then summed from the items.
"""

from __future__ import annotations

import peewee as pw

from server.core import locations, stock
from server.migrations import add_columns
from server.models import Item, LedgerEntry, Scanner, Station


def up(db: pw.Database) -> None:
    add_columns(db, Station, "location_id")
    add_columns(db, Scanner, "location_id")
    add_columns(db, Item, "location_id")
    add_columns(db, LedgerEntry, "location_id")
    for station in Station.select().order_by(Station.id):
        locations.line_side(station)
    db.execute_sql(
        'UPDATE "item" SET "location_id" = (SELECT "station"."location_id" FROM "station" '
        'WHERE "station"."id" = "item"."station_id") '
        'WHERE "location_id" IS NULL AND "station_id" IS NOT NULL'
    )
    stock.rebuild_locations(db)
