"""Single-label images: SVG (vector) and PNG (raster, 300 dpi by default).

This module owns drawing one :class:`~labels.layout.Layout` as SVG markup or as a Pillow
image. The PNG snaps every module to whole pixels so bars keep equal widths; text uses
the Bitstream Vera fonts that reportlab ships, so no system font is needed.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib.resources import files
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from labels.design import Design, layout_design
from labels.layout import PT, Layout, auto_size, layout_label, text_width
from labels.model import Label
from labels.templates import get_template

Size = str | tuple[float, float] | None


def resolve_size(label: Label, size: Size, unit: float | None = None) -> tuple[float, float]:
    """Label size in mm from a template name, a (width, height) in mm, or None (auto)."""
    if size is None:
        return auto_size(label, unit)
    if isinstance(size, str):
        template = get_template(size)
        return template.label_width, template.label_height
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"label size {size!r} must be positive")
    return float(width), float(height)


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def svg_markup(layout: Layout) -> str:
    """SVG document for ``layout``; user units are millimetres."""
    w, h = _num(layout.width), _num(layout.height)
    path = "".join(
        f"M{_num(x)} {_num(y)}h{_num(bw)}v{_num(bh)}h-{_num(bw)}z" for x, y, bw, bh in layout.bars
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
        f'viewBox="0 0 {w} {h}">',
        f'<rect width="{w}" height="{h}" fill="#fff"/>',
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/>',
    ]
    for t in layout.texts:
        weight = ' font-weight="bold"' if t.bold else ""
        parts.append(
            f'<text x="{_num(t.x)}" y="{_num(t.y)}" font-size="{_num(t.size)}" '
            f'font-family="Helvetica, Arial, sans-serif" text-anchor="{t.anchor}"{weight}>'
            f"{escape(t.text)}</text>"
        )
    parts.append("</svg>\n")
    return "\n".join(parts)


def render_svg(label: Label, size: Size = None) -> str:
    """SVG of one label. ``size`` is a template name (e.g. ``"thermal-2x1"``), a
    (width, height) in mm, or None for a size fitted to the code."""
    width, height = resolve_size(label, size)
    return svg_markup(layout_label(label, width, height))


@lru_cache(maxsize=32)
def _font(size_px: int, bold: bool) -> ImageFont.FreeTypeFont:
    name = "VeraBd.ttf" if bold else "Vera.ttf"
    return ImageFont.truetype(str(files("reportlab") / "fonts" / name), size_px)


def raster(layout: Layout, dpi: int) -> Image.Image:
    """Draw ``layout`` as a 1-bit image at ``dpi``; the layout must have been made with
    ``unit=25.4 / dpi`` for the bars to fall on whole pixels."""
    px = dpi / 25.4
    image = Image.new("1", (round(layout.width * px), round(layout.height * px)), 1)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in layout.bars:
        left, top = round(x * px), round(y * px)
        draw.rectangle((left, top, left + round(w * px) - 1, top + round(h * px) - 1), fill=0)
    for t in layout.texts:
        size_px = max(6, round(t.size * px))
        font = _font(size_px, t.bold)
        # Vera runs wider than Helvetica: shrink to the width the layout measured.
        allowed = text_width(t.text, t.size, t.bold) * px
        actual = font.getlength(t.text)
        if actual > allowed * 1.02:
            font = _font(max(6, int(size_px * allowed / actual)), t.bold)
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}[t.anchor]
        draw.text((t.x * px, t.y * px), t.text, font=font, fill=0, anchor=anchor)
    return image


def render_png(label: Label, dpi: int = 300, size: Size = None) -> bytes:
    """PNG of one label at ``dpi``; ``size`` as for :func:`render_svg`."""
    if not 72 <= dpi <= 1200:
        raise ValueError(f"dpi {dpi} must be between 72 and 1200")
    unit = 25.4 / dpi
    width, height = resolve_size(label, size, unit)
    image = raster(layout_label(label, width, height, unit), dpi)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


def render_design_svg(design: Design, values) -> str:
    """SVG of one label of ``design`` with ``values`` (see :func:`layout_design`)."""
    return svg_markup(layout_design(design, values))


def render_design_png(design: Design, values, dpi: int | None = None) -> bytes:
    """PNG of one label of ``design`` at ``dpi`` (the design's own when not given)."""
    dpi = dpi or design.dpi
    if not 72 <= dpi <= 1200:
        raise ValueError(f"dpi {dpi} must be between 72 and 1200")
    image = raster(layout_design(design, values, unit=25.4 / dpi), dpi)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


__all__ = [
    "render_design_png",
    "render_design_svg",
    "PT",
    "render_png",
    "render_svg",
    "resolve_size",
    "svg_markup",
]
