"""The pages of a user limited to sites (issue 16, server/core/siteaccess.py): the floor,
stations, people, rejected scans, counts, items, an item, the print jobs, the scrap
Pareto, supplies, the timeline and OEE show that site's things only; another site's item
or count is a 404 page, another site's order is not moved on the timeline."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from server.models import ProductionOrder
from tests.test_site_limits import two_sites  # noqa: F401 (the fixture)
from tests.web.conftest import Browser, sign_in


def test_a_limited_users_pages_show_its_sites_things(
    two_sites,  # noqa: F811
    client,
    web_users,
    api,
):
    main, sby = two_sites["main"][0], two_sites["sby"][0]
    for code in (main, sby):  # one held item at each site, on the scrap page
        api.post(f"/api/items/{code}/hold", {"reason": "QC_CHECK"}, expected=200)
    checks = [
        ("/floor", 'data-station="SBY-RECV"', 'data-station="A2"'),
        ("/stations", "sc-sby-recv", "sc-recv<"),
        ("/people", "SBY-RECV", "clerk1"),
        ("/rejected", "<small>sc-sby-recv</small>", "<small>sc-recv</small>"),
        ("/counts", "SBY-DOCK", ">RECV<"),
        ("/items", sby, main),
        ("/scrap", sby, main),
        ("/scan", "/scan/sc-sby-recv", "/scan/sc-recv"),
        ("/scrap?by=station", 'data-key="SBY-RECV"', 'data-key="RECV"'),  # the Pareto
        ("/supplies", 'data-lot="G-SBY"', 'data-lot="G-MAIN"'),
        ("/supplies/live", 'data-lot="G-SBY"', 'data-lot="G-MAIN"'),
        ("/timeline", 'data-order="WO-SBY"', 'data-order="WO-MAIN"'),
        ("/timeline/live", 'data-order="WO-SBY"', 'data-order="WO-MAIN"'),
        ("/oee?shift=Day", 'data-station="SBY-RECV"', 'data-station="RECV"'),
        ("/oee?shift=Day", "SURABAYA 14:00", "MAIN 14:00"),  # the shift picker
    ]
    admin = Browser(client)
    assert admin.login(web_users["admin"]).status_code == 302
    for path, shown, hidden in checks:  # the whole plant shows both
        html = admin.get(path).get_data(as_text=True)
        assert shown in html and hidden in html, (path, shown, hidden)
    assert admin.get(f"/items/{main}").status_code == 200
    assert admin.get(f"/scan/items/{main}").status_code == 200

    b = Browser(client)
    assert b.login(web_users["supervisor"]).status_code == 302
    for path, shown, hidden in checks:
        html = b.get(path).get_data(as_text=True)
        assert shown in html and hidden not in html, (path, shown, hidden)
    assert b.get(f"/items/{main}").status_code == 404
    assert b.get(f"/items/{sby}").status_code == 200
    resp = b.get(f"/scan/items/{main}")  # the scan station's item answer
    assert resp.status_code == 404 and resp.get_json()["error"] == "unknown_item"
    assert b.get(f"/scan/items/{sby}").status_code == 200
    assert b.get(f"/counts/{two_sites['counts']['MAIN']}").status_code == 404
    assert b.get(f"/counts/{two_sites['counts']['SURABAYA']}").status_code == 200
    assert b.get(f"/find?code={main}").status_code == 404
    assert b.get(f"/find?code={sby}").status_code == 302
    assert b.get("/scan/sc-recv").status_code == 404  # another site's scanner
    assert b.get("/scan/sc-sby-recv").status_code == 200
    # the timeline's drag: another site's order is not moved (as if it did not exist)
    due = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    days = {"start": dt.date.today().isoformat(), "due": due}
    resp = b.client.post("/timeline/orders/WO-MAIN", json=days, headers={"X-CSRFToken": b.token})
    assert resp.status_code == 404 and resp.get_json()["code"] == "not_found", resp.get_json()
    assert ProductionOrder.get(ProductionOrder.number == "WO-MAIN").due.isoformat() != due
    resp = b.client.post("/timeline/orders/WO-SBY", json=days, headers={"X-CSRFToken": b.token})
    assert resp.status_code == 200 and resp.get_json()["ok"], resp.get_json()
    assert ProductionOrder.get(ProductionOrder.number == "WO-SBY").due.isoformat() == due
    clerk = Browser(client)
    assert clerk.login(web_users["clerk"]).status_code == 302
    jobs = clerk.get("/labels/jobs").get_data(as_text=True)
    assert "p-sby" in jobs and "p-main" not in jobs


def test_a_limited_supervisors_pages_in_a_browser(two_sites, plant, page, web_users):  # noqa: F811
    """Headless Chromium: the Surabaya supervisor's timeline, OEE, supplies and scrap
    Pareto show Surabaya's things; a recall hold from the scrap page holds Surabaya's item
    of a lot received at both sites and says the other was not held."""
    (at_main,) = plant.items("STEEL", qty=3, lot="L-R")
    (at_sby,) = plant.items("STEEL", qty=3, lot="L-R")
    plant.scan("sc-recv", at_main, expected=201)
    plant.scan("sc-sby-recv", at_sby, expected=201)
    sign_in(page, web_users["supervisor"])
    for path, shown, hidden in [
        ("/timeline", '[data-order="WO-SBY"]', '[data-order="WO-MAIN"]'),
        ("/oee?shift=Day", 'tr[data-station="SBY-RECV"]', 'tr[data-station="RECV"]'),
        ("/supplies", 'tr[data-lot="G-SBY"]', 'tr[data-lot="G-MAIN"]'),
        ("/scrap?by=station", 'tr[data-key="SBY-RECV"]', 'tr[data-key="RECV"]'),
    ]:
        page.goto(path)
        expect(page.locator(shown).first).to_be_visible()
        expect(page.locator(hidden)).to_have_count(0)

    page.goto("/scrap")
    form = page.locator("#recall form").first
    form.locator('[name="product"]').fill("STEEL")
    form.locator('[name="lot"]').fill("L-R")
    form.locator('[name="reason"]').select_option("QC_CHECK")
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    body = page.locator("body")
    expect(body).to_contain_text("1 held now")
    expect(body).to_contain_text(f"at sites outside yours and were not held: {at_main}")
    assert plant.api.get(f"/api/items/{at_main}").get_json()["status"] == "ok"
    assert plant.api.get(f"/api/items/{at_sby}").get_json()["status"] == "held"
