"""Label templates as data: versions of a design, the default, and an item's values.

A template is a name with versions (`LabelTemplate` rows); a version is never changed:
saving a template adds the next version, and a print records `name vN`, so a label printed
last year can be drawn again as it was. The design itself (size, dpi, symbology, where each
field goes) is a `labels.Design`; this module checks it, stores it and says what an item
prints in each field. Labels carry what stays true of an item: its code, product, lot,
quantity, expiry, GTIN and order, never its stage, which changes with the next scan.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from labels import Design, default_design
from server.core.errors import Invalid, NotFound
from server.models import Item, LabelTemplate, Product, ProductionOrder

DEFAULT = "default"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def seed_default() -> None:
    """Version 1 of `default` (2 × 1 in, 203 dpi: the label printed before templates),
    when no template of that name exists."""
    if not LabelTemplate.select().where(LabelTemplate.name == DEFAULT).exists():
        LabelTemplate.create(name=DEFAULT, version=1, design=default_design().as_dict())


def check_design(data: dict) -> Design:
    """The design of `data`, or `Invalid("bad_payload")` saying what is wrong; a design
    whose symbol box cannot hold a typical item code is refused here, not at print time."""
    try:
        design = Design.from_dict(data)
        from labels import layout_design

        layout_design(design, SAMPLE, unit=25.4 / design.dpi)
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid("bad_payload", f"Template: {exc}") from exc
    return design


def save(name: str, data: dict, user_id: int | None, now: dt.datetime) -> LabelTemplate:
    """Add the next version of template `name` (version 1 for a new name)."""
    if not NAME.match(name or ""):
        raise Invalid("bad_payload", "A template name is 1-64 letters, digits, '.', '_', '-'")
    design = check_design(data)
    last = latest(name)
    return LabelTemplate.create(
        name=name,
        version=(last.version + 1) if last else 1,
        design=design.as_dict(),
        created_by=user_id,
        created_at=now,
    )


def latest(name: str) -> LabelTemplate | None:
    return (
        LabelTemplate.select()
        .where(LabelTemplate.name == name)
        .order_by(LabelTemplate.version.desc())
        .first()
    )


def get(name: str, version: int | None = None) -> LabelTemplate:
    """Template `name` at `version` (the latest when None), else `NotFound`."""
    if version is None:
        row = latest(name)
    else:
        row = LabelTemplate.get_or_none(
            (LabelTemplate.name == name) & (LabelTemplate.version == version)
        )
    if row is None:
        raise NotFound("unknown_template", f"No label template {name}")
    return row


def current() -> list[LabelTemplate]:
    """The latest version of every template, by name."""
    rows = LabelTemplate.select().order_by(LabelTemplate.name, LabelTemplate.version.desc())
    seen: dict[str, LabelTemplate] = {}
    for row in rows:
        seen.setdefault(row.name, row)
    return list(seen.values())


def design_of(row: LabelTemplate) -> Design:
    return Design.from_dict(row.design)


def _qty(value) -> str:
    return f"{Decimal(value).normalize():f}"


def item_values(item: Item, product: Product, order: ProductionOrder | None = None) -> dict:
    """What `item` prints in each field of a template (no stage: see the module doc)."""
    qty = ""
    if item.lot or Decimal(item.qty or 0) != 1:
        qty = f"{_qty(item.qty)} {product.unit}".strip()
    return {
        "code": item.code,
        "product": product.name,
        "lot": item.lot or "",
        "quantity": qty,
        "expiry": item.expiry.isoformat() if item.expiry else "",
        "gtin": product.gtin or "",
        "order": order.number if order is not None else "",
    }


#: the values the editor's preview and the design check use
SAMPLE = {
    "code": "K7M2QX4R9",
    "product": "Hex bolt M8x40",
    "lot": "L2026-11",
    "quantity": "250 ea",
    "expiry": "2027-06-30",
    "gtin": "09506000134352",
    "order": "2026-0107",
}
