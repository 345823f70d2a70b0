"""The clerk's label pages in Chromium: a clerk designs a 2 × 1 in template with a lot and
an expiry, sees its live preview (which decodes), saves it, and prints a sheet of 100 of a
receipt's items whose PDF decodes to all 100 codes with zxing-cpp and zbar; in English and
Bahasa Indonesia."""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import expect
from pyzbar import pyzbar

from server.models import LabelTemplate, User
from tests.labels.label_helpers import decode_image, decode_png, pdf_pages
from tests.web.conftest import shot, sign_in

WORDS = {
    "en": {"saved": "Saved as lot-2x1 version 1", "ready": "Ready: 100 labels"},
    "id": {"saved": "Disimpan sebagai lot-2x1 versi 1", "ready": "Siap: 100 label"},
}


def _zbar(image: Image.Image) -> list[str]:
    return [r.data.decode() for r in pyzbar.decode(image.convert("L"))]


@pytest.mark.parametrize("lang", ["en", "id"])
def test_clerk_designs_a_2x1_template_and_prints_100(page, plant, web_users, db_url, lang):
    User.update(language=lang).where(User.username == web_users["clerk"]).execute()
    codes = plant.items("STEEL", count=100, qty=5, lot="L-100", expiry="2027-05-31")
    words = WORDS[lang]
    sign_in(page, web_users["clerk"])
    page.goto("/labels/templates")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    form = page.locator("#template-form")
    preview = page.locator("#label-preview")
    expect(preview).to_have_attribute("data-version", "1")

    form.locator("input[name=name]").fill("lot-2x1")
    form.locator("select[name=size]").select_option("50.8x25.4")
    rows = form.locator("#boxes tbody tr")
    # the default keeps symbol, code, lot and expiry: remove product, quantity and order
    for field in ("product", "quantity", "order"):
        row = page.locator("#boxes tbody tr").filter(
            has=page.locator(f"select[name=field] option[value={field}]:checked")
        )
        row.locator("[data-remove]").click()
    expect(rows).to_have_count(4)
    fields = [rows.nth(i).locator("select[name=field]").input_value() for i in range(4)]
    assert fields == ["symbol", "code", "lot", "expiry"]
    # the symbol takes the top half, lot and expiry below the code
    symbol = rows.nth(0)
    symbol.locator("input[name=y]").fill("0")
    symbol.locator("input[name=h]").fill("55")
    version = preview.get_attribute("data-version")
    rows.nth(3).locator("input[name=text]").fill("Use by ")
    expect(preview).not_to_have_attribute("data-version", version)
    expect(page.locator("#preview-error")).to_be_hidden()
    # the preview is what prints: it decodes as shown on the screen
    assert [r.text for r in decode_png(preview.screenshot())] == ["K7M2QX4R9"]
    shot(page, f"label-templates-{lang}" if lang != "en" else "label-templates", db_url)

    form.locator("button[type=submit]").click()
    expect(page.locator("#template-status")).to_have_text(words["saved"])
    saved = LabelTemplate.get(LabelTemplate.name == "lot-2x1")
    assert saved.version == 1 and saved.design["width"] == 50.8
    assert [b["field"] for b in saved.design["boxes"]] == ["symbol", "code", "lot", "expiry"]

    page.goto("/labels/print")
    sheet = page.locator("#print-form")
    sheet.locator("input[name=lot]").fill("L-100")
    sheet.locator("select[name=template]").select_option("lot-2x1")
    sheet.locator("select[name=stock]").select_option("letter-3x10")
    sheet.locator("button[type=submit]").click()
    link = page.locator("#sheet-link")
    expect(link).to_be_visible(timeout=30_000)
    expect(page.locator("#sheet-status")).to_have_text(words["ready"])
    bar = page.locator("#sheet-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "100"
    shot(page, f"label-print-{lang}" if lang != "en" else "label-print", db_url)

    pdf = page.request.get(link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    pages = pdf_pages(pdf.body(), dpi=300)
    assert len(pages) == 4  # 30 a page
    zx, zb = [], []
    for image in pages:
        zx += [r.text for r in decode_image(image)]
        zb += _zbar(image)
    assert sorted(zx) == sorted(codes)
    assert sorted(zb) == sorted(codes)
