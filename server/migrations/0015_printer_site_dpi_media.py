"""Printers get a site, a print head resolution (`dpi`, 203 for the printers registered
before: the resolution ZPL was drawn at) and the media loaded (width x height in mm, gap
or continuous; not known for the printers registered before). See server/core/printers.py."""

from __future__ import annotations

import peewee as pw

from server.migrations import add_columns
from server.models import Printer


def up(db: pw.Database) -> None:
    add_columns(db, Printer, "site_id", "dpi", "media_width_mm", "media_height_mm", "media_kind")
