"""A reason label then a part on the scan station page, in headless Chromium, in English and
Bahasa Indonesia: the answer and the header show the reason, the part is scrapped, the
reason is used up."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server.models import Item, LedgerEntry, Scanner, Station
from tests.web.conftest import scanning, sign_in

WORDS = {
    "en": {"ok": "Accepted", "why": "Reason for the next scan: DAMAGED Damaged", "ctx": "Damaged"},
    "id": {
        "ok": "Diterima",
        "why": "Alasan untuk pindaian berikutnya: DAMAGED Rusak",
        "ctx": "Rusak",
    },
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_reason_label_then_part_scraps_it(page, history, web_users, lang):
    Station.update(language=lang).where(Station.code == "LINE").execute()
    plant = history["plant"]
    (steel,) = plant.items("STEEL", qty=2, lot="L-S")
    plant.scan("sc-recv", steel, expected=201)
    words = WORDS[lang]
    sign_in(page, web_users["supervisor"])  # the signed-in supervisor may scrap
    page.goto("/scan/sc-line")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    header = page.locator("#scan-ctx")

    scan = scanning(page)

    scan("CMD-ACT-SCRAP", words["ok"])
    scan("CMD-WHY-DAMAGED", words["ok"], words["why"])
    expect(header).to_contain_text(words["ctx"])
    scan(steel, words["ok"])
    expect(header).not_to_contain_text(words["ctx"])
    assert Item.get(Item.code == steel).stage == "scrapped"
    row = LedgerEntry.get(
        (LedgerEntry.item == Item.get(Item.code == steel).id) & (LedgerEntry.to_stage == "scrapped")
    )
    assert row.why == "DAMAGED"
    assert Scanner.get_by_id("sc-line").why is None


def test_the_context_endpoint_names_the_reason(as_role, history):
    b = as_role("operator")
    history["plant"].scan("sc-line", "CMD-WHY-DAMAGED", expected=201)
    ctx = b.get("/scan/sc-line/context").get_json()
    assert (ctx["reason"], ctx["reason_text"]) == ("DAMAGED", "DAMAGED Damaged")
    assert ctx["text"].endswith("DAMAGED Damaged")


QC = {
    "en": ("QC fail: scan the reason, then the part to hold", "QC pass: parts move on"),
    "id": ("Gagal QC: pindai alasan, lalu barang yang ditahan", "Lolos QC: barang lanjut"),
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_qc_fail_holds_on_the_scan_page(page, history, web_users, lang):
    Station.update(language=lang).where(Station.code == "LINE").execute()
    plant = history["plant"]
    (steel,) = plant.items("STEEL", qty=1, lot="L-Q")
    plant.scan("sc-recv", steel, expected=201)
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-line")
    scan = scanning(page)

    fail, passed = QC[lang]
    scan("CMD-QC-FAIL", fail)
    scan("CMD-WHY-DAMAGED", WORDS[lang]["why"])
    scan(steel, WORDS[lang]["ok"])
    assert Item.get(Item.code == steel).held
    scan("CMD-QC-PASS", passed)
