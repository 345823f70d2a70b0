"""A cycle count in headless Chromium, in English and Bahasa Indonesia: a supervisor opens
a count of A-01 on the counts page, a worker's scan station page goes into count mode
(`CMD-COUNT-<id>`) and scans the bin and what lies there, the count page's progress
follows live; closing lists the missing lot and the extra one (recorded at the line side),
approving writes the adjustments, and both items' pages show them in their history."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from server.models import User
from tests.test_locations import _stores
from tests.web.conftest import scan_on_page, sign_in


def test_count_of_a01_finds_one_missing_one_extra_and_the_adjustments_show(
    page, plant, api, web_users
):
    _stores(plant)
    here, gone, extra = plant.items("STEEL", count=3, qty=25, lot="H-9")
    for loc, lots in (("A-01-03", (here, gone)), ("LINE", (extra,))):
        plant.scan("sc-recv", f"LOC-{loc}", expected=201)
        for lot in lots:
            plant.scan("sc-recv", lot, expected=201)

    sign_in(page, web_users["supervisor"])
    page.goto("/counts")
    page.fill("input[name=locations]", "A-01")
    page.click("button[type=submit]:has-text('Open count')")
    expect(page).to_have_url(re.compile(r"/counts/\d+$"))
    count_id = int(page.url.rsplit("/", 1)[1])
    live = page.locator("#count-live")
    expect(live.locator("[data-progress]")).to_contain_text("0 item(s) seen, 0 of the 2")
    count_url = page.url

    # the worker: count mode, the bin, the lots seen there
    page.goto("/scan/sc-put")
    scan_on_page(page, f"CMD-COUNT-{count_id}")
    expect(page.locator("#answer")).to_contain_text(f"Count {count_id}")
    scan_on_page(page, "LOC-A-01-03")
    expect(page.locator("#answer")).to_contain_text("Location: A-01-03")
    scan_on_page(page, here)
    expect(page.locator("#answer")).to_contain_text("Counted: Steel sheet lot H-9 25 kg")

    page.goto(count_url)
    expect(live.locator("[data-progress]")).to_contain_text("1 item(s) seen, 1 of the 2")
    # a scan from elsewhere shows up on the open page without a reload
    plant.scan("sc-put", extra, expected=201)
    expect(live.locator("[data-progress]")).to_contain_text("2 item(s) seen, 1 of the 2")

    page.click("button[data-close]")
    expect(live.locator("[data-summary]")).to_contain_text(
        "1 found, 1 missing, 1 seen here but recorded elsewhere"
    )
    expect(page.locator(f'tr[data-item="{gone}"]')).to_contain_text("missing")
    expect(page.locator(f'tr[data-item="{extra}"]')).to_contain_text("LINE")
    page.click("button[data-approve]")
    expect(page.locator("body")).to_contain_text("Approved: 2 adjustment(s) written.")
    for code in (gone, extra):
        page.goto(f"/items/{code}")
        expect(page.locator("body")).to_contain_text("Adjusted by a count")
        expect(page.locator("body")).to_contain_text(f"Count {count_id}")

    # the same in Bahasa Indonesia
    User.update(language="id").where(User.username == web_users["supervisor"]).execute()
    page.goto(count_url)
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(live.locator("[data-status]")).to_have_text("disetujui")
    expect(live.locator("[data-summary]")).to_contain_text("1 hilang")
    expect(page.locator(f'tr[data-item="{gone}"]')).to_contain_text("hilang")
    page.goto(f"/items/{extra}")
    expect(page.locator("body")).to_contain_text("Disesuaikan oleh hitungan")
    page.goto("/scan/sc-put")  # still in count mode: its header says so
    expect(page.locator(".scan-ctx")).to_contain_text(f"Menghitung (hitungan {count_id})")
    page.goto("/counts")
    expect(page.locator("h1")).to_have_text("Hitung siklus")
    page.fill("input[name=locations]", "NOPE")
    page.click("button:has-text('Buka hitungan')")
    expect(page.locator("body")).to_contain_text("Lokasi tidak dikenal")
