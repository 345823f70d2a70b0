"""Shifts per site and planned breaks (issue 17): the same name on two sites, a station's
shift found through its line side's site, OEE's planned time less breaks with the downtime
inside a break not counted, labour per site's window, the CSV import with site and breaks."""

from __future__ import annotations

import datetime as dt

import pytest

from server.core import machines
from server.models import Machine
from tests.test_oee_labour import DAY, at, scan


@pytest.fixture
def two_sites(plant, api, db):
    """A2 stands at site EAST (its line side moved there); A1 and QA stay at the default
    site. A plant-wide Early 06:00-14:00 and EAST's own Early 07:00-15:00 with breaks."""
    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    api.post("/api/locations", {"code": "A2-EAST", "kind": "line", "site": "EAST"}, expected=201)
    api.call("PATCH", "/api/stations/A2", {"location": "A2-EAST"}, expected=200)
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    east = api.post(
        "/api/shifts",
        {
            "name": "Early",
            "start": "07:00",
            "end": "15:00",
            "site": "EAST",
            "breaks": ["12:00-12:30", "10:00-10:15"],
        },
        expected=201,
    ).get_json()
    assert east == {
        "name": "Early",
        "site": "EAST",
        "start": "07:00",
        "end": "15:00",
        "hours": 8.0,
        "breaks": ["10:00-10:15", "12:00-12:30"],  # in order
        "break_minutes": 45,
        "active": True,
    }
    for code, rate in (("PRESS1", 60), ("PRESS2", 30)):
        api.post(
            "/api/machines",
            {"code": code, "name": code, "station": "A2", "rate_per_hour": rate},
            expected=201,
        )
    plant.order("WO-1", "WIDGET", 20)
    return plant


def test_a_name_is_unique_per_site(two_sites, api):
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=409)
    dup = {"name": "Early", "start": "08:00", "end": "16:00", "site": "EAST"}
    assert api.post("/api/shifts", dup, expected=409).get_json()["error"] == "exists"
    nope = {"name": "Late", "start": "14:00", "end": "22:00", "site": "NOPE"}
    assert api.post("/api/shifts", nope, expected=404).get_json()["error"] == "unknown_site"
    listed = api.get("/api/shifts", as_="operator").get_json()["shifts"]
    assert [(s["name"], s["site"], s["start"]) for s in listed] == [
        ("Early", None, "06:00"),
        ("Early", "EAST", "07:00"),
    ]


@pytest.mark.parametrize(
    "breaks",
    [
        ["05:45-06:15"],  # starts before the shift
        ["14:45-15:15"],  # ends after it
        ["10:00-10:30", "10:15-10:45"],  # overlap
        ["10:00-10:00"],  # no length
    ],
)
def test_a_break_outside_the_shift_or_overlapping_is_refused(api, db, breaks):
    body = {"name": "Late", "start": "07:00", "end": "15:00", "breaks": breaks}
    assert api.post("/api/shifts", body, expected=400).get_json()["error"] == "bad_break"
    api.post("/api/shifts", {**body, "breaks": ["9:00-9:15"]}, expected=400)  # not HH:MM


def test_a_night_shift_takes_a_break_after_midnight(plant, api, db):
    night = {"name": "Night", "start": "22:00", "end": "06:00", "breaks": ["02:00-02:30"]}
    assert api.post("/api/shifts", night, expected=201).get_json()["break_minutes"] == 30
    api.post("/api/machines", {"code": "M1", "name": "M1", "station": "A1"}, expected=201)
    m1 = Machine.get(Machine.code == "M1")
    # down 01:50-02:40 the next morning: 30 of its 50 minutes in the break
    machines.set_state(
        m1, "down", "BREAKDOWN", now=at(23, 0) + dt.timedelta(hours=2, minutes=50), source="api"
    )
    machines.set_state(
        m1, "running", None, now=at(23, 0) + dt.timedelta(hours=3, minutes=40), source="api"
    )
    got = api.get(f"/api/oee?station=A1&shift=Night&day={DAY}", as_="supervisor").get_json()
    # the whole night is past: 480 minutes less the 30 of the break
    assert got["inputs"]["shift_minutes"] == 480.0
    assert got["inputs"]["break_minutes"] == 30.0
    assert got["inputs"]["planned_minutes"] == 450.0
    assert got["inputs"]["downtime_in_breaks_minutes"] == 30.0
    assert got["inputs"]["downtime_minutes"] == 20.0


