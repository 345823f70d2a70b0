"""PDF sheets rasterised by PDFium and decoded by zxing-cpp: every label on every page
scans back, pages hold the template's count, and bars are vectors."""

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from label_helpers import CASES, GS, decode_image, pdf_pages

from labels import TEMPLATES, Label, gs1_label, render_pdf


def items(n, **kw):
    return [Label(f"K7M2QX{i:04d}", title="Hex bolt M8x40", **kw) for i in range(n)]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_pages_hold_the_template_count(template):
    per_page = TEMPLATES[template].per_page
    labels = items(per_page + 1, lines=("Lot L2026-11",), stage="Assembly")
    pages = pdf_pages(render_pdf(labels, template))
    assert len(pages) == 2
    first = sorted(r.raw for r in decode_image(pages[0]))
    second = sorted(r.raw for r in decode_image(pages[1]))
    assert first == sorted(label.code for label in labels[:per_page])
    assert second == [labels[-1].code]


def test_every_kind_of_label_scans_back_from_a_sheet():
    labels = [case.values[0] for case in CASES]
    reads = decode_image(pdf_pages(render_pdf(labels, "a4-2x7"))[0])
    got = sorted((r.raw, r.symbology) for r in reads)
    assert got == sorted((case.values[1], case.values[2]) for case in CASES)


@pytest.mark.parametrize("template", ["thermal-4x6", "letter-2x5"])
def test_gs1_serial_with_expiry_reads_as_gs1(template):
    label = gs1_label("09506000134352", lot="LOT42", serial="SN1", expiry="271231")
    reads = decode_image(pdf_pages(render_pdf([label], template))[0])
    assert [(r.raw, r.text, r.symbology) for r in reads] == [
        ("01095060001343521727123110LOT42" + GS + "21SN1", label.code, "]C1")
    ]


def test_a_clerk_prints_fifty_received_items():
    labels = items(50, lines=("Received 2026-11-26",), stage="Goods in")
    pages = pdf_pages(render_pdf(labels, "a4-3x8"))
    assert len(pages) == 3
    reads = [r.raw for page in pages for r in decode_image(page)]
    assert sorted(reads) == sorted(label.code for label in labels)


def _page_objects(data):
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        kinds = [obj.type for obj in page.get_objects()]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        textpage.close()
        page.close()
        return kinds, text
    finally:
        doc.close()


def test_bars_are_vectors_and_text_is_text():
    label = Label("K7M2QX4R9", title="Hex bolt", lines=("Lot L2026-11", "Serial 123"),
                  stage="Assembly")  # fmt: skip
    kinds, text = _page_objects(render_pdf([label], "thermal-4x6"))
    assert pdfium_c.FPDF_PAGEOBJ_IMAGE not in kinds
    assert pdfium_c.FPDF_PAGEOBJ_PATH in kinds
    for part in ("K7M2QX4R9", "Hex bolt", "Lot L2026-11", "Serial 123", "Stage: Assembly"):
        assert part in text


def test_progress_is_reported():
    seen = []
    render_pdf(items(250), "a4-3x8", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


@pytest.mark.parametrize(
    ("labels", "template", "message"),
    [
        ([], "a4-3x8", "no labels"),
        ([Label("K7")], "a5-9x9", "unknown template"),
    ],
)
def test_bad_requests(labels, template, message):
    with pytest.raises(ValueError, match=message):
        render_pdf(labels, template)
