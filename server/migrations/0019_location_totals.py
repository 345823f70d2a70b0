"""Stock by place from kept sums: `location_total` (a location and everything below it,
per unit) and `site_counter` (per site, product and stage), both of stock on hand. The
tables come from the models; this sums them from the location counters of an existing
database (server/core/stock.py `rebuild_totals`), after which every change of the
location counters keeps them in step."""

from __future__ import annotations

import peewee as pw

from server.core import stock


def up(db: pw.Database) -> None:
    stock.rebuild_totals(db)
