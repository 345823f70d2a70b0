"""The scrap and hold page: scrap of the period as a Pareto by reason, product and station
(a chart and a table, biggest first), held items with release buttons; held stock apart in
GET /api/stock; in English and Bahasa Indonesia."""

from __future__ import annotations

import datetime as dt

from server.models import Item, LedgerEntry, User
from tests.test_scans import _in_stock


def _scrap(plant, code, reason=None, note=None):
    extra = {k: v for k, v in (("reason", reason), ("note", note)) if v}
    plant.scan("sc-line", code, as_="supervisor", expected=201, **extra)


def _week(plant):
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    for reason in ("DAMAGED", "DAMAGED", "DAMAGED", "SURFACE", None):
        _scrap(
            plant, _in_stock(plant, "STEEL", qty=2), reason=reason, note="x" if not reason else None
        )
    old = _in_stock(plant, "STEEL", qty=1)
    _scrap(plant, old, reason="SETUP")
    # a scrap of last month is outside the week
    LedgerEntry.update(received_at=dt.datetime(2026, 1, 1)).where(
        (LedgerEntry.why == "SETUP") & (LedgerEntry.to_stage == "scrapped")
    ).execute()


def test_pareto_by_reason_product_station(plant, as_role, db):
    _week(plant)
    b = as_role("supervisor")
    html = b.get("/scrap").get_data(as_text=True)
    assert "<svg" in html and 'class="chart"' in html
    keys = [line.split('"')[1] for line in html.split("data-key=")[1:]]
    assert keys == ["DAMAGED", "", "SURFACE"]  # most first; the note-only scrap has no key
    assert "SETUP" not in html.split('id="held"')[0]
    by_product = b.get("/scrap?by=product").get_data(as_text=True)
    assert 'data-key="STEEL"' in by_product and ">5<" in by_product
    by_station = b.get("/scrap?by=station&from=2026-01-01&to=2026-01-01").get_data(as_text=True)
    assert 'data-key="LINE"' in by_station and ">1<" in by_station
    assert b.get("/scrap?from=nonsense&by=nothing").status_code == 200
    assert as_role("operator").get("/scrap").status_code == 403


def test_held_items_listed_with_release_and_stock_apart(plant, api, as_role, db):
    steel = _in_stock(plant, "STEEL", qty=3)
    api.post(f"/api/items/{steel}/hold", {"reason": "QC_CHECK"}, as_="operator", expected=200)
    stock = api.get("/api/stock", as_="operator", expected=200).get_json()
    assert stock["held"] == [{"stage": "raw", "count": 1, "qty": 3}]
    b = as_role("supervisor")
    html = b.get("/scrap").get_data(as_text=True)
    assert f'data-item="{steel}"' in html and "QC_CHECK" in html
    resp = b.post(
        f"/items/{steel}/hold", data={"what": "release", "reason": "QC_OK", "back": "scrap"}
    )
    assert resp.headers["Location"].endswith("/scrap#held")
    assert not Item.get(Item.code == steel).held
    assert api.get("/api/stock", as_="operator", expected=200).get_json()["held"] == []


def test_scrap_page_in_bahasa(plant, as_role, db):
    _week(plant)
    User.update(language="id").where(User.role == "supervisor").execute()
    html = as_role("supervisor").get("/scrap").get_data(as_text=True)
    assert "Buangan dan tahanan" in html and "DAMAGED · Rusak" in html


def test_recall_hold_button_holds_the_lot(plant, as_role, client, db):
    steel = _in_stock(plant, "STEEL", qty=3, lot="R-1")
    other = _in_stock(plant, "STEEL", qty=3, lot="R-2")
    assert "Hold a lot" not in as_role("operator").get("/scrap").get_data(as_text=True)
    op = as_role("operator").post("/recall/hold", data={"product": "STEEL", "lot": "R-1"})
    assert op.status_code in (302, 403) and "/scrap" not in op.headers.get("Location", "")
    b = as_role("supervisor")
    html = b.get("/scrap").get_data(as_text=True)
    assert 'action="/recall/hold"' in html and '<option value="QC_CHECK">' in html
    no_csrf = client.post("/recall/hold", data={"product": "STEEL", "lot": "R-1"})
    assert no_csrf.status_code == 400 and not Item.get(Item.code == steel).held
    bad = b.post("/recall/hold", data={"product": "steel", "lot": "R-1", "reason": "QC_OK"})
    assert bad.headers["Location"].endswith("/scrap#recall")
    assert not Item.get(Item.code == steel).held
    resp = b.post("/recall/hold", data={"product": "steel", "lot": "R-1", "reason": "QC_CHECK"})
    assert resp.headers["Location"].endswith("/scrap#recall")
    assert Item.get(Item.code == steel).held_why == "QC_CHECK"
    assert not Item.get(Item.code == other).held
    html = b.get("/scrap").get_data(as_text=True)
    assert "Lot R-1 of STEEL: 1 held now, 0 already held" in html
    User.update(language="id").where(User.role == "supervisor").execute()
    b.post("/recall/hold", data={"product": "STEEL", "lot": "R-1", "reason": "QC_CHECK"})
    html = b.get("/scrap").get_data(as_text=True)
    assert "Tahan satu lot (penarikan)" in html
    assert "Lot R-1 dari STEEL: 0 ditahan sekarang, 1 sudah ditahan" in html
