"""Label templates and label sheets over HTTP (clerk and above).

`/label-templates`: list the latest version of each template, save a new version, and draw
a preview of a design that is not saved yet (the editor's live preview). `/print-sheets`:
a PDF sheet of the labels of chosen items (by code, order, product, lot or a CSV of
codes) with a template, or of command labels (badges, orders, actions, reasons), drawn in
the background (server/printsheets.py) while the page polls its progress.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

import peewee as pw
import pydantic
from flask import Response, current_app

from labels import TEMPLATES, Label, render_design_pdf, render_pdf
from labels.design import ALIGNS, DPIS, FIELDS, MAX_SIDE, MIN_SIDE, SYMBOLOGIES, Design
from labels.render import render_design_png, render_design_svg
from server import printsheets
from server.api import current_user, op
from server.api.schemas import Answer, Code, Strict, whole_number
from server.core import labeltemplates, siteaccess
from server.core.errors import Invalid, NotFound
from server.core.stages import OVERRIDE_ACTIONS
from server.labelling import reason_labels, record_prints
from server.models import Item, LabelTemplate, Product, ProductionOrder, User, utcnow

MAX_SHEET = 2000
Stock = Literal[("page", *TEMPLATES)]  # type: ignore[valid-type]


class BoxIn(Strict):
    field: Literal[FIELDS]  # type: ignore[valid-type]
    x: float = pydantic.Field(ge=0, le=100, description="left, percent of the printable width")
    y: float = pydantic.Field(ge=0, le=100, description="top, percent of the printable height")
    w: float = pydantic.Field(gt=0, le=100)
    h: float = pydantic.Field(gt=0, le=100)
    align: Literal[ALIGNS] = "middle"  # type: ignore[valid-type]
    bold: bool = False
    text: str | None = pydantic.Field(
        default=None,
        max_length=80,
        description="the text of a `text` box; the prefix of the others (LOT , EXP , ...)",
    )


class DesignIn(Strict):
    width: float = pydantic.Field(ge=MIN_SIDE, le=MAX_SIDE, description="mm")
    height: float = pydantic.Field(ge=MIN_SIDE, le=MAX_SIDE, description="mm")
    dpi: Literal[DPIS] = 203  # type: ignore[valid-type]
    symbology: Literal[SYMBOLOGIES] = "code128"  # type: ignore[valid-type]
    boxes: list[BoxIn] = pydantic.Field(min_length=1, max_length=20)


class TemplateIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "lot-2x1",
                    "design": {
                        "width": 50.8,
                        "height": 25.4,
                        "boxes": [
                            {"field": "symbol", "x": 0, "y": 0, "w": 100, "h": 50},
                            {"field": "code", "x": 0, "y": 51, "w": 100, "h": 15},
                            {"field": "lot", "x": 0, "y": 68, "w": 100, "h": 15},
                            {"field": "expiry", "x": 0, "y": 85, "w": 100, "h": 15},
                        ],
                    },
                }
            ]
        }
    )

    name: Code
    design: DesignIn


#: a sample value: as long as the longest a template prints (a product name)
SampleText = Annotated[str, pydantic.StringConstraints(max_length=200)]


class PreviewIn(Strict):
    design: DesignIn
    format: Literal["svg", "png"] = "svg"
    values: dict[Literal[FIELDS[1:-1]], SampleText] | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="the sample item when not given"
    )


class TemplateOut(Answer):
    name: str
    version: int
    design: dict
    created_at: str
    created_by: str | None


class SheetIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "description": "items (by codes, order, product, lot or csv) or commands",
            "examples": [
                {"order": "2026-0107", "template": "default", "stock": "letter-3x10"},
                {"commands": "reasons"},
            ],
        }
    )

    template: Code | None = pydantic.Field(default=None, description="default: `default`")
    version: whole_number(1, 2**31 - 1) | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="default: the latest"
    )
    stock: Stock | None = pydantic.Field(
        default=None,
        description="a sheet of labels.TEMPLATES, or page (one label per page of the "
        "template's size); default a4-3x8 for commands, page for items",
    )
    codes: list[Code] = pydantic.Field(default_factory=list, max_length=MAX_SHEET)
    order: Code | None = None
    product: Code | None = None
    lot: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    csv: str | None = pydantic.Field(
        default=None,
        max_length=200_000,
        description="CSV text: the column `code` (or the first column) lists item codes",
    )
    commands: Literal["badges", "orders", "actions", "reasons"] | None = None


class SheetOut(Answer):
    id: str
    state: Literal["running", "done", "failed"]
    done: int
    total: int
    error: str | None = None


def template_dict(row: LabelTemplate) -> dict:
    return {
        "name": row.name,
        "version": row.version,
        "design": row.design,
        "created_at": row.created_at.isoformat() + "Z",
        "created_by": User.get_by_id(row.created_by_id).username if row.created_by_id else None,
    }


@op("GET", "/label-templates", role="clerk", tag="labels",
    summary="The latest version of every label template, the fields a box can print and "
    "the sheet stocks", responses={200: ("Templates", None)})  # fmt: skip
def list_templates():
    return {
        "templates": [template_dict(r) for r in labeltemplates.current()],
        "fields": list(FIELDS),
        "stocks": ["page", *TEMPLATES],
    }


@op("POST", "/label-templates", role="clerk", tag="labels",
    summary="Save a label template: a new name gets version 1, an existing one its next "
    "version (printed labels record name and version)", body=TemplateIn,
    responses={201: ("The saved version", TemplateOut),
               400: ("bad_payload: the design cannot hold an item code", None)})  # fmt: skip
def save_template(body: TemplateIn):
    user = current_user()
    with current_app.extensions["koordinator.db"].atomic():
        row = labeltemplates.save(body.name, body.design.model_dump(), user.id, utcnow())
    return template_dict(row), 201


@op("POST", "/label-templates/preview", role="clerk", tag="labels",
    summary="Draw a design (saved or not) as SVG or PNG with a sample item: the editor's "
    "live preview", body=PreviewIn,
    responses={200: ("The label", None), 400: ("bad_payload: the design is not drawable", None)},
    produces={200: ("image/svg+xml", "image/png")})  # fmt: skip
def preview(body: PreviewIn):
    design = labeltemplates.check_design(body.design.model_dump())
    values = {**labeltemplates.SAMPLE, **(body.values or {})}
    try:
        if body.format == "png":
            # a preview, not a print: at most 300 dpi, whatever the printer's
            out = render_design_png(design, values, min(design.dpi, 300))
            return Response(out, mimetype="image/png", headers={"Cache-Control": "no-store"})
        out = render_design_svg(design, values)
    except ValueError as exc:
        raise Invalid("bad_payload", f"Template: {exc}") from exc
    return Response(out, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def _csv_codes(text: str) -> list[str]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = header.index("code") if "code" in header else 0
    if "code" in header:
        rows = rows[1:]
    return [r[column].strip().upper() for r in rows if len(r) > column and r[column].strip()]


def _items(body: SheetIn, user: User | None) -> list[Item]:
    """The items a sheet prints. A user limited to sites: a code of another site's item is
    `unknown_item`, as everywhere; an order, product or lot chooses that user's items only
    (server/core/siteaccess.py)."""
    query = (
        Item.select(Item, Product, ProductionOrder)
        .join(Product)
        .switch(Item)
        .join(ProductionOrder, pw.JOIN.LEFT_OUTER)
    )
    mine = siteaccess.items_where(user)
    if mine is not None:
        query = query.where(mine)
    chosen: dict[str, Item] = {}
    codes = [c.upper() for c in body.codes] + (_csv_codes(body.csv) if body.csv else [])
    if len(codes) > MAX_SHEET:
        raise Invalid("bad_payload", f"At most {MAX_SHEET} labels on one sheet")
    found = {
        i.code: i
        for k in range(0, len(codes), 500)
        for i in query.where(Item.code.in_(codes[k : k + 500]))
    }
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound("unknown_item", f"No item {', '.join(missing[:10])}")
    for c in codes:
        chosen.setdefault(c, found[c])
    order = product = None
    if body.order:
        order = ProductionOrder.get_or_none(ProductionOrder.number == body.order)
        if order is None:
            raise NotFound("unknown_order", f"No order {body.order}")
    if body.product:
        product = Product.get_or_none(Product.sku == body.product)
        if product is None:
            raise NotFound("unknown_product", f"No product {body.product}")
    for cond in (
        (Item.order == order) if order is not None else None,
        (Item.product == product) if product is not None else None,
        (Item.lot == body.lot) if body.lot else None,
    ):
        if cond is None:
            continue
        for i in query.where(cond).order_by(Item.id).limit(MAX_SHEET + 1):
            chosen.setdefault(i.code, i)
    if len(chosen) > MAX_SHEET:
        raise Invalid("bad_payload", f"At most {MAX_SHEET} labels on one sheet")
    return list(chosen.values())


def _commands(kind: str) -> list[Label]:
    if kind == "reasons":
        return reason_labels()
    if kind == "actions":
        return [
            Label(code=f"CMD-ACT-{a.value.upper()}", title="Action", lines=(a.value,))
            for a in OVERRIDE_ACTIONS
        ]
    if kind == "orders":
        rows = ProductionOrder.select().where(
            ProductionOrder.status.in_(("planned", "released", "in_progress"))
        )
        return [
            Label(code=f"CMD-ORD-{o.number}", title="Order", lines=(o.number,))
            for o in rows.order_by(ProductionOrder.number)
        ]
    users = User.select().where(User.active & User.badge.is_null(False)).order_by(User.username)
    return [
        Label(code=f"CMD-OP-{u.badge}", title="Operator badge", lines=(u.username,)) for u in users
    ]


def _sheet(state: dict) -> dict:
    return {k: state.get(k) for k in ("id", "state", "done", "total", "error")}


@op("POST", "/print-sheets", role="clerk", tag="labels",
    summary="Start a PDF sheet of labels: items chosen by codes, order, product, lot or CSV "
    "with a label template, or command labels; poll GET /api/print-sheets/{sheet}",
    body=SheetIn,
    responses={202: ("Started", SheetOut),
               404: ("unknown_item, _order, _product or _template", None)})  # fmt: skip
def start_sheet(body: SheetIn):
    user = current_user()
    config = current_app.config
    if body.commands:
        if body.codes or body.order or body.product or body.lot or body.csv:
            raise Invalid("bad_payload", "Give items or commands, not both")
        job = _commands(body.commands)
        if not job:
            raise Invalid("bad_payload", "Nothing to print")
        stock = body.stock if body.stock not in (None, "page") else "a4-3x8"
        title = f"Koordinator {body.commands} labels"
        sheet = printsheets.start(
            config, user.id, len(job), title,
            lambda progress: render_pdf(job, stock, progress=progress, title=title),
        )  # fmt: skip
        return _sheet(printsheets.state_of(config, sheet, user.id)), 202
    row = labeltemplates.get(body.template or labeltemplates.DEFAULT, body.version)
    design = labeltemplates.design_of(row)
    stock = None if body.stock in (None, "page") else body.stock
    if stock is not None:
        _check_fits(design, stock)
    with current_app.extensions["koordinator.db"].atomic():
        items = _items(body, user)
        if not items:
            raise Invalid("bad_payload", "No items chosen")
        values = [labeltemplates.item_values(i, i.product, i.order) for i in items]
        how = f"pdf {body.stock or 'page'} template {row.name} v{row.version}"
        record_prints(items, how, user.id, utcnow())
    title = f"Koordinator labels ({row.name} v{row.version})"
    sheet = printsheets.start(
        config, user.id, len(values), title,
        lambda progress: render_design_pdf(design, values, stock, progress=progress, title=title),
    )  # fmt: skip
    return _sheet(printsheets.state_of(config, sheet, user.id)), 202


def _check_fits(design: Design, stock: str) -> None:
    tpl = TEMPLATES[stock]
    if design.width > tpl.label_width + 0.5 or design.height > tpl.label_height + 0.5:
        raise Invalid(
            "bad_payload",
            f"A {design.width:g} × {design.height:g} mm label does not fit the labels of {stock}",
        )


@op("GET", "/print-sheets/<sheet>", role="clerk", tag="labels",
    summary="Progress of a label sheet: running (done of total), done or failed",
    responses={200: ("State", SheetOut), 404: ("No such sheet of yours", None)})  # fmt: skip
def sheet_state(sheet: str):
    state = printsheets.state_of(current_app.config, sheet, current_user().id)
    if state is None:
        raise NotFound("not_found", "No such sheet")
    return _sheet(state)


@op("GET", "/print-sheets/<sheet>/pdf", role="clerk", tag="labels",
    summary="The PDF of a finished label sheet",
    responses={200: ("The sheet", None), 404: ("No such sheet of yours, or not done", None)},
    produces={200: ("application/pdf",)})  # fmt: skip
def sheet_pdf(sheet: str):
    state = printsheets.state_of(current_app.config, sheet, current_user().id)
    pdf = printsheets.pdf_of(current_app.config, sheet) if state else None
    if state is None or state["state"] != "done" or pdf is None:
        raise NotFound("not_found", "No such sheet, or it is not done yet")
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="labels-{sheet[:8]}.pdf"'},
    )
