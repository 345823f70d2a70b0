"""PDF sheets: many labels on a sheet template, or one label per page on thermal stock.

This module owns placing labels on pages and drawing them with reportlab's canvas. Bars
are filled vector rectangles (one path per symbol), never bitmaps, so the sheet prints
sharp at any printer resolution; text uses the PDF base fonts, so nothing is embedded.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping

from reportlab.pdfgen.canvas import Canvas

from labels.design import Design, layout_design
from labels.layout import FONT, FONT_BOLD, PT, Layout, layout_label
from labels.model import Label
from labels.templates import Template, get_template

MM = 72 / 25.4  # points per millimetre
Progress = Callable[[int, int], None]


def _draw(canvas: Canvas, layout: Layout, left: float, top: float, page_height: float) -> None:
    """Draw ``layout`` with its top-left corner at (``left``, ``top``) mm on the page."""
    if layout.bars:
        path = canvas.beginPath()
        for x, y, w, h in layout.bars:
            path.rect((left + x) * MM, (page_height - top - y - h) * MM, w * MM, h * MM)
        canvas.drawPath(path, stroke=0, fill=1)
    for t in layout.texts:
        canvas.setFont(FONT_BOLD if t.bold else FONT, t.size / PT)
        x, y = (left + t.x) * MM, (page_height - top - t.y) * MM
        if t.anchor == "middle":
            canvas.drawCentredString(x, y, t.text)
        elif t.anchor == "end":
            canvas.drawRightString(x, y, t.text)
        else:
            canvas.drawString(x, y, t.text)


def render_pdf(
    labels: Iterable[Label],
    template: str = "a4-3x8",
    *,
    progress: Progress | None = None,
    title: str = "Labels",
) -> bytes:
    """A PDF with ``labels`` laid out on ``template`` (see :data:`labels.TEMPLATES`),
    filling each page row by row. ``progress(done, total)`` is called as labels are
    drawn. Raises ValueError for an unknown template, no labels, or a code too long for
    the template's label width."""
    tpl = get_template(template)
    layouts = [
        lambda label=label: layout_label(label, tpl.label_width, tpl.label_height)
        for label in labels
    ]
    return _sheet(tpl, layouts, progress=progress, every=100, title=title)


def render_design_pdf(
    design: Design,
    values: Iterable[Mapping[str, str]],
    stock: str | None = None,
    *,
    progress: Progress | None = None,
    title: str = "Labels",
) -> bytes:
    """A PDF of one label of ``design`` per entry of ``values``: on the sheet ``stock``
    (a name of :data:`labels.TEMPLATES`), each label at the design's own size, centred in
    its slot, or with ``stock`` None one label per page of exactly the design's size (a
    thermal roll through a PDF queue). Raises ValueError when the design is larger than
    the stock's labels, or a code does not fit its box."""
    if stock is None:
        tpl = Template("page", "", design.width, design.height, 1, 1, design.width, design.height)
    else:
        tpl = get_template(stock)
        if design.width > tpl.label_width + 0.5 or design.height > tpl.label_height + 0.5:
            raise ValueError(
                f"a {design.width:g} × {design.height:g} mm label does not fit the "
                f"{tpl.label_width:g} × {tpl.label_height:g} mm labels of {stock}"
            )
    layouts = [lambda row=row: layout_design(design, row) for row in values]
    offset = ((tpl.label_width - design.width) / 2, (tpl.label_height - design.height) / 2)
    return _sheet(tpl, layouts, offset=offset, progress=progress, every=25, title=title)


def _sheet(
    tpl: Template,
    layouts: list[Callable[[], Layout]],
    *,
    offset: tuple[float, float] = (0.0, 0.0),
    progress: Progress | None,
    every: int,
    title: str,
) -> bytes:
    """The PDF of one label per entry of ``layouts`` (each drawn when its turn comes) on
    ``tpl``, page after page, each moved by ``offset`` (mm) in its slot;
    ``progress(done, total)`` every ``every`` labels and at the last."""
    if not layouts:
        raise ValueError("no labels to render")
    out = io.BytesIO()
    canvas = Canvas(
        out,
        pagesize=(tpl.page_width * MM, tpl.page_height * MM),
        invariant=True,
        pageCompression=1,
    )
    canvas.setTitle(title)
    canvas.setCreator("Koordinator labels")
    total = len(layouts)
    for i, layout in enumerate(layouts):
        slot = i % tpl.per_page
        if i and slot == 0:
            canvas.showPage()
        left, top = tpl.origin(slot)
        _draw(canvas, layout(), left + offset[0], top + offset[1], tpl.page_height)
        if progress is not None and ((i + 1) % every == 0 or i + 1 == total):
            progress(i + 1, total)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
