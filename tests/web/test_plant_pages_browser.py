"""Issue #17's pages in headless Chromium, in English and Bahasa Indonesia: a machine goes
down by a `CMD-DOWN-<reason>` scan and the plant floor tile shows it down with its reason
and a red andon without a reload, then running again; an order dragged on the timeline
changes its dates, a refused drag (start after due) shows the refusal and changes nothing,
and the date fields do the same without a pointer; the OEE page shows a shift's inputs and
the hand-computed figures."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from server.core import machines
from server.models import Machine, ProductionOrder, User
from tests.test_oee_labour import DAY, at, scan
from tests.web.conftest import shot, sign_in

WORDS = {
    "en": {
        "down": "down",
        "running": "running",
        "breakdown": "BREAKDOWN · Machine breakdown",
        "moved": "Order WO-1",
        "refused": "Order WO-1 not moved",
        "rejected": "Rejected",
    },
    "id": {
        "down": "berhenti",
        "running": "berjalan",
        "breakdown": "BREAKDOWN · Mesin rusak",
        "moved": "Pesanan WO-1",
        "refused": "Pesanan WO-1 tidak dipindah",
        "rejected": "Ditolak",
    },
}


def _as_supervisor(page, web_users, lang: str) -> None:
    User.update(language=lang).where(User.username == web_users["supervisor"]).execute()
    sign_in(page, web_users["supervisor"])


@pytest.mark.parametrize("lang", ["en", "id"])
def test_a_machine_down_and_up_on_the_floor_page(page, plant, api, db, db_url, web_users, lang):
    words = WORDS[lang]
    api.post(
        "/api/machines",
        {"code": "PRESS1", "name": "Press 1", "station": "A1", "rate_per_hour": 60},
        expected=201,
    )
    plant.order("WO-1", "WIDGET", 4, station="A1")
    _as_supervisor(page, web_users, lang)
    page.goto("/floor")
    page.evaluate("window.__noReload = 'still here'")
    tile = page.locator('.tile[data-station="A1"]')
    expect(tile.locator('[data-machine="PRESS1"]')).to_contain_text(words["running"])
    expect(tile.locator("[data-order]")).to_contain_text("WO-1")
    expect(tile).to_have_attribute("data-andon", "grey")  # nothing scanned there yet

    plant.scan("sc-a1", "CMD-OP-B-OPERATOR")
    plant.scan("sc-a1", "CMD-DOWN-BREAKDOWN")
    expect(tile).to_have_attribute("data-machine-state", "down")
    expect(tile.locator('[data-machine="PRESS1"]')).to_contain_text(words["down"])
    expect(tile.locator(".down-reason")).to_have_text(words["breakdown"])
    expect(tile).to_have_attribute("data-andon", "red")
    expect(tile.locator("[data-operator]")).to_have_text("operator1")
    shot(page, f"floor-down-{lang}", db_url)

    (unit,) = plant.items("WIDGET")
    plant.scan("sc-a1", unit)  # started while down: accepted with the machine_down warning
    expect(tile.locator("[data-wip]")).to_contain_text("1")
    plant.scan("sc-a1", "CMD-UP")
    expect(tile).to_have_attribute("data-machine-state", "running")
    expect(tile.locator('[data-machine="PRESS1"]')).to_contain_text(words["running"])
    expect(tile.locator(".down-reason")).to_have_count(0)
    expect(tile).to_have_attribute("data-andon", "green")
    assert page.evaluate("window.__noReload") == "still here"
    assert Machine.get(Machine.code == "PRESS1").state == "running"


@pytest.mark.parametrize("lang", ["en", "id"])
def test_the_floor_page_gets_only_the_changed_tile(page, plant, db_url, web_users, lang):
    """A refusal at RECV: its tile arrives and replaces the one shown, without a reload;
    the live answers carry no markup for the other stations, and their tiles on the page
    are the very elements first drawn."""
    _as_supervisor(page, web_users, lang)
    page.goto("/floor")
    page.evaluate("window.__noReload = 'still here'")
    page.evaluate("document.querySelectorAll('.tile').forEach(t => { t.__first = true; })")
    tile = page.locator('.tile[data-station="RECV"]')
    expect(tile).to_have_attribute("data-andon", "grey")
    with page.expect_response(lambda r: "/floor/live" in r.url) as quiet:
        pass
    assert [m for _c, m in quiet.value.json()["tiles"]] == [None] * 8  # nothing changed

    plant.scan("sc-recv", "nonsense", expected=422)
    expect(tile).to_have_attribute("data-andon", "red")
    expect(tile.locator("[data-last]")).to_contain_text(WORDS[lang]["rejected"])
    with page.expect_response(lambda r: "/floor/live" in r.url) as later:
        pass
    assert {c for c, m in later.value.json()["tiles"] if m is not None} <= {"RECV"}
    first = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.tile')]"
        ".map(t => [t.dataset.station, t.__first === true]))"
    )
    assert first == {code: code != "RECV" for code in first} and len(first) == 8
    assert page.evaluate("window.__noReload") == "still here"


def _drag(page, handle, dx: float) -> None:
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 6):
        page.mouse.move(x + dx * i / 5, y)
    page.mouse.up()


def _day_px(page) -> float:
    track = page.locator(".gantt-track").first.bounding_box()
    days = int(page.locator("#timeline").get_attribute("data-days"))
    return track["width"] / days


@pytest.mark.parametrize("lang", ["en", "id"])
def test_drag_an_order_on_the_timeline(page, plant, db_url, web_users, lang):
    words = WORDS[lang]
    plant.order("WO-1", "WIDGET", 4, station="A1")
    before = ProductionOrder.get(ProductionOrder.number == "WO-1")
    _as_supervisor(page, web_users, lang)
    page.goto("/timeline")
    bar = page.locator('.gantt-bar[data-order="WO-1"]')
    status = page.locator("#timeline-status")

    _drag(page, bar.locator(".gantt-label"), 2 * _day_px(page))
    expect(status).to_have_attribute("data-state", "moved")
    expect(status).to_contain_text(words["moved"])
    after = ProductionOrder.get(ProductionOrder.number == "WO-1")
    assert (after.start, after.due) == (
        before.start + dt.timedelta(days=2),
        before.due + dt.timedelta(days=2),
    )
    expect(bar).to_have_attribute("data-start", after.start.isoformat())
    drawn = page.locator("#timeline").get_attribute("data-updated")
    shot(page, f"timeline-{lang}", db_url)

    # the start grip dragged past the due day: refused by the planning checks, unchanged
    span = (after.due - after.start).days
    _drag(page, bar.locator('[data-edge="start"]'), (span + 3) * _day_px(page))
    expect(status).to_have_attribute("data-state", "refused")
    expect(status).to_contain_text(words["refused"])
    again = ProductionOrder.get(ProductionOrder.number == "WO-1")
    assert (again.start, again.due) == (after.start, after.due)
    # the timeline is drawn again after the answer: wait for it before typing
    expect(page.locator("#timeline")).not_to_have_attribute("data-updated", drawn or "")

    # without a pointer: the row's date fields and Move
    row = page.locator('.gantt-row[data-order="WO-1"]')
    new_due = after.due + dt.timedelta(days=4)
    row.locator("input[name=due]").fill(new_due.isoformat())
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator("#timeline-status")).to_be_hidden()  # a fresh page
    expect(page.locator("p.flash:not(#timeline-status)")).to_contain_text(words["moved"])
    assert ProductionOrder.get(ProductionOrder.number == "WO-1").due == new_due


words_every_site = {"en": "every site", "id": "semua situs"}
words_in_break = {
    "en": "Downtime in breaks, not counted: 15.00 min",
    "id": "Waktu henti saat istirahat, tidak dihitung: 15.00 menit",
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_oee_page_shows_the_inputs_of_a_shift(page, plant, api, db, db_url, users, web_users, lang):
    api.post(
        "/api/shifts",
        {"name": "Early", "start": "06:00", "end": "14:00", "breaks": ["09:45-10:15"]},
        expected=201,
    )
    for code, rate in (("PRESS1", 60), ("PRESS2", 30)):
        api.post(
            "/api/machines",
            {"code": code, "name": code, "station": "A2", "rate_per_hour": rate},
            expected=201,
        )
    plant.order("WO-1", "WIDGET", 20)
    units = plant.items("WIDGET", count=6)
    for u in units:
        scan(db, "sc-a1", u, at(7))
        scan(db, "sc-a2", u, at(7, 30))
    scan(db, "sc-a2", "CMD-DOWN-BREAKDOWN", at(9))
    machines.set_state(
        Machine.get(Machine.code == "PRESS2"), "down", "NO_MATERIAL", now=at(9, 30), source="api"
    )
    scan(db, "sc-a2", "CMD-UP", at(10))
    scan(db, "sc-a2", "CMD-ACT-SCRAP", at(11))
    scan(db, "sc-a2", units[0], at(11, 1), reason="DAMAGED", user_id=users["supervisor"][0].id)

    _as_supervisor(page, web_users, lang)
    page.goto(f"/oee?shift=Early&day={DAY.isoformat()}")
    row = page.locator('table.oee tr[data-station="A2"]')
    # by hand: the shift 06:00-14:00 = 480 min less the 09:45-10:15 break: planned 450;
    # down 09:00-10:00 (both machines, counted once) = 60, 15 of it in the break: 45;
    # run 405; rate the slower press 30/h; ideal 405/60 x 30 = 202.5 units; 6 made,
    # 1 scrapped: good 5
    expected = {
        "site": words_every_site[lang],
        "breaks": "09:45-10:15",
        "shift": "480.00",
        "breaks-min": "30.00",
        "planned": "450.00",
        "downtime": "45.00",
        "run": "405.00",
        "rate": "30",
        "ideal": "202.50",
        "good": "5",
        "scrap": "1",
    }
    for key, text in expected.items():
        expect(row.locator(f'[data-input="{key}"]')).to_have_text(text)
    figures = {
        "availability": f"{405 / 450 * 100:.1f}%",  # 90.0%
        "performance": f"{6 / 202.5 * 100:.1f}%",  # 3.0%
        "quality": f"{5 / 6 * 100:.1f}%",  # 83.3%
        "oee": f"{round(0.9 * 0.0296 * 0.8333, 4) * 100:.1f}%",  # 2.2%
    }
    for key, text in figures.items():
        expect(row.locator(f'[data-figure="{key}"]')).to_have_text(text)
    chart = page.locator('#oee-chart svg g[data-station="A2"]')
    expect(chart.locator('rect[data-part="availability"]')).to_have_count(1)
    expect(page.locator("#oee-inputs")).to_contain_text("BREAKDOWN")
    expect(page.locator("#oee-inputs")).to_contain_text(words_in_break[lang])
    shot(page, f"oee-{lang}", db_url)
