"""The webhooks admin page in headless Chromium: an admin sees a subscription's delivery
state and its delivery log (a failed attempt with its HTTP status, then the deliveries),
replays from an event with the button (the API's own replay: the receiver gets those
events again), in English and Bahasa Indonesia; an operator may not see the page."""

from __future__ import annotations

from playwright.sync_api import expect

from server.dispatch import Dispatcher
from server.models import Event, Sink, User
from tests.support.receiver import Receiver
from tests.test_dispatch import FAST, _drain
from tests.test_scans import _in_stock
from tests.web.conftest import sign_in


def test_the_delivery_log_and_the_replay_button(page, plant, api, db, web_users, as_role):
    with Receiver(["fail"]) as rx:
        api.post(
            "/api/webhooks",
            {"name": "erp", "url": rx.url(), "types": ["scan.accepted"]},
            expected=201,
        )
        for _ in range(2):
            _in_stock(plant, "GLOVES")
        first, second = [e.id for e in Event.select().where(Event.type == "scan.accepted")]
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: rx.ids() == [first, second])

        sign_in(page, web_users["admin"])
        page.goto("/admin")
        page.click("text=Webhooks")
        row = page.locator('tr[data-webhook="erp"]')
        expect(row.locator("[data-cursor]")).to_have_text(str(second))
        expect(row.locator("[data-behind]")).to_have_text("0")
        expect(row).to_contain_text("Active")
        log = page.locator("table.delivery-log tbody tr")
        expect(log).to_have_count(3)  # newest first: two deliveries after the failure
        expect(log.nth(2).locator("[data-result]")).to_have_text("Failed")
        expect(log.nth(2).locator("[data-detail]")).to_have_text("HTTP 500")
        expect(log.nth(2)).to_contain_text(f"#{first} scan.accepted")
        expect(log.nth(0).locator("[data-result]")).to_have_text("Delivered")

        # replay from the first event: the cursor goes back, the receiver gets both again
        row.locator("input[name=from_event]").fill(str(first))
        row.locator("button", has_text="Replay").click()
        expect(page.locator(".flash, .flashes")).to_contain_text(
            f"Webhook erp replays from event {first}."
        )
        expect(row.locator("[data-behind]")).to_have_text("2")
        assert Sink.get(Sink.name == "erp").cursor == first - 1
        _drain(dispatcher, lambda: rx.ids() == [first, second, first, second])
        page.reload()
        expect(log).to_have_count(5)
        expect(row.locator("[data-behind]")).to_have_text("0")

        # a refused replay (no such event) is said, and changes nothing
        row.locator("input[name=from_event]").fill("999999")
        row.locator("button", has_text="Replay").click()
        expect(page.locator(".flash, .flashes")).to_contain_text("999999")
        assert Sink.get(Sink.name == "erp").cursor == second

        User.update(language="id").where(User.username == web_users["admin"]).execute()
        page.goto("/admin/webhooks?webhook=erp")
        expect(page.locator("#log h2")).to_have_text("Log pengiriman: erp")
        expect(log.nth(4).locator("[data-result]")).to_have_text("Gagal")
        expect(log.nth(0).locator("[data-result]")).to_have_text("Terkirim")
        expect(row.locator("button")).to_have_text("Kirim ulang")
        dispatcher.close()
    assert as_role("operator").get("/admin/webhooks").status_code == 403
    assert as_role("operator").post("/admin/webhooks/erp/replay", {}).status_code == 403
