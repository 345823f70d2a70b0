"""An admin limits a supervisor to one site on the user's page (headless Chromium); the
supervisor's stock page then shows that site's stations and places only."""

from __future__ import annotations

from playwright.sync_api import expect

from server.core import locations, siteaccess
from server.models import User
from tests.ingest.test_site_bridge import SITE
from tests.test_site_access import _stock_plant
from tests.web.conftest import sign_in


def test_an_admin_limits_a_supervisor_to_a_site(page, plant, api, web_users, users):
    _stock_plant(plant, api)
    supervisor = users["supervisor"][0]

    sign_in(page, web_users["admin"])
    page.goto("/stock")  # the whole plant
    expect(page.locator('#places tr[data-place="RECV"]')).to_have_count(1)
    expect(page.locator('#places tr[data-place="SBY-DOCK"]')).to_have_count(1)
    page.goto(f"/admin/users/{supervisor.id}")
    sites = page.locator("[data-user-sites]")
    expect(sites).to_contain_text("None ticked: every site")
    sites.get_by_label(SITE, exact=False).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").first.click()
    expect(page.locator("body")).to_contain_text(f"User {supervisor.username} saved.")
    expect(page.locator("[data-user-sites]").get_by_label(SITE, exact=False)).to_be_checked()
    expect(page.locator("[data-user-sites]").get_by_label("MAIN", exact=False)).not_to_be_checked()
    assert User.get_by_id(supervisor.id).site_ids is not None

    page.goto("about:blank")  # no poll of the page before in flight (its cookie)
    page.context.clear_cookies()
    sign_in(page, web_users["supervisor"])
    page.goto("/stock")
    body = page.locator("main")
    expect(body).to_contain_text("SBY-RECV")
    expect(page.locator('#places tr[data-place="SBY-DOCK"]')).to_have_count(1)
    expect(page.locator('#places tr[data-place="RECV"]')).to_have_count(0)
    expect(body.get_by_role("link", name="RECV", exact=True)).to_have_count(0)
    assert page.goto("/stock?site=MAIN").status == 404  # unknown to this user

    # the admin unticks it: every site again
    page.goto("about:blank")  # no poll of the page before in flight (its cookie)
    page.context.clear_cookies()
    sign_in(page, web_users["admin"])
    page.goto(f"/admin/users/{supervisor.id}")
    page.locator("[data-user-sites]").get_by_label(SITE, exact=False).uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").first.click()
    expect(page.locator("body")).to_contain_text(f"User {supervisor.username} saved.")
    assert User.get_by_id(supervisor.id).site_ids is None


def test_an_admins_stored_sites_are_ticked_and_kept_on_save(page, plant, api, web_users, users):
    """A limit stored on an admin is ignored (siteaccess.site_ids), but the user page still
    shows it ticked, so saving the page keeps it rather than wiping it."""
    _stock_plant(plant, api)
    admin = users["admin"][0]
    siteaccess.set_sites(admin, [SITE])

    sign_in(page, web_users["admin"])
    page.goto(f"/admin/users/{admin.id}")
    sites = page.locator("[data-user-sites]")
    expect(sites.get_by_label(SITE, exact=False)).to_be_checked()
    expect(sites.get_by_label("MAIN", exact=False)).not_to_be_checked()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").first.click()
    expect(page.locator("body")).to_contain_text(f"User {admin.username} saved.")
    assert User.get_by_id(admin.id).site_ids == [locations.site_by_code(SITE).id]