def test_oee_takes_the_station_site_shift_and_leaves_breaks_out(two_sites, api, db):
    units = two_sites.items("WIDGET", count=6)
    for u in units:
        scan(db, "sc-a1", u, at(7, 5))
        scan(db, "sc-a2", u, at(8))
    p1, p2 = Machine.get(Machine.code == "PRESS1"), Machine.get(Machine.code == "PRESS2")
    # 09:50-10:10: 20 minutes down, 10 of them in the 10:00-10:15 break
    machines.set_state(p1, "down", "BREAKDOWN", now=at(9, 50), source="api")
    machines.set_state(p1, "running", None, now=at(10, 10), source="api")
    # 12:05-12:20: wholly inside the 12:00-12:30 break, counted nowhere
    machines.set_state(p2, "down", "NO_MATERIAL", now=at(12, 5), source="api")
    machines.set_state(p2, "running", None, now=at(12, 20), source="api")
    # 13:00-13:30: an ordinary stop
    machines.set_state(p1, "down", "BREAKDOWN", now=at(13), source="api")
    machines.set_state(p1, "running", None, now=at(13, 30), source="api")

    a2 = api.get(f"/api/oee?station=A2&shift=Early&day={DAY}", as_="supervisor").get_json()
    # EAST's Early: 07:00-15:00 = 480 min, breaks 15 + 30 = 45: planned 435; downtime
    # 20 + 15 + 30 = 65, of it 10 + 15 = 25 in breaks: 40; run 395; ideal 395 / 60 x 30
    assert (a2["from"], a2["to"], a2["site"]) == (
        "2026-11-02T07:00:00Z",
        "2026-11-02T15:00:00Z",
        "EAST",
    )
    assert a2["breaks"] == ["10:00-10:15", "12:00-12:30"]
    assert a2["inputs"] == {
        "shift_minutes": 480.0,
        "break_minutes": 45.0,
        "planned_minutes": 435.0,
        "downtime_in_breaks_minutes": 25.0,
        "downtime_minutes": 40.0,
        "run_minutes": 395.0,
        "rate_per_hour": 30.0,
        "ideal_units": 197.5,
        "good": 6.0,
        "scrap": 0.0,
        "total": 6.0,
    }
    assert a2["availability"] == round(395 / 435, 4) == 0.908
    assert a2["performance"] == round(6 / 197.5, 4) == 0.0304
    assert a2["quality"] == 1.0
    assert a2["oee"] == round(0.908 * 0.0304 * 1.0, 4)

    # A1 stays at the default site: the plant-wide Early, 06:00-14:00, no breaks
    a1 = api.get(f"/api/oee?station=A1&shift=Early&day={DAY}", as_="supervisor").get_json()
    assert (a1["from"], a1["site"], a1["inputs"]["planned_minutes"]) == (
        "2026-11-02T06:00:00Z",
        None,
        480.0,
    )
    east = api.get(f"/api/oee?shift=Early&site=EAST&day={DAY}", as_="supervisor").get_json()
    assert [s["station"] for s in east["stations"]] == ["A2"]
    every = api.get(f"/api/oee?shift=Early&day={DAY}", as_="supervisor").get_json()
    assert {s["station"]: s["site"] for s in every["stations"]}["A2"] == "EAST"
    assert {s["station"]: s["site"] for s in every["stations"]}["A1"] is None
    nope = api.get(f"/api/oee?shift=Early&site=NOPE&day={DAY}", as_="supervisor", expected=404)
    assert nope.get_json()["error"] == "unknown_site"


def test_a_site_shift_not_at_the_station_site_is_unknown_there(two_sites, api):
    api.post(
        "/api/shifts",
        {"name": "Late", "start": "15:00", "end": "23:00", "site": "EAST"},
        expected=201,
    )
    got = api.get(f"/api/oee?station=A1&shift=Late&day={DAY}", as_="supervisor", expected=404)
    assert got.get_json()["error"] == "unknown_shift"
    api.get(f"/api/oee?station=A2&shift=Late&day={DAY}", as_="supervisor", expected=200)


def test_labour_clips_each_station_to_its_site_shift(two_sites, api, db, users):
    op_user = users["operator"][0]
    boss = users["supervisor"][0]
    # signed in at A1 (default site) and A2 (EAST) from 05:00 to 16:00
    scan(db, "sc-a1", f"CMD-OP-{op_user.badge}", at(5))
    scan(db, "sc-a2", f"CMD-OP-{boss.badge}", at(5))
    scan(db, "sc-a1", "CMD-OUT", at(16))
    scan(db, "sc-a2", "CMD-OUT", at(16))
    got = api.get(f"/api/labour?day={DAY}&shift=Early", as_="supervisor").get_json()
    people = {p["operator"]: p for p in got["operators"]}
    a1 = people[op_user.username]["intervals"]
    a2 = people[boss.username]["intervals"]
    assert [(i["station"], i["from"], i["to"]) for i in a1] == [
        ("A1", "2026-11-02T06:00:00Z", "2026-11-02T14:00:00Z")
    ]
    assert [(i["station"], i["from"], i["to"]) for i in a2] == [
        ("A2", "2026-11-02T07:00:00Z", "2026-11-02T15:00:00Z")
    ]
    east = api.get(f"/api/labour?day={DAY}&shift=Early&site=EAST", as_="supervisor").get_json()
    assert [p["operator"] for p in east["operators"]] == [boss.username]
    assert east["from"] == "2026-11-02T07:00:00Z"


def test_csv_import_and_export_carry_site_and_breaks(two_sites, api):
    text = (
        "name,start,end,site,breaks\n"
        "Late,14:00,22:00,,18:00-18:30\n"
        "Late,15:00,23:00,EAST,19:00-19:15;21:00-21:10\n"
        "Late,15:00,23:00,east,\n"  # the same name and site again
        "Odd,06:00,14:00,,13:50-14:10\n"  # a break past the shift's end
    )
    bad = api.post("/api/import/shifts", data=text, content_type="text/csv", expected=400)
    assert [d["line"] for d in bad.get_json()["details"]] == [4, 5]
    good = "\n".join(text.splitlines()[:3]) + "\n"
    ok = api.post("/api/import/shifts", data=good, content_type="text/csv", expected=200)
    assert ok.get_json()["created"] == 2
    export = api.client.get(
        "/api/export/shifts.csv", headers={"Authorization": f"Bearer {api.tokens['admin']}"}
    ).get_data(as_text=True)
    assert export.splitlines() == [
        "name,start,end,active,site,breaks",
        "Early,06:00,14:00,true,,",
        "Early,07:00,15:00,true,EAST,10:00-10:15;12:00-12:30",
        "Late,14:00,22:00,true,,18:00-18:30",
        "Late,15:00,23:00,true,EAST,19:00-19:15;21:00-21:10",
    ]
    again = api.post("/api/import/shifts", data=export, content_type="text/csv").get_json()
    assert again["unchanged"] == 4
