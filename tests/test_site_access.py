"""A user limited to sites (issue 16): the API's listings of sites, locations and stock
cover that user's sites only; a user of the whole plant sees everything."""

from __future__ import annotations

from server.core import siteaccess
from server.models import User
from tests.ingest.test_site_bridge import SCANNER, SITE, add_site_scanner


def _stock_plant(plant, api, sby_count: int = 3):
    """Two lots received at MAIN's RECV, `sby_count` at SURABAYA's dock."""
    add_site_scanner(api)
    main = plant.items("STEEL", count=2, qty=10)
    sby = plant.items("STEEL", count=sby_count, qty=7)
    for code in main:
        assert plant.scan("sc-recv", code)["status"] == "accepted"
    for code in sby:
        assert plant.scan(SCANNER, code)["status"] == "accepted"
    return main, sby


def _raw(stock: dict) -> tuple[int, float]:
    row = next(r for r in stock["by_stage"] if r["stage"] == "raw")
    return row["count"], row["qty"]


def test_a_user_limited_to_a_site_sees_its_stock_and_places_only(plant, api, users):
    _stock_plant(plant, api)
    supervisor = users["supervisor"][0]
    assert siteaccess.set_sites(supervisor, [SITE.lower()]) is not None
    assert User.get_by_id(supervisor.id).site_ids == [siteaccess.locations.site_by_code(SITE).id]

    # the whole plant: both sites
    whole = api.get("/api/stock", as_="admin").get_json()
    assert _raw(whole) == (5, 41)
    assert {r["station"] for r in whole["by_station"]} == {"RECV", "SBY-RECV"}
    sites = api.get("/api/sites", as_="admin").get_json()["sites"]
    assert [s["code"] for s in sites] == ["MAIN", SITE]

    # the Surabaya supervisor
    mine = api.get("/api/stock", as_="supervisor").get_json()
    assert _raw(mine) == (3, 21)
    assert [r["station"] for r in mine["by_station"]] == ["SBY-RECV"]
    assert [(r["sku"], r["stage"], r["count"]) for r in mine["by_product"]] == [("STEEL", "raw", 3)]
    assert [loc["code"] for loc in mine["places"]["locations"]] == ["SBY-DOCK"]
    assert mine["places"]["locations"][0]["total_count"] == 3
    assert mine["places"]["unplaced"] is None
    assert [s["code"] for s in api.get("/api/sites", as_="supervisor").get_json()["sites"]] == [
        SITE
    ]
    locs = api.get("/api/locations", as_="supervisor").get_json()["locations"]
    assert [loc["code"] for loc in locs] == ["SBY-DOCK"]

    # another site's places are unknown to the limited user, as if they did not exist
    for path, reason in [
        ("/api/stock?site=MAIN", "unknown_site"),
        ("/api/stock?location=RECV", "unknown_location"),
        ("/api/locations?site=MAIN", "unknown_site"),
        ("/api/locations/RECV", "unknown_location"),
    ]:
        body = api.get(path, as_="supervisor", expected=404).get_json()
        assert body["error"] == reason, (path, body)
    assert api.get("/api/locations/RECV", as_="admin").status_code == 200
    assert api.get(f"/api/stock?site={SITE}", as_="supervisor").status_code == 200

    # none: every site again
    assert siteaccess.set_sites(supervisor, []) is None
    assert _raw(api.get("/api/stock", as_="supervisor").get_json()) == (5, 41)


def test_limiting_to_a_site_that_does_not_exist_is_refused(plant, users):
    supervisor = users["supervisor"][0]
    try:
        siteaccess.set_sites(supervisor, ["ATLANTIS"])
    except siteaccess.Invalid as exc:
        assert exc.code == "unknown_site"
    else:
        raise AssertionError("an unknown site was stored")
    assert User.get_by_id(supervisor.id).site_ids is None


def test_a_limited_users_pages_of_places_hold_its_sites_only(plant, api, users):
    """Paging the places (`limit`, `after`) of the whole plant as a user limited to
    SURABAYA walks its places only, each once; a cursor of another site's place gives
    nothing of that site."""
    _stock_plant(plant, api)
    for code in ("SBY-A", "SBY-B"):
        api.post("/api/locations", {"code": code, "kind": "area", "site": SITE}, expected=201)
        api.post("/api/locations", {"code": f"{code}1", "kind": "bin", "parent": code},
                 expected=201)  # fmt: skip
    api.post("/api/locations", {"code": "M-A", "kind": "area"}, expected=201)
    supervisor = users["supervisor"][0]
    siteaccess.set_sites(supervisor, [SITE])

    def walk(role: str, qs: str = "") -> list[str]:
        codes, after = [], None
        while True:
            query = f"/api/stock?limit=2{qs}" + (f"&after={after}" if after else "")
            places = api.get(query, as_=role, expected=200).get_json()["places"]
            codes += [r["code"] for r in places["locations"]]
            if not places["more"]:
                return codes
            after = places["next"]

    mine = ["SBY-A", "SBY-A1", "SBY-B", "SBY-B1", "SBY-DOCK"]
    assert walk("supervisor") == mine
    assert walk("supervisor", f"&site={SITE}") == mine
    every = walk("admin")
    assert set(mine) < set(every) and {"RECV", "M-A"} <= set(every)
    assert len(every) == len(set(every))
    # the admin's cursor after a place of MAIN: still only SURABAYA's places for this user
    first = api.get("/api/stock?limit=1", as_="admin", expected=200).get_json()["places"]
    assert first["locations"][0]["code"] not in mine
    rest = api.get(f"/api/stock?limit=50&after={first['next']}", as_="supervisor",
                   expected=200).get_json()["places"]  # fmt: skip
    assert {r["code"] for r in rest["locations"]} <= set(mine)
    assert api.get(f"/api/stock?site=MAIN&limit=1&after={first['next']}", as_="supervisor",
                   expected=404).get_json()["error"] == "unknown_site"  # fmt: skip
