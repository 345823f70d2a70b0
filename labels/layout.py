"""Label layout: where the bars and each line of text go on one label.

This module owns the geometry shared by every renderer: margins, font sizes, the module
width of the symbol (snapped to whole device pixels or printer dots when asked) and the
truncation of text that would not fit. It returns plain boxes and text runs in
millimetres from the label's top-left corner; :mod:`labels.render`, :mod:`labels.pdf`
and :mod:`labels.zpl` only draw them. Text is measured with the Helvetica metrics that
reportlab ships, so the layout does not depend on installed fonts.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.pdfbase.pdfmetrics import stringWidth

from labels.model import Label
from labels.symbols import Symbol, symbol_for

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
PT = 25.4 / 72  # millimetres per point
ASCENT = 0.72  # Helvetica cap height as a fraction of the font size
ELLIPSIS = "…"

MODULE_MAX = 0.6  # widest module (X dimension) of a linear symbol, mm
MODULE_MIN = 0.165  # narrowest module printed (2 pixels at 300 dpi), mm
MODULE_AUTO = 0.33  # module width of a single label rendered without a size
MATRIX_MODULE_MAX = 1.25  # ZPL ^BQ magnifies at most 10 dots (1.25 mm at 203 dpi)
AUTO_HEIGHT = 25.4  # one inch


@dataclass(frozen=True, slots=True)
class Text:
    """A line of text: ``x`` is the anchor point, ``y`` the baseline, ``size`` the font
    size in mm; ``anchor`` is ``start``, ``middle`` or ``end`` as in SVG."""

    x: float
    y: float
    size: float
    text: str
    anchor: str = "middle"
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    width: float
    height: float
    module: float  # module width of the symbol, mm
    bars: tuple[tuple[float, float, float, float], ...]  # x, y, w, h of each dark run
    texts: tuple[Text, ...]


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in mm of ``text`` at font size ``size`` mm."""
    return stringWidth(text, FONT_BOLD if bold else FONT, size / PT) * PT


def fit_text(text: str, size: float, max_width: float, bold: bool = False) -> str:
    """``text``, cut and ended with an ellipsis if it is wider than ``max_width``."""
    if text_width(text, size, bold) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, size, bold) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo else ""


def fit_size(text: str, size: float, max_width: float, bold: bool = False) -> float:
    """The font size, at most ``size``, at which ``text`` fits in ``max_width``.

    Used for the human-readable code, which must never be truncated."""
    width = text_width(text, size, bold)
    return size if width <= max_width else size * max_width / width


def _snap(value: float, unit: float | None) -> float:
    return value if unit is None else round(value / unit) * unit


def _module(ideal: float, unit: float | None) -> float:
    if unit is None:
        return ideal
    return int(ideal / unit + 1e-9) * unit


def _runs(row: str):
    """Yield (start, length) of each run of dark modules in ``row``."""
    start = row.find("1")
    while start != -1:
        end = row.find("0", start)
        if end == -1:
            end = len(row)
        yield start, end - start
        start = row.find("1", end)


def margin(width: float, height: float) -> float:
    return min(max(min(width, height) * 0.06, 1.2), 4.0)


def font_size(width: float, height: float) -> float:
    return min(max(min(height * 0.11, width * 0.055), 2.0), 6.5)


def auto_size(label: Label, unit: float | None = None) -> tuple[float, float]:
    """A label size that holds ``label`` at a comfortable module width."""
    symbol = symbol_for(label)
    if symbol.kind == "matrix":
        return 2 * 25.4, AUTO_HEIGHT
    module = MODULE_AUTO if unit is None else max(1, round(MODULE_AUTO / unit)) * unit
    modules = symbol.width + 2 * symbol.quiet
    width = max(2 * 25.4, modules * module + 2 * margin(2 * 25.4, AUTO_HEIGHT) + 0.01)
    height = AUTO_HEIGHT + 3.0 * max(len(label.info) - 1, 0)
    return round(width, 3), height


def layout_label(label: Label, width: float, height: float, unit: float | None = None) -> Layout:
    """Lay ``label`` out on a ``width`` × ``height`` mm label.

    ``unit`` is the device pixel or printer dot in mm: when given, module widths and bar
    edges fall on whole pixels so that a raster image or a thermal print keeps every bar
    the same width. Raises ValueError when the code cannot be printed legibly that small.
    """
    symbol = symbol_for(label)
    if symbol.kind == "linear":
        return _linear(label, symbol, width, height, unit)
    return _matrix(label, symbol, width, height, unit)


