"""The notification area in headless Chromium: a supervisor subscribes on the alerts page,
rejected scans become unread alerts whose count the header of a live page shows without a
reload, the alerts page lists them and "Mark all read" clears them for that user only, in
English and Bahasa Indonesia."""

from __future__ import annotations

from playwright.sync_api import expect

from server.core import alerts
from server.dispatch import Dispatcher, DispatchSettings
from server.models import User
from tests.web.conftest import sign_in


def test_unread_alerts_in_the_header_and_marked_read(page, plant, db, users, web_users):
    sign_in(page, web_users["supervisor"])
    page.goto("/alerts")
    page.get_by_label("Scan rejected").check()
    page.fill("input[name=address]", "sup@plant.example")
    page.click("#subscription button[type=submit]")
    expect(page.locator(".flash")).to_have_text("Alert subscription saved.")
    boss = User.get(User.username == web_users["supervisor"])
    assert boss.email == "sup@plant.example"
    # the admin subscribes too: marking read is per user
    alerts.subscribe(users["admin"][0], ["scan.rejected"], now=boss.created_at)

    page.goto("/stations")
    count = page.locator("#alerts-link [data-unread]")
    expect(count).to_have_text("0")
    dispatcher = Dispatcher(db, DispatchSettings(flags=False))
    for _ in range(3):
        plant.scan("sc-recv", "nonsense", expected=422)
    dispatcher.run_once()
    expect(count).to_have_text("3", timeout=8000)  # live, without a reload

    page.click("#alerts-link")
    items = page.locator("#unread li.unread")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("Scan rejected: sc-recv")
    page.click("#mark-read")
    expect(page.locator("#unread")).to_contain_text("No unread alerts.")
    expect(count).to_have_text("0")
    expect(page.locator("#unread li[data-alert]")).to_have_count(3)  # listed as read
    assert alerts.unread_count(boss.id) == 0
    assert alerts.unread_count(users["admin"][0].id) == 3

    User.update(language="id").where(User.id == boss.id).execute()
    plant.scan("sc-recv", "nonsense", expected=422)
    dispatcher.run_once()
    page.goto("/alerts")
    expect(page.locator("h1")).to_have_text("Peringatan")
    expect(page.locator("#unread li.unread")).to_contain_text("Pindaian ditolak: sc-recv")
    expect(count).to_have_text("1")
    expect(page.locator("#mark-read")).to_have_text("Tandai semua sudah dibaca")
    dispatcher.close()
