"""Labels over HTTP: one label as SVG/PNG/ZPL, and print jobs (PDF sheet or ZPL batch).

GET previews and does not count as a print. POST /api/labels is a print job: every item
on it gets a `print` (or `reprint`) entry in its history. With `receive`, the job first
creates the items (stage new) and prints them in the same request: the receiving clerk's
"label this delivery" in one call.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import Response, current_app, request

from labels import TEMPLATES, PrinterError, render_pdf, render_png, render_svg, render_zpl, send_zpl
from server.api import current_user, op
from server.api.schemas import Code, PositiveQty, Strict
from server.core.errors import DomainError, Invalid, NotFound
from server.core.items import create_items
from server.labelling import (
    SYMBOLOGY_CHOICES,
    LabelError,
    command_label,
    item_label,
    record_prints,
)
from server.models import Item, Product, ProductionOrder, utcnow

Symbology = Literal[SYMBOLOGY_CHOICES]  # type: ignore[valid-type]
Template = Literal[tuple(TEMPLATES)]  # type: ignore[valid-type]
MAX_JOB = 2000


class PrinterError502(DomainError):
    status = 502


class ReceiveIn(Strict):
    product: Code
    count: int = pydantic.Field(ge=1, le=MAX_JOB)
    qty: PositiveQty | None = None
    lot: str | None = pydantic.Field(default=None, min_length=1, max_length=20)
    order: Code | None = None


class PrinterIn(Strict):
    host: str = pydantic.Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:-]+$")
    port: int = pydantic.Field(default=9100, ge=1, le=65535)


class LabelJobIn(Strict):
    items: list[Code] = pydantic.Field(default_factory=list, max_length=MAX_JOB)
    commands: list[str] = pydantic.Field(default_factory=list, max_length=500)
    receive: ReceiveIn | None = None
    format: Literal["pdf", "zpl"] = "pdf"
    template: Template = "a4-3x8"
    symbology: Symbology = "auto"
    printer: PrinterIn | None = None

    @pydantic.model_validator(mode="after")
    def _check(self):
        if not (self.items or self.commands or self.receive):
            raise ValueError("nothing to print: give items, commands or receive")
        if self.printer is not None and self.format != "zpl":
            raise ValueError("printing to a printer needs format zpl")
        return self


def _db():
    return current_app.extensions["koordinator.db"]


def _labels_for(items: list[Item], symbology: str):
    try:
        return [item_label(i, i.product, symbology) for i in items]
    except (LabelError, ValueError) as exc:
        raise Invalid("bad_payload", str(exc)) from exc


def _render(job_labels, fmt: str, template: str):
    try:
        if fmt == "pdf":
            return render_pdf(job_labels, template, title="Koordinator labels")
        return render_zpl(job_labels, template)
    except ValueError as exc:  # e.g. a GS1 string too wide for the template
        raise Invalid("bad_payload", str(exc)) from exc


@op("GET", "/labels/<name>", role="operator", tag="labels",
    summary="One label: <code>.svg, <code>.png or <code>.zpl (item code or command label)",
    responses={200: ("The label (image/svg+xml, image/png or text/plain ZPL)", None),
               404: ("Unknown item", None)})  # fmt: skip
def get_label(name: str):
    code, _, fmt = name.rpartition(".")
    if fmt not in ("svg", "png", "zpl") or not code:
        raise NotFound("not_found", "Ask for <code>.svg, <code>.png or <code>.zpl")
    symbology = request.args.get("symbology", "auto")
    template = request.args.get("template")
    if symbology not in SYMBOLOGY_CHOICES:
        raise Invalid("bad_payload", f"symbology {symbology!r} not known")
    if template is not None and template not in TEMPLATES:
        raise Invalid("bad_payload", f"template {template!r} not known")
    try:
        if code.upper().startswith("CMD-"):
            label = command_label(code)
        else:
            item = Item.select(Item, Product).join(Product).where(Item.code == code.upper()).first()
            if item is None:
                raise NotFound("unknown_item", f"No item {code}")
            label = item_label(item, item.product, symbology)
        if fmt == "svg":
            return Response(render_svg(label, template), mimetype="image/svg+xml")
        if fmt == "png":
            return Response(render_png(label, size=template), mimetype="image/png")
        return Response(render_zpl([label], template or "thermal-2x1"), mimetype="text/plain")
    except (LabelError, ValueError) as exc:
        raise Invalid("bad_payload", str(exc)) from exc


@op("POST", "/labels", role="supervisor", tag="labels",
    summary="Print job: a PDF sheet or a ZPL batch for items, command labels, or N items "
    "received now; optionally sent to a Zebra printer (raw TCP 9100)",
    body=LabelJobIn,
    responses={200: ("application/pdf or text/plain ZPL; X-Koordinator-Items lists the item "
                     "codes; JSON {sent, labels} when sent to a printer", None),
               404: ("Unknown item", None), 502: ("Printer did not answer", None)})  # fmt: skip
def post_labels(body: LabelJobIn):
    user = current_user()
    now = utcnow()
    codes = [c.upper() for c in body.items]
    found = {
        i.code: i
        for k in range(0, len(codes), 500)
        for i in Item.select(Item, Product).join(Product).where(Item.code.in_(codes[k : k + 500]))
    }
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound("unknown_item", f"No item {', '.join(missing[:10])}")
    items = [found[c] for c in codes]
    commands = []
    for text in body.commands:
        try:
            commands.append(command_label(text))
        except LabelError as exc:
            raise Invalid("bad_payload", str(exc)) from exc
    with _db().atomic():
        if body.receive is not None:
            product = Product.get_or_none(Product.sku == body.receive.product)
            if product is None:
                raise Invalid("bad_payload", f"No product {body.receive.product}")
            order = None
            if body.receive.order:
                order = ProductionOrder.get_or_none(ProductionOrder.number == body.receive.order)
                if order is None:
                    raise Invalid("unknown_order", f"No order {body.receive.order}")
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
        output = _render(job, body.format, body.template)
        how = f"{body.format} {body.template}"
        if body.printer is not None:
            try:
                sent = send_zpl(body.printer.host, output, port=body.printer.port)
            except PrinterError as exc:
                raise PrinterError502("printer_unreachable", str(exc)) from exc
            how += f" to {body.printer.host}:{body.printer.port}"
        record_prints(items, how, user.id, now)
    headers = {"X-Koordinator-Items": ",".join(i.code for i in items)}
    if body.printer is not None:
        return {"sent": sent, "labels": len(job), "items": [i.code for i in items]}, 200, headers
    if body.format == "pdf":
        return Response(output, mimetype="application/pdf", headers=headers)
    return Response(output, mimetype="text/plain", headers=headers)
