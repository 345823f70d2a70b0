"""The locations admin page: an admin adds a site, an area and a bin with a rule, edits and
deactivates it through the forms (each the API's own operation), in English and Bahasa
Indonesia; refusals come back as flashed messages, and an operator may not see it."""

from __future__ import annotations

from server.core import locations
from server.models import User


def test_an_admin_builds_the_tree_on_the_page(as_role, plant, web_users):
    b = as_role("admin")
    page = b.get("/admin/locations").get_data(as_text=True)
    assert "Sites and locations" in page and 'data-location="LINE"' in page
    b.post("/admin/sites", {"code": "P2", "name": "Plant 2"})
    b.post("/admin/locations", {"code": "STORE", "kind": "area", "name": "Main store"})
    resp = b.post(
        "/admin/locations",
        {"code": "a-01-03", "kind": "bin", "parent": "STORE", "k_raw": "on"},
        follow_redirects=True,
    )
    assert "Location A-01-03 created." in resp.get_data(as_text=True)
    loc = locations.by_code("A-01-03")
    assert (loc.kind, loc.allow) == ("bin", {"kinds": ["raw"]})
    refused = b.post(
        "/admin/locations", {"code": "B-9", "kind": "bin"}, follow_redirects=True
    ).get_data(as_text=True)
    assert locations.by_code("B-9") is None and "error" in refused
    page = b.get("/admin/locations").get_data(as_text=True)
    assert page.index('data-location="STORE"') < page.index('data-location="A-01-03"')
    assert "LOC-A-01-03" in page
    # unticked "active" deactivates; the rule is lifted with the boxes cleared
    b.post("/admin/locations/A-01-03", {"name": "Bin 3", "parent": "STORE"})
    loc = locations.by_code("A-01-03")
    assert (loc.active, loc.name, loc.allow) == (False, "Bin 3", None)
    assert b.get("/admin/locations/NOPE").status_code == 405
    assert b.post("/admin/locations/NOPE", {}).status_code == 404
    # the same page in Bahasa Indonesia
    User.update(language="id").where(User.username == web_users["admin"]).execute()
    page = b.get("/admin/locations").get_data(as_text=True)
    assert "Situs dan lokasi" in page and "Tambah lokasi" in page and "sisi lini" in page
    assert as_role("operator").get("/admin/locations").status_code == 403
