"""Labels over HTTP: one label as SVG/PNG/ZPL, and print jobs (PDF sheet or ZPL batch).

GET previews and does not count as a print. POST /api/labels is a print job: every item
on it gets a `print` (or `reprint`) entry in its history. With `receive`, the job first
creates the items (stage new) and prints them in the same request: the receiving clerk's
"label this delivery" in one call.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import Response, current_app

from labels import TEMPLATES, render_pdf, render_png, render_svg, render_zpl
from server.api import current_user, op
from server.api.schemas import Code, PositiveQty, Strict, check_total, whole_number
from server.core import printers, printjobs, siteaccess
from server.core.errors import Conflict, Invalid, NotFound
from server.core.items import create_items
from server.labelling import (
    PRINTER_FORMAT,
    SYMBOLOGY_CHOICES,
    LabelError,
    command_label,
    item_label,
    reason_labels,
    record_prints,
)
from server.models import Item, Printer, Product, ProductionOrder, utcnow

Symbology = Literal[SYMBOLOGY_CHOICES]  # type: ignore[valid-type]
Template = Literal[tuple(TEMPLATES)]  # type: ignore[valid-type]
MAX_JOB = 2000


def _printer(name: str | None) -> Printer | None:
    """The registered printer called `name`: 404 unknown_printer, 409 when not active."""
    if name is None:
        return None
    from server.api import current_user

    # a printer of another site is unknown to a user limited to sites (siteaccess.py)
    printer = Printer.get_or_none(Printer.name == name)
    printer = siteaccess.check_printer(current_user(), printer, name)
    if not printer.active:
        raise Conflict("printer_unavailable", f"Printer {name} is not active")
    return printer


class ReceiveIn(Strict):
    product: Code
    count: whole_number(1, MAX_JOB)  # type: ignore[valid-type]
    qty: PositiveQty | None = None
    lot: str | None = pydantic.Field(default=None, min_length=1, max_length=20)
    order: Code | None = None

    @pydantic.model_validator(mode="after")
    def _total(self):
        # the stock counters hold sums as numeric(18, 4): PostgreSQL refuses more
        check_total(self.count, self.qty)
        return self


class LabelJobIn(Strict):
    items: list[Code] = pydantic.Field(default_factory=list, max_length=MAX_JOB)
    commands: list[str] = pydantic.Field(default_factory=list, max_length=500)
    reasons: bool = pydantic.Field(
        default=False,
        description="true: a reason label CMD-WHY-<code> of every active reason of the list",
    )
    receive: ReceiveIn | None = None
    format: Literal["pdf", "zpl"] | None = pydantic.Field(
        default=None, description="pdf, or zpl; without it the printer's (pdf with none)"
    )
    template: Template | None = pydantic.Field(
        default=None, description="a4-3x8 for pdf, thermal-2x1 for zpl when not given"
    )
    symbology: Symbology = "auto"
    printer: Code | None = pydantic.Field(
        default=None, description="the name of a registered printer (GET /api/printers)"
    )

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "description": "at least one of items, commands, receive, reasons",
            "examples": [
                {"commands": ["CMD-DONE", "CMD-OUT"], "format": "pdf"},
                {"receive": {"product": "STEEL", "count": 3, "qty": 25, "lot": "L-77"}},
            ],
            "anyOf": [
                {"required": ["items"], "properties": {"items": {"minItems": 1}}},
                {"required": ["commands"], "properties": {"commands": {"minItems": 1}}},
                {"required": ["receive"], "properties": {"receive": {"type": "object"}}},
                {"required": ["reasons"], "properties": {"reasons": {"const": True}}},
            ],
        }
    )

    @pydantic.model_validator(mode="after")
    def _check(self):
        if not (self.items or self.commands or self.receive or self.reasons):
            raise ValueError("nothing to print: give items, commands, receive or reasons")
        return self


class LabelQuery(Strict):
    symbology: Symbology = "auto"
    template: Template | None = None


def _db():
    return current_app.extensions["koordinator.db"]


def _labels_for(items: list[Item], symbology: str):
    try:
        return [item_label(i, i.product, symbology) for i in items]
    except (LabelError, ValueError) as exc:
        raise Invalid("bad_payload", str(exc)) from exc


def _check_media(printer: Printer, template: str) -> None:
    """409 media_mismatch when a thermal template's label is larger than the printer's
    media (a sheet template goes to a sheet printer: not checked)."""
    tpl = TEMPLATES.get(template)
    if tpl is not None and tpl.thermal:
        printers.check_fits(printer, tpl.label_width, tpl.label_height, f"template {template}")


def _render(job_labels, fmt: str, template: str, dpi: int = 203):
    try:
        if fmt == "pdf":
            return render_pdf(job_labels, template, title="Koordinator labels")
        return render_zpl(job_labels, template, dpi)
    except ValueError as exc:  # e.g. a GS1 string too wide for the template
        raise Invalid("bad_payload", str(exc)) from exc


@op("GET", "/labels/<name>", role="operator", tag="labels",
    summary="One label: <code>.svg, <code>.png or <code>.zpl (item code, command label "
    "or location label LOC-<code>)",
    query=LabelQuery,
    responses={200: ("The label (image/svg+xml, image/png or text/plain ZPL)", None),
               404: ("Unknown item", None)},
    produces={200: ("image/svg+xml", "image/png", "text/plain")})  # fmt: skip
def get_label(name: str, query: LabelQuery):
    code, _, fmt = name.rpartition(".")
    if fmt not in ("svg", "png", "zpl") or not code:
        raise NotFound("not_found", "Ask for <code>.svg, <code>.png or <code>.zpl")
    symbology, template = query.symbology, query.template
    try:
        if code.upper().startswith(("CMD-", "LOC-")):
            label = command_label(code)
        else:
            item = Item.select(Item, Product).join(Product).where(Item.code == code.upper()).first()
            siteaccess.check_item(current_user(), item, code)  # another site's: unknown
            label = item_label(item, item.product, symbology)
        if fmt == "svg":
            return Response(render_svg(label, template), mimetype="image/svg+xml")
        if fmt == "png":
            return Response(render_png(label, size=template), mimetype="image/png")
        return Response(render_zpl([label], template or "thermal-2x1"), mimetype="text/plain")
    except (LabelError, ValueError) as exc:
        raise Invalid("bad_payload", str(exc)) from exc


@op("POST", "/labels", role="clerk", tag="labels",
    summary="Print job: a PDF sheet or a ZPL batch for items, command labels, or N items "
    "received now; or queued for a registered printer by name (202)",
    body=LabelJobIn,
    responses={200: ("application/pdf or text/plain ZPL; X-Koordinator-Items lists the item "
                     "codes", None),
               202: ("Sent to a printer: JSON {job, printer, state, labels, items}, a print "
                     "job the dispatcher delivers (GET /api/print-jobs)", None),
               404: ("Unknown item, product, order or printer", None),
               409: ("printer_unavailable: the printer is not active; media_mismatch: the "
                    "template's label is larger than the printer's media", None)},
    produces={200: ("application/pdf", "text/plain")},
    headers={200: {"X-Koordinator-Items": "the item codes printed, comma-separated"},
             202: {"X-Koordinator-Items": "the item codes printed, comma-separated"}})  # fmt: skip
def post_labels(body: LabelJobIn):
    user = current_user()
    now = utcnow()
    printer = _printer(body.printer)
    fmt = body.format or (PRINTER_FORMAT[printer.kind] if printer else "pdf")
    if printer is not None and fmt != PRINTER_FORMAT[printer.kind]:
        raise Invalid(
            "bad_payload", f"Printer {printer.name} prints {PRINTER_FORMAT[printer.kind]}"
        )
    template = body.template or ("a4-3x8" if fmt == "pdf" else "thermal-2x1")
    codes = [c.upper() for c in body.items]
    found = {
        i.code: i
        for k in range(0, len(codes), 500)
        for i in Item.select(Item, Product).join(Product).where(Item.code.in_(codes[k : k + 500]))
    }
    # another site's item is unknown to a user limited to sites (siteaccess.py)
    missing = [c for c in codes if c not in found or not siteaccess.item_visible(user, found[c])]
    if missing:
        raise NotFound("unknown_item", f"No item {', '.join(missing[:10])}")
    items = [found[c] for c in codes]
    commands = []
    for text in body.commands:
        try:
            commands.append(command_label(text))
        except LabelError as exc:
            raise Invalid("bad_payload", str(exc)) from exc
    if body.reasons:
        commands.extend(reason_labels())
    with _db().atomic():
        if body.receive is not None:
            product = Product.get_or_none(Product.sku == body.receive.product)
            if product is None:
                raise NotFound("unknown_product", f"No product {body.receive.product}")
            order = None
            if body.receive.order:
                order = ProductionOrder.get_or_none(ProductionOrder.number == body.receive.order)
                if order is None:
                    raise NotFound("unknown_order", f"No order {body.receive.order}")
            new = create_items(
                _db(),
                product,
                count=body.receive.count,
                qty=body.receive.qty,
                lot=body.receive.lot,
                order=order,
                operator_id=user.id,
                now=now,
            )
            for i in new:
                i.product = product
            items.extend(new)
        job = _labels_for(items, body.symbology) + commands
        if printer is not None:
            _check_media(printer, template)
        output = _render(job, fmt, template, printer.dpi if printer is not None else 203)
        how = f"{fmt} {template}"
        queued = None
        if printer is not None:
            # a print job, delivered by the dispatcher's printer sink (docs/labels.md)
            data = output.encode("utf-8") if isinstance(output, str) else output
            queued, _event = printjobs.enqueue(
                printer, source="api", now=now, data=data, labels=len(job), user_id=user.id
            )
            how += f" to printer {printer.name}"
        record_prints(items, how, user.id, now)
    headers = {"X-Koordinator-Items": ",".join(i.code for i in items)}
    if queued is not None:
        answer = {
            "job": queued.id,
            "printer": printer.name,
            "state": queued.state,
            "labels": len(job),
            "items": [i.code for i in items],
        }
        return answer, 202, headers
    if fmt == "pdf":
        return Response(output, mimetype="application/pdf", headers=headers)
    return Response(output, mimetype="text/plain", headers=headers)
