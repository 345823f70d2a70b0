"""Every label design, at every label size the renderers know, decodes back to its code
with two decoders (zxing-cpp and zbar): as PNG, as a PDF page rasterised by PDFium, and as
ZPL parsed field by field against the same layout."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pyzbar import pyzbar

from labels import (
    TEMPLATES,
    Box,
    Design,
    default_design,
    design_zpl,
    layout_design,
    render_design_pdf,
    render_design_png,
    render_design_svg,
)
from labels.zpl import fh
from tests.labels.label_helpers import decode_image, pdf_pages

VALUES = {
    "code": "K7M2QX4R9",
    "product": "Hex bolt M8x40 zinc plated, box of 250",
    "lot": "L2026-11-A",
    "quantity": "250 ea",
    "expiry": "2027-06-30",
    "gtin": "09506000134352",
    "order": "2026-0107",
}
#: each size of labels.TEMPLATES (sheets and rolls): the label size a design is made for
SIZES = sorted({(t.label_width, t.label_height) for t in TEMPLATES.values()})

LOT_EXPIRY = (
    Box("symbol", 0, 0, 100, 50),
    Box("code", 0, 51, 100, 15, bold=True),
    Box("lot", 0, 68, 100, 15, align="start"),
    Box("expiry", 0, 85, 100, 15, align="start", text="Use by "),
)
QR_SIDE = (
    Box("symbol", 0, 0, 40, 100),
    Box("code", 42, 0, 58, 20, align="start", bold=True),
    Box("product", 42, 22, 58, 18, align="start"),
    Box("lot", 42, 42, 58, 18, align="start"),
    Box("quantity", 42, 62, 58, 18, align="start"),
    Box("text", 42, 82, 58, 18, align="start", text="Made in Batam"),
)
DESIGNS = {
    "default": lambda w, h: default_design(w, h),
    "lot-expiry": lambda w, h: Design(w, h, 203, "code128", LOT_EXPIRY),
    "qr-side": lambda w, h: Design(w, h, 300, "qr", QR_SIDE),
}
CASES = [
    pytest.param(make, size, id=f"{name}-{size[0]:g}x{size[1]:g}")
    for name, make in DESIGNS.items()
    for size in SIZES
]


def zbar(image: Image.Image) -> list[str]:
    return [r.data.decode("latin-1") for r in pyzbar.decode(image.convert("L"))]


def both(image: Image.Image) -> tuple[list[str], list[str]]:
    return [r.text for r in decode_image(image)], zbar(image)


@pytest.mark.parametrize(("make", "size"), CASES)
def test_png_decodes_with_zxing_and_zbar(make, size):
    design = make(*size)
    for dpi in (203, 300):
        image = Image.open(io.BytesIO(render_design_png(design, VALUES, dpi)))
        assert both(image) == (["K7M2QX4R9"], ["K7M2QX4R9"]), (dpi, size)


@pytest.mark.parametrize(("make", "size"), CASES)
def test_pdf_page_decodes_with_zxing_and_zbar(make, size):
    design = make(*size)
    pdf = render_design_pdf(design, [VALUES, {**VALUES, "code": "CMD-OP-0042"}])
    pages = pdf_pages(pdf, dpi=300)
    assert len(pages) == 2
    assert both(pages[0]) == (["K7M2QX4R9"], ["K7M2QX4R9"])
    assert both(pages[1]) == (["CMD-OP-0042"], ["CMD-OP-0042"])


_FIELD = re.compile(r"\^FO(\d+),(\d+)\^A0N,(\d+),\d+\^FB(\d+),1,0,([LCR]),0\^FH\^FD(.*?)\^FS")


@pytest.mark.parametrize(("make", "size"), CASES)
def test_zpl_carries_the_layout_field_by_field(make, size):
    design = make(*size)
    zpl = design_zpl(design, VALUES)
    dots = design.dpi / 25.4
    layout = layout_design(design, VALUES, unit=1 / dots)
    assert zpl.startswith("^XA\n^CI28\n") and zpl.endswith("^XZ\n")
    assert f"^PW{round(design.width * dots)}" in zpl
    assert f"^LL{round(design.height * dots)}" in zpl
    if design.symbology == "qr":
        assert re.search(r"\^BQN,2,\d+\^FH\^FDMA,K7M2QX4R9\^FS", zpl)
    else:
        assert re.search(r"\^BY\d\^BCN,\d+,N,N,N,N\^FH\^FD>:K7M2QX4R9\^FS", zpl)
    fields = _FIELD.findall(zpl)
    assert [f[5] for f in fields] == [fh(t.text) for t in layout.texts]
    for (x, y, size_, block, justify, _), t in zip(fields, layout.texts, strict=True):
        assert justify == {"start": "L", "middle": "C", "end": "R"}[t.anchor]
        assert int(size_) == max(10, round(t.size * dots))
        assert 0 <= int(x) and int(x) + int(block) <= round(design.width * dots) + 1
        assert 0 <= int(y) < round(design.height * dots)
    # what stays true, never the stage
    texts = " ".join(t.text for t in layout.texts)
    assert "Stage" not in texts and "K7M2QX4R9" in texts


def test_svg_carries_the_same_bars_as_the_png_layout():
    design = Design(50.8, 25.4, 203, "code128", LOT_EXPIRY)
    svg = render_design_svg(design, VALUES)
    assert "LOT L2026-11-A" in svg and "Use by 2027-06-30" in svg
    assert len(re.findall(r"h[\d.]+v", svg)) == len(layout_design(design, VALUES).bars)


def test_a_sheet_of_100_two_by_one_labels_all_decode():
    design = Design(50.8, 25.4, 203, "code128", LOT_EXPIRY)
    codes = [f"K{n:03d}TEST" for n in range(100)]
    pdf = render_design_pdf(design, [{**VALUES, "code": c} for c in codes], "letter-3x10")
    found_zx, found_zbar = [], []
    for page in pdf_pages(pdf, dpi=300):
        zx, zb = both(page)
        found_zx += zx
        found_zbar += zb
    assert sorted(found_zx) == sorted(codes)
    assert sorted(found_zbar) == sorted(codes)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"width": 50.8, "height": 25.4, "boxes": []}, "exactly one symbol"),
        (
            {
                "width": 5,
                "height": 25,
                "boxes": [{"field": "symbol", "x": 0, "y": 0, "w": 9, "h": 9}],
            },
            "mm on each side",
        ),
        (
            {"width": 50, "height": 25, "boxes": [{"field": "stage", "x": 0, "y": 0, "w": 9}]},
            "missing",
        ),
        (
            {
                "width": 50,
                "height": 25,
                "boxes": [{"field": "symbol", "x": 50, "y": 0, "w": 60, "h": 50}],
            },
            "outside the label",
        ),
    ],
)
def test_bad_designs_say_why(data, why):
    with pytest.raises((ValueError, TypeError), match=why):
        Design.from_dict(data)


def test_a_symbol_box_too_narrow_for_the_code_is_refused():
    design = Design(25.4, 25.4, 203, "code128", (Box("symbol", 0, 0, 30, 50),))
    with pytest.raises(ValueError, match="does not fit"):
        layout_design(design, VALUES, unit=25.4 / 203)
