"""Printing where the work is, in Chromium, in English and Bahasa Indonesia: a worker
completes a unit at a station with a print rule and the answer says where its label
prints; the label arrives at the station's printer stand-in and decodes to the unit's
code. A clerk sees the printers' online state and the jobs, sends a test print, and
cancels a job waiting at a printer that is off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server.dispatch import Dispatcher, DispatchSettings
from server.models import PrintJob, Station, User
from tests.support.zplprinter import ZplPrinter
from tests.test_dispatch import _until
from tests.test_print_jobs import _decoded, _register, _rule
from tests.test_scans import _started
from tests.web.conftest import shot, sign_in

FAST = DispatchSettings(
    poll_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=0.5, flags=False
)
WORDS = {
    "en": {
        "printing": "label printing at zebra-end",
        "online": "Online",
        "offline": "Offline",
        "printed": "Printed",
        "cancelled": "Cancelled",
        "queued_test": "Test label queued for zebra-end",
    },
    "id": {
        "printing": "Label dicetak di zebra-end",
        "online": "Menyala",
        "offline": "Mati",
        "printed": "Dicetak",
        "cancelled": "Dibatalkan",
        "queued_test": "Label uji diantrekan untuk zebra-end",
    },
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_a_worker_completes_a_unit_and_its_label_prints_at_the_station(
    page, plant, api, db, web_users, db_url, lang
):
    words = WORDS[lang]
    Station.update(language=lang).where(Station.code == "END").execute()
    User.update(language=lang).where(User.username == web_users["clerk"]).execute()
    off = ZplPrinter(on=False)
    dispatcher = Dispatcher(db, FAST).start()
    try:
        with ZplPrinter() as printer:
            _register(api, "zebra-end", printer.address, station="END")
            _register(api, "zebra-off", off.address, station="SHIP")
            _rule(api, "END", "complete", "zebra-end")
            unit = _started(plant, qty=1)
            plant.scan("sc-a2", unit, expected=201)
            plant.scan("sc-qa", unit, expected=201)

            sign_in(page, web_users["operator"])
            page.goto("/scan/sc-end")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            page.keyboard.type(unit)
            page.keyboard.press("Enter")
            expect(page.locator("#answer")).to_contain_text(words["printing"])
            assert _until(lambda: len(printer.received()) == 1, 20)
            assert _decoded(printer.received()[0].decode()) == unit

            # the clerk's page: printers with their state, the jobs, a test print
            api.post("/api/printers/zebra-off/test", as_="clerk", expected=202)
            # leave the scan page first: its context poll, in flight, would bring back the
            # operator's (refreshed) session cookie after the clerk's sign-in, and the
            # clerk's page would answer the operator a 403 (seen once in a full run)
            page.goto("about:blank")
            page.context.clear_cookies()
            sign_in(page, web_users["clerk"])
            page.goto("/labels/jobs")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(page.locator("tr[data-printer=zebra-end]")).to_contain_text(words["online"])
            assert _until(lambda: PrintJob.get(PrintJob.source == "test").attempts >= 1)
            page.reload()
            expect(page.locator("tr[data-printer=zebra-off]")).to_contain_text(words["offline"])
            done = page.locator("#print-jobs tr[data-state=sent]")
            expect(done).to_have_count(1)
            expect(done).to_contain_text(unit)
            expect(done).to_contain_text(words["printed"])
            page.click("[data-test-print=zebra-end]")
            expect(page.locator(".flash")).to_contain_text(words["queued_test"])
            assert _until(lambda: len(printer.received()) == 2, 20)
            assert _decoded(printer.received()[1].decode()).startswith("TEST-")
            # the job waiting at the printer that is off: cancelled by the clerk
            page.reload()
            waiting = page.locator("#print-jobs tr[data-state=queued]")
            expect(waiting).to_have_count(1)
            shot(page, f"print-jobs-{lang}", db_url)
            waiting.locator("[data-cancel]").click()
            expect(page.locator("#print-jobs tr[data-state=cancelled]")).to_contain_text(
                words["cancelled"]
            )
            off.switch_on()
            page.wait_for_timeout(500)
            assert off.received() == []  # cancelled: never printed
    finally:
        dispatcher.stop()
        off.switch_off()
