"""Shipments in headless Chromium, English and Bahasa Indonesia: the shipping clerk's scan
page scans the shipment's label `SHP-<ref>` then a widget made from steel lot S-1; the
recall report of the lot lists the customer who got it, and the widget's page shows its
shipment and customer."""

from __future__ import annotations

from playwright.sync_api import expect

from server.models import User
from tests.test_trace import built  # noqa: F401 - the fixture
from tests.web.conftest import scan_on_page, sign_in


def test_a_recall_lists_the_customers_who_got_the_lot(page, built, plant, api, web_users):  # noqa: F811
    first, second = built["widgets"]
    api.post(
        "/api/shipments",
        {"ref": "DO-7", "customer": "PT Maju Motor", "date": "2026-11-30"},
        as_="clerk",
        expected=201,
    )
    sign_in(page, web_users["supervisor"])
    page.goto("/scan/sc-ship")
    scan_on_page(page, "SHP-DO-7")
    expect(page.locator("#answer")).to_contain_text("Shipment DO-7: PT Maju Motor")
    scan_on_page(page, second)
    expect(page.locator("#recent li").first).to_contain_text(second)
    expect(page.locator("#answer")).to_contain_text("shipment DO-7")

    page.goto("/recall?product=STEEL&lot=S-1")
    row = page.locator('#customers tr[data-customer="PT Maju Motor"]')
    expect(row).to_contain_text("DO-7")
    expect(row).to_contain_text(second)
    expect(page.locator(f'#units tr[data-unit="{second}"]')).to_contain_text("PT Maju Motor")
    expect(page.locator(f'#units tr[data-unit="{first}"]')).not_to_contain_text("PT Maju")
    page.goto(f"/items/{second}")
    expect(page.locator("[data-shipment]")).to_contain_text("DO-7 · PT Maju Motor")

    User.update(language="id").where(User.username == web_users["supervisor"]).execute()
    page.goto("/recall?product=STEEL&lot=S-1")
    expect(page.locator("h1")).to_have_text("Laporan penarikan")
    expect(page.locator("#customers")).to_contain_text("Pelanggan yang menerima lot ini")
    expect(page.locator('#customers tr[data-customer="PT Maju Motor"]')).to_contain_text("DO-7")
    page.goto(f"/items/{second}")
    expect(page.locator("body")).to_contain_text("Pengiriman")
    page.goto("/scan/sc-ship")
    scan_on_page(page, "SHP-NOPE")
    expect(page.locator("#answer")).to_contain_text("Pengiriman tidak dikenal")
