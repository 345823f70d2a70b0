"""The admin's printers and print rules page in Chromium, in English and Bahasa Indonesia
(issue 15): an admin adds a zpl-tcp printer pointing at a raw-TCP stand-in with its site,
dpi and media, adds a "complete" rule at a station, a worker completes a unit there, and
the stand-in receives ZPL carrying the unit's code in the printer's dots; the unit's page
shows its label queued at the printer, then sent; the page shows the printer online.
Editing the media to labels too small (the next label fails, its item's page says why), a
refused form, a test print, switching off and removing the rule, as a user does them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from server.dispatch import Dispatcher
from server.models import Item, Printer, PrintJob, PrintRule, User
from tests.support.zplprinter import ZplPrinter
from tests.test_dispatch import _until
from tests.test_print_jobs import FAST, _decoded
from tests.test_scans import _started
from tests.web.conftest import shot, sign_in

WORDS = {
    "en": {
        "link": "Printers and print rules",
        "added": "Printer zebra-end added.",
        "not_tried": "Not tried yet",
        "online": "Online",
        "rule_set": "Print rule set: Complete at END prints at zebra-end.",
        "complete": "Complete",
        "media": "50.8 × 25.4 mm labels",
        "small": "40 × 20 mm labels",
        "bad_media": "gap media needs its label height",
        "saved": "Printer zebra-end saved.",
        "test": "Test label queued for zebra-end",
        "off": "Printer zebra-end switched off.",
        "removed": "Print rule removed: Complete at END.",
        "no_rule": "No print rule yet.",
        "mismatch": "template default is 50.8 x 25.4 mm",
        "queued": "Label queued at zebra-end",
        "sent": "Label sent to zebra-end",
        "failed": "Label failed at zebra-end",
    },
    "id": {
        "link": "Printer dan aturan cetak",
        "added": "Printer zebra-end ditambahkan.",
        "not_tried": "Belum dicoba",
        "online": "Menyala",
        "rule_set": "Aturan cetak disimpan: Selesai di END dicetak di zebra-end.",
        "complete": "Selesai",
        "media": "Label 50.8 × 25.4 mm",
        "small": "Label 40 × 20 mm",
        "bad_media": "Ukuran media tidak mungkin",
        "saved": "Printer zebra-end disimpan.",
        "test": "Label uji diantrekan untuk zebra-end",
        "off": "Printer zebra-end dimatikan.",
        "removed": "Aturan cetak dihapus: Selesai di END.",
        "no_rule": "Belum ada aturan cetak.",
        "mismatch": "Label lebih besar dari media printer",
        "queued": "Label diantrekan di zebra-end",
        "sent": "Label terkirim ke zebra-end",
        "failed": "Label gagal di zebra-end",
    },
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_an_admin_adds_a_printer_and_a_rule_and_a_completed_unit_prints_there(
    page, plant, api, db, web_users, db_url, lang
):
    words = WORDS[lang]
    User.update(language=lang).where(User.username == web_users["admin"]).execute()
    api.post("/api/sites", {"code": "P1", "name": "Plant one"}, as_="admin", expected=201)
    dispatcher = Dispatcher(db, FAST).start()
    try:
        with ZplPrinter() as printer:
            sign_in(page, web_users["admin"])
            page.goto("/admin")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            page.get_by_role("link", name=words["link"]).click()
            expect(page).to_have_url(re.compile(r"/admin/printers$"))

            # gap media without its label height: refused with its reason, nothing added
            form = page.locator("#printer-add")
            form.locator("[name=name]").fill("zebra-end")
            form.locator("[name=address]").fill(printer.address)
            form.locator("[name=station]").select_option("END")
            form.locator("[name=site]").select_option("P1")
            form.locator("[name=dpi]").select_option("300")
            form.locator("[name=media_width_mm]").fill("50.8")
            form.locator("button[type=submit]").click()
            expect(page.locator("body")).to_contain_text(words["bad_media"])
            assert Printer.select().count() == 0

            form = page.locator("#printer-add")
            form.locator("[name=name]").fill("zebra-end")
            form.locator("[name=address]").fill(printer.address)
            form.locator("[name=station]").select_option("END")
            form.locator("[name=site]").select_option("P1")
            form.locator("[name=dpi]").select_option("300")
            form.locator("[name=media_width_mm]").fill("50.8")
            form.locator("[name=media_height_mm]").fill("25.4")
            form.locator("button[type=submit]").click()
            expect(page.locator("body")).to_contain_text(words["added"])
            row = page.locator("tr[data-printer=zebra-end]")
            expect(row.locator("[data-site]")).to_have_text("P1")
            expect(row.locator("[data-station]")).to_have_text("END")
            expect(row.locator("[data-dpi]")).to_have_text("300")
            expect(row.locator("[data-media]")).to_have_text(words["media"])
            expect(row).to_contain_text(words["not_tried"])

            rule = page.locator("#rule-add")
            rule.locator("[name=station]").select_option("END")
            rule.locator("[name=event]").select_option("complete")
            rule.locator("[name=printer]").select_option("zebra-end")
            rule.locator("button[type=submit]").click()
            expect(page.locator("body")).to_contain_text(words["rule_set"])
            expect(page.locator("tr[data-rule='END/complete']")).to_contain_text(words["complete"])

            # a worker completes a unit at END (HTTP scans, as a station's agent sends them)
            unit = _started(plant, qty=1)
            plant.scan("sc-a2", unit, expected=201)
            plant.scan("sc-qa", unit, expected=201)
            done = plant.scan("sc-end", unit, expected=201)
            assert done["action"] == "complete" and "zebra-end" in done["message"], done
            assert _until(lambda: len(printer.received()) == 1, 20)
            zpl = printer.received()[0].decode()
            assert _decoded(zpl) == unit
            assert re.search(r"\^PW(\d+)", zpl)[1] == "600"  # 2 in at the printer's 300 dpi

            # the unit's history: its label queued at the printer, then sent (newest first)
            page.goto(f"/items/{unit}")
            labels = page.locator(".timeline li[data-print]")
            expect(labels).to_have_count(2)
            expect(labels.nth(0)).to_have_attribute("data-print", "label_sent")
            expect(labels.nth(0)).to_contain_text(words["sent"])
            expect(labels.nth(1)).to_have_attribute("data-print", "label_queued")
            expect(labels.nth(1)).to_contain_text(words["queued"])

            page.goto("/admin/printers")
            expect(page.locator("tr[data-printer=zebra-end]")).to_contain_text(words["online"])
            shot(page, f"admin-printers-{lang}", db_url)

            # narrower labels loaded: the edit form; the next completed unit's job fails
            row = page.locator("tr[data-printer=zebra-end]")
            row.locator("details[data-edit=zebra-end] summary").click()
            edit = row.locator("details[data-edit=zebra-end] form")
            edit.locator("[name=media_width_mm]").fill("40")
            edit.locator("[name=media_height_mm]").fill("20")
            edit.locator("button[type=submit]").click()
            expect(page.locator("body")).to_contain_text(words["saved"])
            row = page.locator("tr[data-printer=zebra-end]")
            expect(row.locator("[data-media]")).to_have_text(words["small"])
            expect(row.locator("[data-site]")).to_have_text("P1")  # what was not changed stays
            second = _started(plant, order="WO-2", qty=1)
            plant.scan("sc-a2", second, expected=201)
            plant.scan("sc-qa", second, expected=201)
            plant.scan("sc-end", second, expected=201)
            assert _until(
                lambda: (
                    PrintJob.get(PrintJob.item == Item.get(Item.code == second)).state == "failed"
                ),
                20,
            )
            page.reload()
            expect(page.locator("tr[data-printer=zebra-end] [data-error]")).to_contain_text(
                words["mismatch"]
            )
            page.goto(f"/items/{second}")
            failed = page.locator(".timeline li[data-print=label_failed]")
            expect(failed).to_contain_text(words["failed"])
            expect(failed).to_contain_text(words["mismatch"])
            page.goto("/admin/printers")
            assert len(printer.received()) == 1  # nothing cropped was sent

            page.locator("button[data-test-print=zebra-end]").click()
            expect(page.locator("body")).to_contain_text(words["test"])
            assert _until(lambda: len(printer.received()) == 2, 20)
            # the test label is drawn as large as the media: 40 mm at 300 dpi
            assert re.search(r"\^PW(\d+)", printer.received()[1].decode())[1] == "472"

            page.locator("button[data-switch=zebra-end]").click()
            expect(page.locator("body")).to_contain_text(words["off"])
            assert Printer.get(Printer.name == "zebra-end").active is False
            expect(page.locator("button[data-test-print=zebra-end]")).to_have_count(0)

            page.locator("button[data-remove-rule='END/complete']").click()
            expect(page.locator("body")).to_contain_text(words["removed"])
            expect(page.locator("#rules")).to_contain_text(words["no_rule"])
            assert PrintRule.select().count() == 0
    finally:
        dispatcher.stop()


def test_the_page_is_for_admins(page, plant, web_users):
    sign_in(page, web_users["supervisor"])
    answer = page.goto("/admin/printers")
    assert answer.status == 403
