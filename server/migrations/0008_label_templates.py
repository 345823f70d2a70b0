"""Label templates as data: the `label_template` table (created from the model by
`create_schema`) gets the default template, the item label of the releases before it."""

from __future__ import annotations

import peewee as pw

from server.core import labeltemplates


def up(db: pw.Database) -> None:
    labeltemplates.seed_default()
