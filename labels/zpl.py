"""ZPL II for Zebra thermal printers, one ``^XA … ^XZ`` format per label.

This module owns the translation of a label into printer commands. Symbols are drawn by
the printer's own barcode commands, not as bitmaps: ``^BC`` for Code 128 and GS1-128,
``^BQ`` for QR and ``^BX`` for Data Matrix. Code 128 data is written in the explicit
mode (``^BC…,N``) with the invocation codes of the ZPL manual (``>;`` start in code set C,
``>8`` FNC1, ``>5``/``>6``/``>7`` code-set switches), copied from the symbol values
python-barcode chose, so the printer prints exactly the bars our PNG and PDF carry and a
GS1 symbol starts with FNC1 and separates variable-length elements with FNC1.
Text goes through ``^FH`` hex escapes so ``^``, ``~`` and non-ASCII characters are safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from labels.design import Design, layout_design
from labels.layout import Layout, layout_label
from labels.model import Label
from labels.symbols import symbol_for
from labels.templates import get_template

DPIS = (152, 203, 300, 600)
_START = {103: (">9", "A"), 104: (">:", "B"), 105: (">;", "C")}
# Code-set switches: value -> (invocation, new code set); FNC1 (102) is ">8" in any set.
_SWITCH = {
    "A": {99: (">5", "C"), 100: (">6", "B")},
    "B": {99: (">5", "C"), 101: (">7", "A")},
    "C": {100: (">6", "B"), 101: (">7", "A")},
}


def fh(text: str) -> str:
    """Escape ``text`` for a field preceded by ``^FH`` (underscore hex indicator):
    ``^``, ``~``, ``_``, control and non-ASCII characters become ``_XX`` UTF-8 bytes."""
    out = []
    for ch in text:
        if " " <= ch <= "~" and ch not in "^~_":
            out.append(ch)
        else:
            out.append("".join(f"_{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def code128_field(values: tuple[int, ...]) -> str:
    """``^FD`` data, in ``^BC`` mode N with ``^FH``, for Code 128 symbol ``values``
    (start code first, check value excluded)."""
    start, charset = _START[values[0]]
    out = [start]
    for value in values[1:]:
        if value == 102:
            out.append(">8")
        elif value in _SWITCH[charset]:
            invocation, charset = _SWITCH[charset][value]
            out.append(invocation)
        elif charset == "C" and value < 100:
            out.append(f"{value:02d}")
        elif charset in "AB" and value < 64 or charset == "B" and value < 95:
            ch = chr(value + 32)
            out.append({">": "><", "~": ">="}.get(ch) or fh(ch))
        else:
            raise ValueError(f"Code 128 value {value} in code set {charset} has no ZPL form")
    return "".join(out)


def _dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def _symbol_commands(label: Label, layout: Layout, dpi: int) -> str:
    symbol = symbol_for(label)
    x, y = _dots(layout.bars[0][0], dpi), _dots(layout.bars[0][1], dpi)
    module = max(1, _dots(layout.module, dpi))
    if symbol.kind == "linear":
        height = _dots(layout.bars[0][3], dpi)
        return f"^FO{x},{y}^BY{module}^BCN,{height},N,N,N,N^FH^FD{code128_field(symbol.values)}^FS"
    # Matrix symbols: place by the symbol's top-left module, not its first dark run.
    left = min(bar[0] for bar in layout.bars)
    top = min(bar[1] for bar in layout.bars)
    x, y = _dots(left, dpi), _dots(top, dpi)
    if label.symbology == "qr":
        # "MA,": error correction M, automatic data mode.
        return f"^FO{x},{y}^BQN,2,{min(module, 10)}^FH^FDMA,{fh(label.code)}^FS"
    if "~" in label.code:
        raise ValueError(f"code {label.code!r}: '~' is the ^BX escape character in ZPL")
    return f"^FO{x},{y}^BXN,{module},200^FH^FD{fh(label.code)}^FS"


def label_zpl(label: Label, width: float, height: float, dpi: int = 203) -> str:
    """One ``^XA … ^XZ`` format for ``label`` on a ``width`` × ``height`` mm label."""
    return layout_zpl(label, layout_label(label, width, height, unit=25.4 / dpi), dpi)


def design_zpl(design: Design, values: Mapping[str, str], dpi: int | None = None) -> str:
    """One ``^XA … ^XZ`` format for a label of ``design`` at ``dpi``, the printer's dots
    per inch (the design's own when not given): the same millimetres in that many dots."""
    dpi = dpi or design.dpi
    if dpi not in DPIS:
        raise ValueError(f"dpi {dpi} is not a Zebra resolution")
    label = Label(code=values["code"], symbology=design.symbology)
    return layout_zpl(label, layout_design(design, values, unit=25.4 / dpi), dpi)


def layout_zpl(label: Label, layout: Layout, dpi: int) -> str:
    """The format drawing ``layout`` (made with ``unit=25.4 / dpi``) whose symbol encodes
    ``label``."""
    width, height = layout.width, layout.height
    parts = [
        "^XA",
        "^CI28",  # field data is UTF-8
        f"^PW{_dots(width, dpi)}",
        f"^LL{_dots(height, dpi)}",
        "^LH0,0",
        _symbol_commands(label, layout, dpi),
    ]
    for t in layout.texts:
        size = max(10, _dots(t.size, dpi))
        top = _dots(t.y - t.size * 0.78, dpi)
        if t.anchor == "middle":
            half = min(t.x, width - t.x)
            left, block, justify = t.x - half, 2 * half, "C"
        elif t.anchor == "end":
            left, block, justify = 0.0, t.x, "R"
        else:
            left, block, justify = t.x, width - t.x, "L"
        parts.append(
            f"^FO{_dots(left, dpi)},{top}^A0N,{size},{size}"
            f"^FB{_dots(block, dpi)},1,0,{justify},0^FH^FD{fh(t.text)}^FS"
        )
    parts.append("^XZ")
    return "\n".join(parts) + "\n"


def render_zpl(
    labels: Iterable[Label],
    template: str = "thermal-4x6",
    dpi: int = 203,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """ZPL for ``labels`` on a thermal ``template``, one format per label, for a printer
    of ``dpi`` dots per inch (152, 203, 300 or 600)."""
    tpl = get_template(template)
    if not tpl.thermal:
        raise ValueError(f"template {template!r} is a sheet; ZPL needs a thermal template")
    if dpi not in DPIS:
        raise ValueError(f"dpi {dpi} is not a Zebra resolution ({', '.join(map(str, DPIS))})")
    items = list(labels)
    if not items:
        raise ValueError("no labels to render")
    total = len(items)
    out = []
    for i, label in enumerate(items):
        out.append(label_zpl(label, tpl.label_width, tpl.label_height, dpi))
        if progress is not None and ((i + 1) % 500 == 0 or i + 1 == total):
            progress(i + 1, total)
    return "".join(out)