def _too_small(label: Label, width: float, needed: float) -> ValueError:
    return ValueError(
        f"code {label.code!r} does not fit a {width:.1f} mm wide label at a readable "
        f"module width (needs about {needed:.0f} mm); use a wider template"
    )


def _linear(
    label: Label, symbol: Symbol, width: float, height: float, unit: float | None
) -> Layout:
    m = margin(width, height)
    fs = font_size(width, height)
    small = fs * 0.85
    inner = width - 2 * m
    modules = symbol.width + 2 * symbol.quiet
    module = _module(min(MODULE_MAX, inner / modules), unit)
    if module < MODULE_MIN - 1e-9:
        raise _too_small(label, width, modules * MODULE_MIN + 2 * m)

    title_h = fs * 1.25 if label.title else 0.0
    hri_h = fs * 1.35
    info = list(label.info)
    row_h = small * 1.25
    min_bars = max(5.0, height * 0.3)
    avail = height - 2 * m - title_h - hri_h - row_h * len(info)
    if len(info) > 1 and avail < min_bars:
        info = [" · ".join(info)]
        avail = height - 2 * m - title_h - hri_h - row_h
    if avail < 3.0:
        raise ValueError(f"a {height:.1f} mm high label cannot hold the text of {label.code!r}")
    bar_h = min(avail, max(15.0, inner * 0.45))
    block = title_h + bar_h + hri_h + row_h * len(info)
    y = m + (height - 2 * m - block) / 2

    texts = []
    if label.title:
        texts.append(Text(width / 2, y + fs * ASCENT, fs, fit_text(label.title, fs, inner, True),
                          bold=True))  # fmt: skip
        y += title_h
    bar_y = _snap(y, unit)
    bar_h = _snap(bar_h, unit)
    x0 = _snap((width - modules * module) / 2 + symbol.quiet * module, unit)
    bars = tuple(
        (x0 + start * module, bar_y, length * module, bar_h)
        for start, length in _runs(symbol.rows[0])
    )
    y = bar_y + bar_h + fs * 0.3
    hri_size = fit_size(label.text, fs, inner)
    texts.append(Text(width / 2, y + fs * ASCENT, hri_size, label.text))
    y += hri_h - fs * 0.3 + small * 0.15
    for row in info:
        texts.append(Text(width / 2, y + small * ASCENT, small, fit_text(row, small, inner)))
        y += row_h
    return Layout(width, height, module, bars, tuple(texts))


def _matrix(
    label: Label, symbol: Symbol, width: float, height: float, unit: float | None
) -> Layout:
    m = margin(width, height)
    fs = font_size(width, height)
    small = fs * 0.85
    nx = symbol.width + 2 * symbol.quiet
    ny = symbol.height + 2 * symbol.quiet
    portrait = height > width * 1.2
    if portrait:
        area_w, area_h = width - 2 * m, (height - 2 * m) * 0.55
    else:
        area_w, area_h = (width - 2 * m) * 0.45, height - 2 * m
    module = _module(min(MATRIX_MODULE_MAX, area_w / nx, area_h / ny), unit)
    if module < MODULE_MIN * 1.5 - 1e-9:
        raise _too_small(label, width, nx * MODULE_MIN * 1.5 / 0.45 + 2 * m)
    if portrait:
        sx = _snap((width - nx * module) / 2 + symbol.quiet * module, unit)
        sy = _snap(m + symbol.quiet * module, unit)
        tx, anchor, text_w = width / 2, "middle", width - 2 * m
        ty = m + ny * module + fs * 0.5
    else:
        sx = _snap(m + symbol.quiet * module, unit)
        sy = _snap((height - symbol.height * module) / 2, unit)
        tx = m + nx * module + m * 0.5
        anchor, text_w = "start", width - tx - m
        ty = m
    bars = tuple(
        (sx + start * module, sy + r * module, length * module, module)
        for r, row in enumerate(symbol.rows)
        for start, length in _runs(row)
    )
    rows = [(label.text, fs, True, True)]
    if label.title:
        rows.append((label.title, fs, False, False))
    rows.extend((row, small, False, False) for row in label.info)
    texts = []
    bottom = height - m
    for text, size, bold, keep in rows:
        if ty + size * 1.2 > bottom + 1e-6:
            break
        if keep:
            size = fit_size(text, size, text_w, bold)
        else:
            text = fit_text(text, size, text_w, bold)
        texts.append(Text(tx, ty + size * ASCENT, size, text, anchor, bold))
        ty += size * 1.3
    return Layout(width, height, module, bars, tuple(texts))
