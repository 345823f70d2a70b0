"""The andon rule's table, and the people page: who is where and hours by shift."""

from __future__ import annotations

import re

import pytest

from server.core import andon
from server.models import User
from tests.conftest import STATIONS
from tests.test_oee_labour import DAY, at, scan


@pytest.mark.parametrize(
    "given, colour",
    [
        ({"machine_down": True}, "red"),
        ({"rejected": True, "held": 3}, "red"),
        ({"held": 1}, "red"),  # a held unit at the station lights the stack light red
        ({"warned": True}, "amber"),
        ({"flagged": True}, "amber"),
        ({}, "green"),
        ({"answered": False}, "grey"),
        ({"active": False, "machine_down": True}, "grey"),
    ],
)
def test_andon_colour_rule(given, colour):
    assert andon.rule(**given) == colour


def test_people_page_hours_and_output_by_shift(plant, api, db, as_role):
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    plant.order("WO-1", "WIDGET", 5)
    units = plant.items("WIDGET", count=2)
    scan(db, "sc-a1", "CMD-OP-B-OPERATOR", at(6, 30))
    for u in units:
        scan(db, "sc-a1", u, at(7))
    scan(db, "sc-a1", "CMD-OUT", at(8))  # 1.5 h signed in
    html = (
        as_role("supervisor")
        .get(f"/people?shift=Early&day={DAY.isoformat()}")
        .get_data(as_text=True)
    )
    row = html[html.index('<tr data-operator="operator1">', html.index('id="by-shift"')) :]
    row = row[: row.index("</tr>")]
    cells = [c.split(">")[-1] for c in row.split("</td>")[:-1]]
    # stations, hours, scans, accepted, rejected, accepted per hour (2 / 1.5)
    assert cells[1:] == ["A1", "1.50", "2", "2", "0", "1.3"], cells


def test_oee_and_people_pages_show_each_station_its_site_shift(plant, api, db, as_role):
    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    api.post("/api/locations", {"code": "A2-EAST", "kind": "line", "site": "EAST"}, expected=201)
    api.call("PATCH", "/api/stations/A2", {"location": "A2-EAST"}, expected=200)
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    api.post(
        "/api/shifts",
        {
            "name": "Early",
            "start": "07:00",
            "end": "15:00",
            "site": "EAST",
            "breaks": ["10:00-10:15"],
        },
        expected=201,
    )
    browser = as_role("supervisor")
    html = browser.get(f"/oee?shift=Early&day={DAY.isoformat()}").get_data(as_text=True)
    # one choice for the name, with both sites' hours
    assert "Early (06:00–14:00; EAST 07:00–15:00)" in html
    rows = {
        code: html[html.index(f'<tr data-station="{code}">') :].split("</tr>")[0]
        for code in ("A1", "A2")
    }
    assert '<td data-input="site">EAST</td>' in rows["A2"]
    assert '<td data-input="breaks">10:00-10:15</td>' in rows["A2"]
    assert 'data-input="breaks-min">15.00<' in rows["A2"]
    assert '<td data-input="site">every site</td>' in rows["A1"]
    assert 'data-input="breaks-min">0.00<' in rows["A1"]
    people = browser.get(f"/people?shift=Early&day={DAY.isoformat()}").get_data(as_text=True)
    assert people.count('<h3 data-shift="Early">') == 2
    assert '<span data-site="EAST">EAST</span> 07:00–15:00' in people


