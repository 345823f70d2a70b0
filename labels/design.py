"""Label designs: a template as data, the fields it prints and where they go.

This module owns :class:`Design` (a label size, a resolution, a symbology and a list of
:class:`Box` placements) and :func:`layout_design`, which turns a design and one label's
values into the same :class:`~labels.layout.Layout` every renderer draws: so one design
feeds SVG and PNG (:mod:`labels.render`), PDF sheets (:mod:`labels.pdf`) and ZPL
(:mod:`labels.zpl`) alike.

Boxes are placed in percent of the label's printable area (the label less its margin), so
a design keeps its proportions on any label size, and a design made for a 2 × 1 in roll
fits a 4 × 6 in one. The symbol fills its box at the widest module that fits, snapped to
whole pixels or dots; text takes the height of its box, and is cut with an ellipsis when
too wide, except the code itself, which shrinks instead (it must never be cut).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from labels.layout import (
    ASCENT,
    MATRIX_MODULE_MAX,
    MODULE_MAX,
    MODULE_MIN,
    Layout,
    Text,
    _module,
    _runs,
    _snap,
    fit_size,
    fit_text,
    margin,
)
from labels.model import Label
from labels.symbols import symbol_for

#: the values a box can print; "symbol" is the barcode itself, "text" a fixed text
FIELDS = ("symbol", "code", "product", "lot", "quantity", "expiry", "gtin", "order", "text")
#: what a box prints before the value when the design gives no prefix of its own
PREFIXES = {"lot": "LOT ", "quantity": "QTY ", "expiry": "EXP ", "gtin": "GTIN ", "order": "ORD "}
#: Data Matrix is not offered: zbar, the second decoder every template is tested with,
#: cannot read it (docs/decisions.md)
SYMBOLOGIES = ("code128", "qr")
ALIGNS = ("start", "middle", "end")
DPIS = (152, 203, 300, 600)
#: smallest and largest label a design may have, mm
MIN_SIDE, MAX_SIDE = 15.0, 254.0


@dataclass(frozen=True)
class Box:
    """Where one field goes: ``x``, ``y``, ``w``, ``h`` in percent of the printable area
    from its top-left corner. ``text`` is the fixed text of a ``text`` box and the prefix
    of the others (``None``: the default of :data:`PREFIXES`)."""

    field: str
    x: float
    y: float
    w: float
    h: float
    align: str = "middle"
    bold: bool = False
    text: str | None = None

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValueError(f"field {self.field!r} is not one of {', '.join(FIELDS)}")
        if self.align not in ALIGNS:
            raise ValueError(f"align {self.align!r} is not one of {', '.join(ALIGNS)}")
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 100:
                raise ValueError(f"{self.field}: {name} must be between 0 and 100 (percent)")
        if self.w <= 0 or self.h <= 0:
            raise ValueError(f"{self.field}: the box needs a width and a height")
        if self.x + self.w > 100.001 or self.y + self.h > 100.001:
            raise ValueError(f"{self.field}: the box reaches outside the label")
        if self.text is not None and (len(self.text) > 80 or not self.text.isprintable()):
            raise ValueError(f"{self.field}: text is at most 80 printable characters")

    def as_dict(self) -> dict:
        out = {"field": self.field, "x": self.x, "y": self.y, "w": self.w, "h": self.h}
        out.update(align=self.align, bold=self.bold)
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class Design:
    """A label template: ``width`` × ``height`` mm, printed at ``dpi``, its ``boxes``.
    Exactly one box is the symbol, which encodes the code in ``symbology``."""

    width: float
    height: float
    dpi: int = 203
    symbology: str = "code128"
    boxes: tuple[Box, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not MIN_SIDE <= self.width <= MAX_SIDE or not MIN_SIDE <= self.height <= MAX_SIDE:
            raise ValueError(f"a label is {MIN_SIDE:g} to {MAX_SIDE:g} mm on each side")
        if self.dpi not in DPIS:
            raise ValueError(f"dpi is one of {', '.join(map(str, DPIS))}")
        if self.symbology not in SYMBOLOGIES:
            raise ValueError(f"symbology is one of {', '.join(SYMBOLOGIES)}")
        boxes = tuple(b if isinstance(b, Box) else Box(**b) for b in self.boxes)
        object.__setattr__(self, "boxes", boxes)
        if sum(b.field == "symbol" for b in boxes) != 1:
            raise ValueError("a design has exactly one symbol box")
        if len(boxes) > 20:
            raise ValueError("a design has at most 20 boxes")

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(b.field for b in self.boxes)

    def as_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "dpi": self.dpi,
            "symbology": self.symbology,
            "boxes": [b.as_dict() for b in self.boxes],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Design:
        return cls(
            width=float(data["width"]),
            height=float(data["height"]),
            dpi=int(data.get("dpi", 203)),
            symbology=data.get("symbology", "code128"),
            boxes=tuple(Box(**b) for b in data.get("boxes", ())),
        )


#: the item label the server printed before designs, as a design: product name on top,
#: the symbol, the code under it, then lot and quantity, expiry and order
DEFAULT_BOXES = (
    Box("product", 0, 0, 100, 14, bold=True),
    Box("symbol", 0, 16, 100, 42),
    Box("code", 0, 59, 100, 13),
    Box("lot", 0, 74, 58, 12, align="start"),
    Box("quantity", 58, 74, 42, 12, align="end"),
    Box("expiry", 0, 88, 58, 12, align="start"),
    Box("order", 58, 88, 42, 12, align="end"),
)


def default_design(width: float = 50.8, height: float = 25.4, dpi: int = 203) -> Design:
    return Design(width, height, dpi, "code128", DEFAULT_BOXES)


def box_text(box: Box, values: Mapping[str, str]) -> str:
    """The text ``box`` prints for ``values`` ('' when the label has no such value)."""
    if box.field == "text":
        return box.text or ""
    value = str(values.get(box.field) or "")
    if not value or box.field in ("code", "product"):
        return value
    prefix = PREFIXES.get(box.field, "") if box.text is None else box.text
    return prefix + value


def layout_design(design: Design, values: Mapping[str, str], unit: float | None = None) -> Layout:
    """Lay out one label of ``design`` with ``values`` (``code`` required; ``product``,
    ``lot``, ``quantity``, ``expiry``, ``gtin``, ``order`` as text, any missing). ``unit``
    is the pixel or dot in mm, as for :func:`labels.layout.layout_label`. Raises
    ValueError when the code does not fit its box at a readable module width."""
    width, height = design.width, design.height
    m = margin(width, height)
    inner_w, inner_h = width - 2 * m, height - 2 * m
    label = Label(code=values["code"], symbology=design.symbology)
    bars: tuple = ()
    module = 0.0
    texts = []
    for box in design.boxes:
        bx, by = m + inner_w * box.x / 100, m + inner_h * box.y / 100
        bw, bh = inner_w * box.w / 100, inner_h * box.h / 100
        if box.field == "symbol":
            bars, module = _symbol(label, bx, by, bw, bh, unit)
            continue
        text = box_text(box, values)
        if not text:
            continue
        size = min(bh / 1.15, 12.0)
        if box.field == "code":
            size = fit_size(text, size, bw, box.bold)
        else:
            text = fit_text(text, size, bw, box.bold)
            if not text:
                continue
        x = {"start": bx, "middle": bx + bw / 2, "end": bx + bw}[box.align]
        y = by + (bh - size * 1.15) / 2 + size * (ASCENT + 0.075)
        texts.append(Text(x, y, size, text, box.align, box.bold))
    return Layout(width, height, module, bars, tuple(texts))


def _symbol(label: Label, x: float, y: float, w: float, h: float, unit: float | None):
    symbol = symbol_for(label)
    if symbol.kind == "linear":
        modules = symbol.width + 2 * symbol.quiet
        module = _module(min(MODULE_MAX, w / modules), unit)
        if module < MODULE_MIN - 1e-9:
            raise ValueError(
                f"code {label.code!r} does not fit a {w:.1f} mm wide symbol box at a readable "
                f"module width (needs about {modules * MODULE_MIN:.0f} mm)"
            )
        if h < 4.0:
            raise ValueError(f"a {h:.1f} mm high symbol box is too low for bars (4 mm at least)")
        x0 = _snap(x + (w - modules * module) / 2 + symbol.quiet * module, unit)
        top, bar_h = _snap(y, unit), _snap(h, unit)
        bars = tuple(
            (x0 + start * module, top, length * module, bar_h)
            for start, length in _runs(symbol.rows[0])
        )
        return bars, module
    nx, ny = symbol.width + 2 * symbol.quiet, symbol.height + 2 * symbol.quiet
    module = _module(min(MATRIX_MODULE_MAX, w / nx, h / ny), unit)
    if module < MODULE_MIN * 1.5 - 1e-9:
        raise ValueError(f"code {label.code!r} does not fit its symbol box readably")
    sx = _snap(x + (w - nx * module) / 2 + symbol.quiet * module, unit)
    sy = _snap(y + (h - ny * module) / 2 + symbol.quiet * module, unit)
    bars = tuple(
        (sx + start * module, sy + r * module, length * module, module)
        for r, row in enumerate(symbol.rows)
        for start, length in _runs(row)
    )
    return bars, module
