"""Labels for items and command labels, and the record of every print in the ledger.

The `labels` package only draws; this module decides what goes on an item's label and
writes each print (first print `print`, later ones `reprint`) into the item's history. It
has no Flask import: the API and the pages both call it.

Symbology, `auto` (the default): an item of a product with a GTIN and a serial number gets
a GS1-128 label with (01) and (21), which identifies exactly that unit (the scan resolves
it by its SGTIN key). Everything else gets Code 128 of the internal item code, which also
identifies exactly one item. A GS1 lot label ((01)+(10)) names a lot, not an item, so it
is printed only when asked for with `gs1-128`.
"""

from __future__ import annotations

import datetime as dt

from labels import Label, gs1_label
from server.models import Item, LedgerEntry, Product

SYMBOLOGY_CHOICES = ("auto", "code128", "gs1-128", "qr", "datamatrix")


class LabelError(ValueError):
    """An item cannot be labelled the way asked (e.g. GS1 without a GTIN)."""


def item_label(item: Item, product: Product, symbology: str = "auto") -> Label:
    lines = [product.sku]
    if item.lot:
        lines.append(f"LOT {item.lot}")
    if item.serial:
        lines.append(f"S/N {item.serial}")
    title = product.name[:40]
    stage = str(item.stage)
    if symbology == "auto":
        symbology = "gs1-128" if (product.gtin and item.serial) else "code128"
    if symbology == "gs1-128":
        if not product.gtin or not (item.serial or item.lot):
            raise LabelError(f"{item.code}: GS1 labels need a product GTIN and a lot or serial")
        label = gs1_label(
            product.gtin,
            lot=None if item.serial else item.lot,
            serial=item.serial,
            expiry=item.expiry,
            title=title,
            lines=tuple([*lines, item.code]),
            stage=stage,
        )
        return label
    return Label(code=item.code, symbology=symbology, title=title, lines=tuple(lines), stage=stage)


COMMAND_TITLES = {
    "OP": "Operator badge",
    "OUT": "Sign out",
    "ORD": "Order",
    "ACT": "Action",
    "DONE": "Done - station defaults",
}


def command_label(text: str) -> Label:
    """A command label (`CMD-OP-<badge>`, `CMD-ORD-<n>`, ...) as Code 128."""
    from server.core import codes
    from server.core.errors import Rejected

    try:
        parsed = codes.parse(text)
    except Rejected as exc:
        raise LabelError(f"{text!r} is not a command label") from exc
    if parsed.kind != codes.CodeKind.COMMAND:
        raise LabelError(f"{text!r} is not a command label")
    title = COMMAND_TITLES[parsed.command]
    return Label(code=text, title=title, lines=(parsed.arg,) if parsed.arg else ())


def record_prints(items: list[Item], how: str, operator_id: int | None, now: dt.datetime) -> None:
    """One ledger entry per item: `print` the first time, `reprint` after."""
    if not items:
        return
    ids = [i.id for i in items]
    printed: set[int] = set()
    for k in range(0, len(ids), 500):
        printed.update(
            r
            for (r,) in LedgerEntry.select(LedgerEntry.item)
            .where(
                LedgerEntry.item.in_(ids[k : k + 500])
                & LedgerEntry.action.in_(("print", "reprint"))
            )
            .tuples()
        )
    rows = [
        {
            "origin": "api",
            "action": "reprint" if item.id in printed else "print",
            "item": item.id,
            "from_stage": item.stage,
            "to_stage": item.stage,
            "qty": item.qty,
            "status": "accepted",
            "message": f"Label {'reprinted' if item.id in printed else 'printed'} ({how})",
            "operator": operator_id,
            "received_at": now,
            "warnings": [],
        }
        for item in items
    ]
    for k in range(0, len(rows), 500):
        LedgerEntry.insert_many(rows[k : k + 500]).execute()
