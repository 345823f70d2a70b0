"""The label pages (clerk and above): the template editor with its live preview, and the
print page that makes PDF sheets of item labels or command labels with a progress bar.

Both pages are a form and app.js: the editor posts the design to
`POST /api/label-templates/preview` as the fields change and shows the SVG it gets back;
the print page starts `POST /api/print-sheets` and polls its progress. The pages hold no
logic of their own beyond choosing what to show.
"""

from __future__ import annotations

from flask import render_template, request

from labels import TEMPLATES
from labels.design import ALIGNS, DPIS, FIELDS, SYMBOLOGIES
from server.core import labeltemplates
from server.web import bp
from server.web.pages import role_required

#: the label sizes the editor offers, mm (any other size can be typed)
SIZES = [
    ("2 × 1 in", 50.8, 25.4),
    ("3 × 2 in", 76.2, 50.8),
    ("4 × 2 in", 101.6, 50.8),
    ("4 × 6 in", 101.6, 152.4),
    ("63.5 × 33.9 mm", 63.5, 33.9),
    ("99.1 × 38.1 mm", 99.1, 38.1),
]


@bp.route("/labels/templates")
@role_required("clerk")
def label_templates():
    rows = labeltemplates.current()
    name = request.args.get("name") or labeltemplates.DEFAULT
    chosen = next((r for r in rows if r.name == name), rows[0] if rows else None)
    return render_template(
        "label_templates.html",
        templates=rows,
        chosen=chosen,
        fields=FIELDS,
        aligns=ALIGNS,
        dpis=DPIS,
        symbologies=SYMBOLOGIES,
        sizes=SIZES,
    )


@bp.route("/labels/print")
@role_required("clerk")
def label_print():
    commands = request.args.get("commands")
    return render_template(
        "label_print.html",
        templates=labeltemplates.current(),
        stocks=list(TEMPLATES.values()),
        commands=commands if commands in ("badges", "orders", "actions", "reasons") else None,
        order=request.args.get("order", ""),
        product=request.args.get("product", ""),
        lot=request.args.get("lot", ""),
    )
