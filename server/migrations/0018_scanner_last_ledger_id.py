"""Each scanner's last answer by its id: `Scanner.last_ledger_id`, written with
`last_scan_at` by every batch of scans (server/core/hot.py touch_scanners), so the plant
floor reads a scanner's last ledger row by its primary key instead of looking for it in
the seconds before `last_scan_at` (server/core/plantfloor.py).

Backfilled for the scanners that have scanned: the greatest id of their rows received up
to their `last_scan_at` (a scanner's own scan row is the last one its scan writes)."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Scanner


def up(db: pw.Database) -> None:
    add_columns(db, Scanner, "last_ledger_id")
    db.execute_sql(
        'UPDATE "scanner" SET "last_ledger_id" = (SELECT MAX("l"."id") FROM "ledger_entry" '
        'AS "l" WHERE "l"."scanner_id" = "scanner"."id" '
        'AND "l"."received_at" <= "scanner"."last_scan_at") '
        'WHERE "last_scan_at" IS NOT NULL AND "last_ledger_id" IS NULL'
    )
