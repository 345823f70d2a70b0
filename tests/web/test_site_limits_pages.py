"""The pages of a user limited to sites (issue 16, server/core/siteaccess.py): the floor,
stations, people, rejected scans, counts, items, an item and the print jobs show that
site's things only; another site's item or count is a 404 page."""

from __future__ import annotations

from tests.test_site_limits import two_sites  # noqa: F401 (the fixture)
from tests.web.conftest import Browser


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
    clerk = Browser(client)
    assert clerk.login(web_users["clerk"]).status_code == 302
    jobs = clerk.get("/labels/jobs").get_data(as_text=True)
    assert "p-sby" in jobs and "p-main" not in jobs
