"""Print jobs and the stations' print rules; a printer sink for each registered printer."""

from __future__ import annotations

import peewee as pw

from server.models import PrintJob, PrintRule


def up(db: pw.Database) -> None:
    db.create_tables([PrintJob, PrintRule], safe=True)
