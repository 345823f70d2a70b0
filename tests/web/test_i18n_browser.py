"""The scan station's answers in Bahasa Indonesia, in headless Chromium: worded from the
answer's reason code and parameters, with the product's name, and no English word left."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from server.models import Station
from tests.web.conftest import sign_in
from tests.web.test_i18n_walk import Vocabulary, plant_data


def test_scan_answers_in_bahasa_have_no_english(page, history, web_users):
    Station.update(language="id").where(Station.code << ["A1", "A2"]).execute()
    plant = history["plant"]
    (fresh,) = plant.items("WIDGET")
    sign_in(page, web_users["operator"])  # an English user at a Bahasa station
    page.goto("/scan/sc-a1")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    answer = page.locator("#answer")
    said = []

    def scan(code: str, *expected: str) -> str:
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        for text in expected:
            expect(answer).to_contain_text(text)
        text = answer.inner_text()
        said.append(text)
        return text

    scan(fresh, "Diterima", "Widget", "Dimulai")  # accepted, with the product's name
    expect(page.locator("#recent li").first).to_contain_text("Widget")
    scan("NOT-A-LABEL", "Ditolak", "Label tidak dikenali")
    scan(fresh, "Ditolak", "Barang ini dalam proses")  # illegal transition: stage, next step
    scan("CMD-OP-B-OPERATOR", "Diterima", "Masuk: operator1")
    scan("CMD-OUT", "Keluar")
    vocabulary = Vocabulary("id", plant_data())  # the scanned codes are data too
    foreign = {w for text in said for w in vocabulary.foreign(text)}
    assert not foreign, (foreign, said)
    page.reload()
    recent = page.locator("#recent").inner_text()
    assert not vocabulary.foreign(recent), recent
    assert re.search(r"Widget · Dimulai", recent), recent


def test_the_product_of_an_item_for_the_answer(as_role, history):
    b = as_role("operator")
    resp = b.get(f"/scan/items/{history['widgets'][0].lower()}")
    assert resp.status_code == 200
    assert resp.get_json() == {"sku": "WIDGET", "product": "Widget", "lot": None}
    resp = b.get("/scan/items/K0000000X")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "unknown_item"
