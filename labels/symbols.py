"""Symbol encoding: from a label's code to the grid of dark and light modules.

This module owns the choice of encoder per symbology: python-barcode for Code 128 and
GS1-128 (its ``Gs1_128`` adds the leading FNC1; this module inserts the FNC1 separators
from :mod:`labels.gs1`), segno for QR and zxing-cpp's writer for Data Matrix. Every
renderer (SVG, PNG, PDF) draws the :class:`Symbol` it returns, so all formats carry the
same bars; the ZPL renderer uses the Code 128 symbol values instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import segno
from barcode.codex import Code128, Gs1_128

from labels import gs1
from labels.model import Label


@dataclass(frozen=True)
class Symbol:
    """Modules of one symbol: ``rows`` of ``"1"`` (dark) and ``"0"`` (light).

    A linear symbol has one row. ``quiet`` is the quiet zone, in modules, that must be
    left light on every side. ``values`` holds the Code 128 symbol values (start code,
    data, code-set switches, FNC1; no check value) for linear symbols.
    """

    kind: str  # "linear" or "matrix"
    rows: tuple[str, ...]
    quiet: int
    values: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def height(self) -> int:
        return len(self.rows)


def encoded_data(label: Label) -> str:
    """The characters handed to the encoder (GS1: element string with FNC1 separators,
    leading FNC1 excluded)."""
    if label.symbology == "gs1-128":
        return gs1.element_string(gs1.parse_hri(label.code))
    return label.code


@lru_cache(maxsize=8192)
def build_symbol(code: str, symbology: str) -> Symbol:
    """Encode ``code``; the arguments are a :class:`Label`'s ``code`` and ``symbology``."""
    if symbology in ("code128", "gs1-128"):
        if symbology == "gs1-128":
            data = gs1.element_string(gs1.parse_hri(code))
            make = Gs1_128
        else:
            data = code
            make = Code128
        # python-barcode's encoder keeps code-set state between calls: use fresh objects.
        pattern = make(data).build()[0]
        values = tuple(make(data).encoded)
        return Symbol("linear", (pattern,), quiet=10, values=values)
    if symbology == "qr":
        qr = segno.make_qr(code, error="m")
        rows = tuple("".join("1" if m else "0" for m in row) for row in qr.matrix)
        return Symbol("matrix", rows, quiet=4)
    if symbology == "datamatrix":
        return _datamatrix(code)
    raise ValueError(f"unknown symbology {symbology!r}")


def symbol_for(label: Label) -> Symbol:
    return build_symbol(label.code, label.symbology)


def _datamatrix(code: str) -> Symbol:
    try:
        import zxingcpp
    except ImportError as exc:  # pragma: no cover - zxing-cpp is a declared dependency
        raise ValueError("Data Matrix labels need the zxing-cpp package") from exc
    # Square symbols: a rectangular one is hard to aim at on a small part.
    barcode = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    image = zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False)
    height, width = image.shape
    pixels = memoryview(image).tobytes()
    rows = tuple(
        "".join("1" if px < 128 else "0" for px in pixels[r * width : (r + 1) * width])
        for r in range(height)
    )
    return Symbol("matrix", rows, quiet=2)
