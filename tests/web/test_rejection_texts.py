"""The worker message of an illegal transition in both languages: every sentence of
server/core/stages.py's NEXT_STEP is a msgid of the pages' catalogue, translated on the
scan station page (its catalogue), on the rejected-scans page and in an item's history."""

from __future__ import annotations

import json
import re

from server.core.stages import NEXT_STEP
from server.models import Station, User
from server.web import i18n

NEW_RAW = "This item is new (never received): receive it first"
NEW_RAW_ID = "Barang ini baru (belum diterima): terima dulu"


def test_every_next_step_is_a_msgid():
    core = {text for text, _actions in NEXT_STEP.values()}
    assert core == {str(t._args[0]) for t in i18n.NEXT_STEP_TEXT}


def test_message_text_translates_whole_sentences_only(app):
    with app.test_request_context(headers={"Accept-Language": "id"}):
        assert i18n.message_text(NEW_RAW) == NEW_RAW_ID
        for text, _actions in NEXT_STEP.values():
            assert i18n.message_text(text) not in ("", text), text
        # any other core detail stays as it is
        assert i18n.message_text("Order WO-1 needs only 3 more") == "Order WO-1 needs only 3 more"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.message_text(NEW_RAW) == NEW_RAW


def _catalogue(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="scan-catalogue">(.*?)</script>', html)
    assert m, "no catalogue on the scan page"
    return json.loads(m.group(1))


def test_scan_page_and_rejected_page_word_the_next_step_in_bahasa(plant, as_role):
    (steel,) = plant.items("STEEL")
    r = plant.scan("sc-ship", steel, expected=422)  # a new item cannot be shipped
    assert r["message"] == NEW_RAW
    Station.update(language="id").where(Station.code == "SHIP").execute()
    b = as_role("operator")
    # the scan page's script words a rejection from the catalogue: message -> sentence
    catalogue = _catalogue(b.get("/scan/sc-ship").get_data(as_text=True))
    assert catalogue["lang"] == "id" and catalogue["messages"][NEW_RAW] == NEW_RAW_ID
    english = _catalogue(b.get("/scan/sc-recv").get_data(as_text=True))
    assert english["messages"][NEW_RAW] == NEW_RAW
    # the item's history and the rejected scans, for a user reading Bahasa Indonesia
    User.update(language="id").where(User.username == "supervisor1").execute()
    s = as_role("supervisor")
    for path in (f"/items/{steel}", "/rejected"):
        html = s.get(path).get_data(as_text=True)
        assert NEW_RAW_ID in html and NEW_RAW not in html, path


def test_scan_station_shows_the_next_step_in_its_language(page, plant, web_users):
    """Headless Chromium: the page's script words the rejection from its catalogue."""
    from playwright.sync_api import expect

    from tests.web.conftest import sign_in

    steel_en, steel_id = plant.items("STEEL", count=2)
    Station.update(language="id").where(Station.code == "SHIP").execute()
    sign_in(page, web_users["operator"])
    for scanner, code, reason, sentence in [
        ("sc-ship", steel_id, "Tidak diizinkan dari tahap ini", NEW_RAW_ID),
        ("sc-line", steel_en, "Not allowed from this stage", NEW_RAW),
    ]:
        page.goto(f"/scan/{scanner}")
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        answer = page.locator("#answer")
        expect(answer).to_have_class(re.compile(r"\bbad\b"))
        expect(answer).to_contain_text(f"{reason} — {sentence}")
