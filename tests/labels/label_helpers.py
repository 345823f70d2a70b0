"""Helpers and the table of label cases shared by the label tests: a real decoder
(zxing-cpp) for images, PDF pages rasterised by PDFium, and SVG bars drawn back as an image.

There is no SVG rasteriser among the dependencies (svglib would add lxml and more), so the
SVG is checked by drawing the rectangles of its symbol path and decoding that image.
"""

from __future__ import annotations

import io
import re
import socket
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from labels import Label, gs1_label

GS = "\x1d"


@dataclass(frozen=True)
class Read:
    """What a scanner would report: HRI text, raw bytes as text, symbology identifier."""

    text: str
    raw: str
    symbology: str


def decode_image(image: Image.Image) -> list[Read]:
    # Full resolution only: zxing-cpp's extra pass over a half-size copy averages 2-pixel
    # modules into grey and can find a second, wrong symbol whose Code 128 checksum still
    # holds ('(0+301' also read as 'P0@301': two substitutions that cancel mod 103). The
    # images here are rendered at print resolution, which is what a scanner sees.
    results = zxingcpp.read_barcodes(image.convert("L"), try_downscale=False)
    return [Read(r.text, r.bytes.decode("latin-1"), r.symbology_identifier) for r in results]


def decode_png(data: bytes) -> list[Read]:
    return decode_image(Image.open(io.BytesIO(data)))


def pdf_pages(data: bytes, dpi: int = 300) -> list[Image.Image]:
    """Rasterise every page of a PDF with PDFium."""
    doc = pdfium.PdfDocument(data)
    try:
        images = []
        for i in range(len(doc)):
            page = doc[i]
            bitmap = page.render(scale=dpi / 72)
            images.append(bitmap.to_pil().copy())
            bitmap.close()
            page.close()
        return images
    finally:
        doc.close()


_PATH_RECT = re.compile(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+z")


def svg_bars(svg: str) -> list[tuple[float, float, float, float]]:
    """The filled rectangles of the symbol path in an SVG from labels.render_svg."""
    path = re.search(r'<path d="([^"]*)"', svg).group(1)
    rects = [tuple(map(float, m.groups())) for m in _PATH_RECT.finditer(path)]
    assert "".join(m.group(0) for m in _PATH_RECT.finditer(path)) == path, "unparsed path"
    return rects


def svg_to_image(svg: str, px_per_mm: float = 12) -> Image.Image:
    """Draw the SVG's bars (its only filled shapes) on a white image."""
    view = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    width, height = float(view.group(1)), float(view.group(2))
    image = Image.new("L", (round(width * px_per_mm), round(height * px_per_mm)), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in svg_bars(svg):
        draw.rectangle(
            (round(x * px_per_mm), round(y * px_per_mm),
             round((x + w) * px_per_mm) - 1, round((y + h) * px_per_mm) - 1),
            fill=0,
        )  # fmt: skip
    return image


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One row per kind of label the plant prints: (id, label, expected raw data, symbology id).
CASES = [
    pytest.param(
        Label("K7M2QX4R9", title="Hex bolt M8x40", lines=("Lot L2026-11",), stage="Assembly"),
        "K7M2QX4R9", "]C0", id="internal-item",
    ),
    pytest.param(
        Label("CMD-OP-0042", title="Operator badge", lines=("Jane Roe",)),
        "CMD-OP-0042", "]C0", id="command-badge",
    ),
    pytest.param(
        gs1_label("09506000134352", lot="LOT42", title="Widget"),
        "010950600013435210LOT42", "]C1", id="gs1-lot",
    ),
    pytest.param(
        gs1_label("09506000134352", serial="SN1", expiry="271231", title="Widget"),
        "01095060001343521727123121SN1", "]C1", id="gs1-serial-expiry",
    ),
    pytest.param(
        gs1_label("9506000134352", lot="L7", serial="123456", expiry="270100"),
        "0109506000134352" "17270100" "10L7" + GS + "21123456", "]C1", id="gs1-lot-serial-fnc1",
    ),
    pytest.param(
        Label("CMD-ORD-2026-0107", "qr", title="Order 107", stage="Paint"),
        "CMD-ORD-2026-0107", "]Q1", id="qr-command",
    ),
    pytest.param(
        Label("K7M2QX4R9", "datamatrix", title="Small part", lines=("Serial 9",)),
        "K7M2QX4R9", "]d1", id="datamatrix-item",
    ),
]  # fmt: skip
