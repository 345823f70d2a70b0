"""Headless Chromium against the app under a real WSGI server and a real database file:
signing in, the scan station's green and red answers, live pages, role refusals, and a
screenshot of every page into docs/img/pages/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from server.models import Station
from tests.web.conftest import shot, sign_in

LIVE_WITHIN_MS = 2000


def test_scan_station_green_then_red(page, history, web_users, db_url):
    plant = history["plant"]
    (widget,) = plant.items("WIDGET")
    sign_in(page, web_users["operator"])
    expect(page).to_have_url(re.compile(r"/scan$"))
    shot(page, "scan-index", db_url)
    page.click("a[href$='/scan/sc-a1']")
    scan_input = page.locator("#scan-input")
    expect(scan_input).to_be_focused()
    scan_input.fill(widget)
    scan_input.press("Enter")
    answer = page.locator("#answer")
    expect(answer).to_have_class(re.compile(r"\bok\b"))
    expect(answer).to_contain_text("Accepted")
    expect(answer).to_contain_text("new → wip")
    expect(page.locator("#recent li").first).to_have_class("accepted")
    expect(scan_input).to_be_focused()  # focus stays for the next scan
    shot(page, "scan-accepted", db_url)

    page.keyboard.type("NOT-A-LABEL")  # a keyboard wedge just types and presses Enter
    page.keyboard.press("Enter")
    expect(answer).to_have_class(re.compile(r"\bbad\b"))
    expect(answer).to_contain_text("Rejected")
    expect(answer).to_contain_text("Label not recognised")
    expect(page.locator("#recent li").first).to_have_class("rejected")
    shot(page, "scan-rejected", db_url)

    page.keyboard.type(widget)  # the same unit again at A1: it is already in work
    page.keyboard.press("Enter")
    expect(answer).to_contain_text("Not allowed from this stage")


def test_scan_station_speaks_the_stations_language(page, history, web_users, db_url):
    Station.update(language="id").where(Station.code == "A2").execute()
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a2")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    page.keyboard.type("XYZ")
    page.keyboard.press("Enter")
    expect(page.locator("#answer")).to_contain_text("Ditolak")
    expect(page.locator("#answer")).to_contain_text("Label tidak dikenali")
    page.keyboard.type(history["widgets"][1])
    page.keyboard.press("Enter")
    expect(page.locator("#answer")).to_contain_text("Diterima")
    expect(page.locator("#answer")).to_contain_text("Dipindah")
    shot(page, "scan-bahasa", db_url)


def test_stock_page_changes_without_reload(page, history, web_users, db_url):
    plant = history["plant"]
    (widget,) = plant.items("WIDGET")
    sign_in(page, web_users["supervisor"])
    page.goto("/stock")
    wip = page.locator(".card.stage[data-stage='wip'] [data-count]")
    before = int(wip.inner_text().replace(",", ""))
    page.evaluate("window.__noReload = 'still here'")
    plant.scan("sc-a1", widget, expected=201)  # through the API, not the page
    expect(wip).to_have_text(str(before + 1), timeout=LIVE_WITHIN_MS)
    assert page.evaluate("window.__noReload") == "still here"
    shot(page, "stock", db_url)


def test_rejected_and_stations_pages_are_live(page, history, web_users):
    plant = history["plant"]
    sign_in(page, web_users["supervisor"])
    page.goto("/rejected")
    rows = page.locator("#rejected-live tbody tr[data-reason]")
    n = rows.count()
    plant.scan("sc-a2", "9999-BAD", expected=422)
    expect(rows).to_have_count(n + 1, timeout=LIVE_WITHIN_MS)
    page.goto("/stations")
    wip = page.locator("[data-station='A1'] [data-wip]")
    before = int(wip.inner_text())
    (widget,) = plant.items("WIDGET")
    plant.scan("sc-a1", widget, expected=201)
    expect(wip).to_have_text(str(before + 1), timeout=LIVE_WITHIN_MS)


def test_operator_is_refused_a_supervisor_page(page, web_users, db_url, history):
    sign_in(page, web_users["operator"])
    response = page.goto("/schedule")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("nav")).not_to_contain_text("Schedule")
    shot(page, "forbidden", db_url)


def test_every_page_screenshot(page, history, web_users, db_url):
    """A tour of every page as admin: each loads without a console error; a picture each."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    shot(page, "login", db_url)
    sign_in(page, web_users["admin"])
    widget = history["widgets"][0]
    tour = [
        ("stock-full", "/stock"),
        ("items", "/items?product=WIDGET"),
        ("item", f"/items/{widget}"),
        ("schedule", "/schedule"),
        ("order", "/schedule/orders/WO-1"),
        ("stations", "/stations"),
        ("rejected", "/rejected"),
        ("supplies", "/supplies"),
        ("admin", "/admin"),
        ("admin-product", "/admin/products/WIDGET"),
        ("admin-user", "/admin/users/1"),
        ("scan-station", "/scan/sc-end"),
    ]
    for name, path in tour:
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        shot(page, name, db_url)
    page.goto("/admin/users/1")
    page.fill("input[name=name]", "tablet")
    page.click("text=Create token")
    expect(page.locator("#secret")).to_contain_text("kt_")
    shot(page, "admin-token-once", db_url)
    assert not errors, errors


def test_tablet_width(page, history, web_users, db_url):
    """768 wide: no sideways scrolling on the main pages."""
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, web_users["supervisor"])
    for path in ("/stock", "/schedule", "/stations", "/scan/sc-a1", f"/items/{history['steel']}"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 768, (path, width)
    page.goto("/stock")
    shot(page, "stock-768", db_url)
    page.goto("/scan/sc-a1")
    shot(page, "scan-768", db_url)
