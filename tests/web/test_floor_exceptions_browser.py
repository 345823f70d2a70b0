"""The floor exceptions a worker scans on the scan station page, in headless Chromium, in
English and Bahasa Indonesia: a bare-GTIN issue takes the earliest-expiring lot and the
answer names it, an expired lot answers `expired`, a rework at a rework station needs a
reason, and unused material goes back to stock by unissue. Each checks the answer the
worker sees and the ledger and the item."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from server.core.scans import ScanIn, apply_scan
from server.models import Item, LedgerEntry, Station, User
from tests.conftest import GTIN_BOLT, new_scan_id
from tests.web.conftest import scanning, sign_in

WORDS = {
    "en": {
        "ok": "Accepted",
        "rejected": "Rejected",
        "issued": "Issue: Bolt M6 lot B-SOON component → wip",
        "expired": "Expired - do not use",
        "no_reason": "Reason needed",
        "reworked": "Rework: Widget wip → wip",
        "unissued": "Unissue: Bolt M6 lot B-SOON wip → component",
        "repair": "REPAIR · Repairable defect",
    },
    "id": {
        "ok": "Diterima",
        "rejected": "Ditolak",
        "issued": "Bolt M6 · Lot B-SOON · Dikeluarkan → Dalam proses",
        "expired": "Kedaluwarsa - jangan dipakai",
        "no_reason": "Perlu alasan",
        "reworked": "Widget · Dikerjakan ulang → Dalam proses",
        "unissued": "Bolt M6 · Lot B-SOON · Dikembalikan ke stok → komponen",
        "repair": "REPAIR · Cacat yang dapat diperbaiki",
    },
}


def _receive_lots(db) -> None:
    """Bolt lots received ten days ago by their GS1 labels: the later-expiring lot first
    (FIFO would take it), then the one expiring in five days, and one expired since."""
    today = dt.date.today()
    for lot, days in (("B-LATE", 60), ("B-SOON", 5), ("B-OLD", -3)):
        label = f"]C101{GTIN_BOLT}17{today + dt.timedelta(days=days):%y%m%d}10{lot}\x1d3720"
        scan = ScanIn(scan_id=new_scan_id(), scanner_id="sc-recv", code=label)
        ago = dt.datetime.utcnow() - dt.timedelta(days=10) + dt.timedelta(minutes=len(lot))
        assert apply_scan(db, scan, now=ago).accepted


def _stations(plant, lang: str) -> None:
    for code, action, extra in [("RW", "rework", {"rework_to": "QA"}), ("RET", "unissue", {})]:
        body = {"code": code, "name": code, "default_action": action, **extra}
        plant.api.post("/api/stations", body, expected=201)
        plant.api.post("/api/scanners", {"id": f"sc-{code.lower()}", "station": code}, expected=201)
    Station.update(language=lang).execute()


def _row(scan_id=None, **where) -> LedgerEntry:
    query = LedgerEntry.select().order_by(LedgerEntry.id.desc())
    for name, value in where.items():
        query = query.where(getattr(LedgerEntry, name) == value)
    return query.get()


@pytest.mark.parametrize("lang", ["en", "id"])
def test_fefo_expired_rework_and_unissue_on_the_scan_page(page, plant, db, web_users, users, lang):
    words = WORDS[lang]
    _stations(plant, lang)
    _receive_lots(db)
    plant.order("WO-1", "WIDGET", 5)  # 20 bolts: a whole lot
    (unit,) = plant.items("WIDGET")
    plant.scan("sc-a1", unit, expected=201)
    User.update(language=lang).where(User.username == web_users["operator"]).execute()
    sign_in(page, web_users["operator"])

    # line side: a bare GTIN takes the lot expiring first, not the one received first
    page.goto("/scan/sc-line")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    scan = scanning(page)
    scan(f"]C101{GTIN_BOLT}", words["ok"], words["issued"])
    soon = Item.get(Item.lot == "B-SOON")
    assert (soon.stage, soon.order_id is not None) == ("wip", True)
    assert Item.get(Item.lot == "B-LATE").stage == "component"
    row = _row(action="issue", status="accepted")
    assert (row.item_id, row.from_stage, row.to_stage) == (soon.id, "component", "wip")

    # the expired lot scanned by its own label is refused, and stays where it was
    scan(f"]C101{GTIN_BOLT}10B-OLD", words["rejected"], words["expired"])
    old = Item.get(Item.lot == "B-OLD")
    assert (old.stage, old.order_id) == ("component", None)
    row = _row(reason="expired")
    assert (row.status, row.item_id, row.to_stage) == ("rejected", old.id, None)

    # unused bolts go back to stock with their lot; the order's issued figure falls
    page.goto("/scan/sc-ret")
    scan = scanning(page)
    scan(soon.code, words["ok"], words["unissued"])
    soon = Item.get_by_id(soon.id)
    assert (soon.stage, soon.lot, soon.order_id) == ("component", "B-SOON", None)
    issued = plant.api.get("/api/orders/WO-1").get_json()["materials"]
    assert {m["material"]: m["issued"] for m in issued}["BOLT"] == 0

    # rework: refused without a reason, then the reason label and the unit
    page.goto("/scan/sc-rw")
    scan = scanning(page)
    scan(unit, words["rejected"], words["no_reason"])
    assert (Item.get(Item.code == unit).station.code, _row(reason="reason_required").status) == (
        "A1",
        "rejected",
    )
    scan("CMD-WHY-REPAIR", words["ok"])
    scan(unit, words["ok"], words["reworked"])
    reworked = Item.get(Item.code == unit)
    assert (reworked.stage, reworked.station.code) == ("wip", "RW")
    row = _row(action="rework", status="accepted")
    assert (row.item_id, row.why) == (reworked.id, "REPAIR")

    # the item page's history names the rework's reason in the page's language
    page.goto(f"/items/{unit}")
    expect(page.locator('[data-why="REPAIR"]')).to_contain_text(words["repair"])


PARETO = {
    "en": {"title": "Scrap from", "top": "DAMAGED · Damaged", "release": "Release"},
    "id": {"title": "Buangan dari", "top": "DAMAGED · Rusak", "release": "Rilis"},
}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_scrap_pareto_shows_the_week_and_releases_a_held_part(page, plant, db, web_users, lang):
    """Scrap scanned with reasons this week and a part held by a QC fail, then the
    supervisor's scrap page in Chromium: the last seven days by default, the reasons most
    first in a chart and a table in the page's language, and the release button frees the
    held part."""
    words = PARETO[lang]
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    for reason in ("DAMAGED", "DAMAGED", "SURFACE"):
        (steel,) = plant.items("STEEL", qty=2, lot="L-P")
        plant.scan("sc-recv", steel, expected=201)
        plant.scan("sc-line", steel, reason=reason, as_="supervisor", expected=201)
    (held,) = plant.items("STEEL", qty=1, lot="L-H")
    plant.scan("sc-recv", held, expected=201)
    for code in ("CMD-QC-FAIL", "CMD-WHY-DIMENSION", held):
        plant.scan("sc-qa", code, expected=201)
    assert Item.get(Item.code == held).held
    User.update(language=lang).where(User.username == web_users["supervisor"]).execute()
    sign_in(page, web_users["supervisor"])

    page.goto("/scrap")
    today = dt.date.today()
    expect(page.locator("input[name=to]")).to_have_value(today.isoformat())
    expect(page.locator("input[name=from]")).to_have_value(
        (today - dt.timedelta(days=6)).isoformat()
    )
    pareto = page.locator("#pareto")
    expect(pareto).to_contain_text(words["title"])
    expect(pareto.locator("svg")).to_be_visible()
    rows = pareto.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-key", "DAMAGED")
    expect(rows.nth(0)).to_contain_text(words["top"])
    expect(rows.nth(1)).to_have_attribute("data-key", "SURFACE")

    held_row = page.locator(f'#held tr[data-item="{held}"]')
    expect(held_row).to_contain_text("DIMENSION")
    held_row.get_by_role("button", name=words["release"]).click()
    page.wait_for_load_state()
    expect(page.locator(f'#held tr[data-item="{held}"]')).to_have_count(0)
    assert Item.get(Item.code == held).held is False
    row = _row(action="release", status="accepted")
    assert (row.item_id, row.operator.username) == (
        Item.get(Item.code == held).id,
        web_users["supervisor"],
    )
