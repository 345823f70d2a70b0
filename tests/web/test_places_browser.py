"""Places in headless Chromium: a clerk receives steel into bin A-01-03 (the bin's label,
then the lots) on the scan station page, a worker moves two lots to line side (the
location's label, then the lots), and the stock page shows each lot where it is, by place
with per-unit quantities, in English and in Bahasa Indonesia."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from server.models import Station, User
from tests.web.conftest import scan_on_page, sign_in


def test_receive_into_a_bin_transfer_to_line_side_and_the_stock_page(page, plant, api, web_users):
    api.post("/api/locations", {"code": "STORE", "kind": "area", "name": "Main store"},
             expected=201)  # fmt: skip
    api.post("/api/locations", {"code": "A-01", "kind": "area", "parent": "STORE"}, expected=201)
    api.post("/api/locations", {"code": "A-01-03", "kind": "bin", "parent": "A-01"}, expected=201)
    api.post(
        "/api/stations", {"code": "PUT", "name": "Putaway", "default_action": "transfer"},
        expected=201,
    )  # fmt: skip
    api.post("/api/scanners", {"id": "sc-put", "station": "PUT"}, expected=201)
    lots = plant.items("STEEL", count=3, qty=25, lot="H-9")

    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-recv")
    head, answer = page.locator(".scan-ctx"), page.locator("#answer")
    scan_on_page(page, "LOC-A-01-03")
    expect(head).to_contain_text("A-01-03")  # the header shows the current location
    expect(answer).to_contain_text("Location: A-01-03")
    for lot in lots:
        scan_on_page(page, lot)
        expect(page.locator("#recent li").first).to_contain_text(lot)
        expect(answer).to_contain_text("Receive: Steel sheet lot H-9 new → raw · A-01-03")

    page.goto("/scan/sc-put")
    scan_on_page(page, "LOC-LINE")
    expect(page.locator(".scan-ctx")).to_contain_text("LINE")
    for lot in lots[:2]:
        scan_on_page(page, lot)
        expect(page.locator("#recent li").first).to_contain_text(lot)
        expect(page.locator("#answer")).to_contain_text("Transfer: Steel sheet → LINE")

    page.goto("/stock")
    places = page.locator("#places")
    expect(places).to_contain_text("never added across units")
    bin_row = places.locator('tr[data-place="A-01-03"]')
    expect(bin_row.locator("[data-count]")).to_have_text("1")
    expect(bin_row.locator("[data-qty]")).to_have_text("25 kg")
    expect(places.locator('tr[data-place="STORE"] [data-count]')).to_have_text("1")
    line_row = places.locator('tr[data-place="LINE"]')
    expect(line_row.locator("[data-count]")).to_have_text("2")
    expect(line_row.locator("[data-qty]")).to_have_text("50 kg")
    line_row.locator("[data-count] a").click()  # drill down to the items there
    expect(page).to_have_url(re.compile(r"location=LINE"))
    table = page.locator("table")
    for lot in lots[:2]:
        expect(table).to_contain_text(lot)
    expect(table).not_to_contain_text(lots[2])
    page.goto("/items?location=A-01")  # a place includes the places below it
    expect(page.locator("table")).to_contain_text(lots[2])

    # the same in Bahasa Indonesia
    User.update(language="id").where(User.username == web_users["operator"]).execute()
    Station.update(language="id").where(Station.code == "PUT").execute()
    page.goto("/stock?location=STORE")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    places = page.locator("#places")
    expect(places).to_contain_text("Stok per tempat")
    expect(places).to_contain_text("tidak pernah dijumlahkan antar satuan")
    expect(places.locator('tr[data-place="A-01-03"] [data-count]')).to_have_text("1")
    expect(places.locator('tr[data-place="LINE"]')).to_have_count(0)  # outside STORE
    page.goto("/scan/sc-put")
    expect(page.locator(".scan-ctx")).to_contain_text("di LINE")
    scan_on_page(page, "LOC-A-01-03")
    expect(page.locator("#answer")).to_contain_text("Lokasi: A-01-03")
    scan_on_page(page, lots[0])
    expect(page.locator("#answer")).to_contain_text("Dipindah lokasi → bahan baku · A-01-03")
    scan_on_page(page, "LOC-NOWHERE")
    expect(page.locator("#answer")).to_contain_text("Lokasi tidak dikenal")