def test_timeline_capacity_counts_each_line_its_site_shifts_less_breaks(plant, api, db, as_role):
    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    api.post("/api/locations", {"code": "A2-EAST", "kind": "line", "site": "EAST"}, expected=201)
    api.call("PATCH", "/api/stations/A2", {"location": "A2-EAST"}, expected=200)
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    api.post("/api/shifts", {"name": "Late", "start": "14:00", "end": "22:00"}, expected=201)
    api.post(
        "/api/shifts",
        {
            "name": "Early",
            "start": "07:00",
            "end": "15:00",
            "site": "EAST",
            "breaks": ["11:00-11:30"],
        },
        expected=201,
    )
    plant.order("WO-1", "WIDGET", 5, station="A1")
    plant.order("WO-2", "WIDGET", 5, station="A2")
    html = as_role("supervisor").get("/timeline").get_data(as_text=True)

    def capacity(line: str) -> tuple[float, int]:
        part = html[html.index(f'data-line="{line}"') :]
        cap = float(part.split('data-capacity="', 1)[1].split('"', 1)[0])
        days = int(part.split(" days × ", 1)[0].rsplit("(", 1)[1])
        return cap, days

    # A1 (the default site): Early and Late, 16 h a day; A2 (EAST): EAST's own Early less
    # its break (7.5 h) instead of the plant-wide one, and Late: 15.5 h a day
    cap, days = capacity("A1")
    assert cap == round(16 * days, 1)
    cap, days = capacity("A2")
    assert cap == round(15.5 * days, 1)


@pytest.mark.parametrize("lang, rejected", [("en", "Rejected"), ("id", "Ditolak")])
def test_floor_live_sends_only_the_tiles_changed_since_the_pages_version(
    plant, api, db, as_role, web_users, lang, rejected
):
    """/floor/live?since=<the version the page holds> lists every station in order, with
    markup for a tile that changed since that version and null for the others; a version
    not known here (or none) gets every tile."""
    User.update(language=lang).where(User.username == web_users["supervisor"]).execute()
    browser = as_role("supervisor")
    html = browser.get("/floor").get_data(as_text=True)
    version = re.search(r'id="floor-live"[^>]* data-version="([0-9a-f]+)"', html).group(1)
    codes = sorted(code for code, _n, _a in STATIONS)

    def live(since: str | None, stations: list[str] = codes) -> dict:
        resp = browser.get("/floor/live" + (f"?since={since}" if since is not None else ""))
        assert resp.status_code == 200 and resp.is_json
        assert resp.headers["Cache-Control"] == "no-store"
        body = resp.get_json()
        assert [code for code, _m in body["tiles"]] == stations
        return body

    same = live(version)
    assert same["version"] == version
    assert [m for _c, m in same["tiles"]] == [None] * len(codes)  # nothing resent

    plant.scan("sc-recv", "nonsense", expected=422)  # RECV's last answer: a refusal
    changed = live(version)
    assert changed["version"] != version
    sent = {code: m for code, m in changed["tiles"] if m is not None}
    assert list(sent) == ["RECV"]
    assert 'data-station="RECV" data-andon="red"' in sent["RECV"]
    assert f'<span class="pill bad">{rejected}</span>' in sent["RECV"]

    page = browser.get("/floor").get_data(as_text=True)
    for since in (None, "", "0123456789abcdef01"):  # a version this process never drew
        full = live(since)
        assert all(m and f'data-station="{c}"' in m for c, m in full["tiles"])
        # the same markup as the whole page's (RECV's age may have ticked since)
        assert all(m in page for c, m in full["tiles"] if c != "RECV")

    # a station added arrives in its place; the others are not sent again
    api.post(
        "/api/stations", {"code": "B1", "name": "Bay 1", "default_action": "move"}, expected=201
    )
    added = live(changed["version"], sorted([*codes, "B1"]))
    sent = {code for code, m in added["tiles"] if m is not None}
    assert sent <= {"B1", "RECV"} and "B1" in sent


@pytest.mark.parametrize("lang, none", [("en", "No stations yet."), ("id", "Belum ada stasiun.")])
def test_floor_live_of_a_plant_without_stations(db, as_role, web_users, lang, none):
    User.update(language=lang).where(User.username == web_users["supervisor"]).execute()
    browser = as_role("supervisor")
    assert none in browser.get("/floor").get_data(as_text=True)
    body = browser.get("/floor/live").get_json()
    assert body["tiles"] == [] and body["empty"] == f'<p class="muted">{none}</p>'
