"""OEE per station and shift from hand-computed inputs, labour intervals from badge scans,
and operation times against the routing's standard."""

from __future__ import annotations

import datetime as dt

import pytest

from server.core.scans import ScanIn, apply_scan
from server.models import OeeBucket, Station
from tests.conftest import new_scan_id

DAY = dt.date(2026, 11, 2)


def at(hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 2, hh, mm)


def scan(db, scanner, code, when, **kw):
    result = apply_scan(
        db, ScanIn(scan_id=new_scan_id(), scanner_id=scanner, code=code, **kw), now=when
    )
    assert result.accepted, result
    return result


@pytest.fixture
def floor(plant, api, db):
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    for code, rate in (("PRESS1", 60), ("PRESS2", 30)):
        api.post(
            "/api/machines",
            {"code": code, "name": code, "station": "A2", "rate_per_hour": rate},
            expected=201,
        )
    plant.order("WO-1", "WIDGET", 20)
    return plant


def test_oee_of_a_shift_from_its_inputs(floor, api, db, users):
    units = floor.items("WIDGET", count=7)
    for u in units:
        scan(db, "sc-a1", u, at(7))
    for u in units[:6]:
        scan(db, "sc-a2", u, at(7, 30))  # 6 units made at A2 in the shift
    scan(db, "sc-a2", units[6], at(14, 5))  # after the shift: not in it
    # the station's label puts both machines down at 09:00; PRESS2 changes its reason at
    # 09:30 (the API's path of the core); CMD-UP at 10:00 brings both back
    scan(db, "sc-a2", "CMD-DOWN-BREAKDOWN", at(9))
    from server.core import machines
    from server.models import Machine

    machines.set_state(
        Machine.get(Machine.code == "PRESS2"), "down", "NO_MATERIAL", now=at(9, 30), source="api"
    )
    scan(db, "sc-a2", "CMD-UP", at(10))  # both machines of the station run again
    # one of the six scrapped at A2 by a supervisor with a reason: 5 good, 1 scrap
    scan(db, "sc-a2", "CMD-ACT-SCRAP", at(11))
    supervisor = users["supervisor"][0]
    scan(db, "sc-a2", units[0], at(11, 1), reason="DAMAGED", user_id=supervisor.id)

    got = api.get(
        f"/api/oee?station=A2&shift=Early&day={DAY.isoformat()}", as_="supervisor", expected=200
    ).get_json()
    inputs = got["inputs"]
    # PRESS2 went up with CMD-UP at 10:00 too: union 09:00-10:00 = 60 minutes
    assert inputs == {
        "shift_minutes": 480.0,
        "break_minutes": 0.0,
        "planned_minutes": 480.0,
        "downtime_in_breaks_minutes": 0.0,
        "downtime_minutes": 60.0,
        "run_minutes": 420.0,
        "rate_per_hour": 30.0,  # the slower machine
        "ideal_units": 210.0,  # 420 / 60 * 30
        "good": 5.0,
        "scrap": 1.0,
        "total": 6.0,
    }
    assert got["availability"] == round(420 / 480, 4)
    assert got["performance"] == round(6 / 210, 4)
    assert got["quality"] == round(5 / 6, 4)
    assert got["oee"] == round(got["availability"] * got["performance"] * got["quality"], 4)
    # the label put both machines down; PRESS2's new reason closed its first stretch
    assert sorted((d["machine"], d["reason"], d["minutes_in_shift"]) for d in got["downtime"]) == [
        ("PRESS1", "BREAKDOWN", 60.0),
        ("PRESS2", "BREAKDOWN", 30.0),
        ("PRESS2", "NO_MATERIAL", 30.0),
    ]
    # every station at once; a station without machines has no rate, so no figure
    every = api.get(f"/api/oee?shift=Early&day={DAY}", as_="supervisor").get_json()
    by_code = {s["station"]: s for s in every["stations"]}
    assert by_code["A2"]["oee"] == got["oee"]
    assert by_code["A1"]["inputs"]["good"] == 7.0 and by_code["A1"]["oee"] is None
    api.get("/api/oee?station=A2&shift=Nope", as_="supervisor", expected=404)
    api.get("/api/oee?station=A2&shift=Early", as_="operator", expected=403)


def test_overlapping_downtime_counts_once(floor, api, db):
    from server.core import machines
    from server.models import Machine

    p1, p2 = Machine.get(Machine.code == "PRESS1"), Machine.get(Machine.code == "PRESS2")
    machines.set_state(p1, "down", "BREAKDOWN", now=at(9), source="api")
    machines.set_state(p2, "down", "NO_MATERIAL", now=at(9, 30), source="api")
    machines.set_state(p1, "running", None, now=at(10), source="api")
    machines.set_state(p2, "running", None, now=at(10, 30), source="api")
    # down since 13:00 and still down: clipped at the shift's end
    machines.set_state(p1, "down", "BREAKDOWN", now=at(13), source="api")
    got = api.get(f"/api/oee?station=A2&shift=Early&day={DAY}", as_="supervisor").get_json()
    assert got["inputs"]["downtime_minutes"] == 90.0 + 60.0
    assert got["availability"] == round((480 - 150) / 480, 4)
    assert got["performance"] == 0.0 and got["quality"] is None and got["oee"] is None


def test_buckets_are_kept_in_the_scan_transaction(floor, db):
    (u,) = floor.items("WIDGET")
    scan(db, "sc-a1", u, at(7, 14))
    a1 = Station.get(Station.code == "A1").id
    (bucket,) = OeeBucket.select().where(OeeBucket.station_id == a1)
    assert (bucket.bucket, float(bucket.units), float(bucket.scrap)) == (at(7), 1.0, 0.0)
    # a rejected scan adds nothing
    r = apply_scan(db, ScanIn(scan_id=new_scan_id(), scanner_id="sc-a1", code=u), now=at(7, 20))
    assert not r.accepted
    assert OeeBucket.select().where(OeeBucket.station_id == a1).count() == 1


def test_labour_intervals_from_badges(floor, api, db, users):
    op_user = users["operator"][0]
    units = floor.items("WIDGET", count=3)
    scan(db, "sc-a1", f"CMD-OP-{op_user.badge}", at(6))
    scan(db, "sc-a1", units[0], at(6, 30))
    scan(db, "sc-a1", units[1], at(7))
    scan(db, "sc-a1", "CMD-OUT", at(8))
    # at A2 from 09:00 until a second badge scan of the same badge signs out at 11:30
    scan(db, "sc-a2", f"CMD-OP-{op_user.badge}", at(9))
    scan(db, "sc-a2", units[0], at(9, 15))
    scan(db, "sc-a2", f"CMD-OP-{op_user.badge}", at(11, 30))
    # the supervisor signs in at A1 at 13:00 and is still signed in at the shift's end
    sup = users["supervisor"][0]
    scan(db, "sc-a1", f"CMD-OP-{sup.badge}", at(13))
    scan(db, "sc-a1", units[2], at(13, 10))

    got = api.get(f"/api/labour?day={DAY}&shift=Early", as_="supervisor", expected=200)
    people = {p["operator"]: p for p in got.get_json()["operators"]}
    op = people[op_user.username]
    assert [(i["station"], i["minutes"]) for i in op["intervals"]] == [("A1", 120.0), ("A2", 150.0)]
    assert op["signed_in_minutes"] == 270.0
    assert (op["scans"], op["accepted"], op["rejected"]) == (3, 3, 0)
    boss = people[sup.username]
    assert boss["signed_in_minutes"] == 60.0 and boss["scans"] == 1  # 13:00-14:00
    whole_day = api.get(f"/api/labour?day={DAY}", as_="supervisor").get_json()
    assert {p["operator"] for p in whole_day["operators"]} == {op_user.username, sup.username}


def test_operation_times_against_the_standard(floor, api, db):
    api.call(
        "PUT",
        "/api/products/WIDGET/routing/A2",
        {"std_minutes": 10, "setup_minutes": 15},
        expected=200,
    )
    u1, u2 = floor.items("WIDGET", count=2)
    scan(db, "sc-a1", u1, at(7))
    scan(db, "sc-a1", u2, at(7, 5))
    scan(db, "sc-a2", u1, at(7, 20))  # 20 minutes at A1
    scan(db, "sc-a2", u2, at(7, 25))  # 20 minutes at A1
    scan(db, "sc-qa", u1, at(7, 50))  # 30 minutes at A2
    scan(db, "sc-qa", u2, at(8, 5))  # 40 minutes at A2
    got = api.get("/api/orders/WO-1/times", as_="supervisor", expected=200).get_json()
    ops = {o["station"]: o for o in got["operations"]}
    assert (ops["A1"]["units"], ops["A1"]["actual_minutes"]) == (2.0, 40.0)
    assert ops["A1"]["standard_minutes"] is None  # no standard set
    a2 = ops["A2"]
    assert (a2["actual_minutes"], a2["standard_minutes"]) == (70.0, 35.0)  # 15 + 2 x 10
    assert a2["ratio"] == 2.0
    assert got["in_progress"] == 2  # both at QA
    unit = next(u for u in got["units"] if u["item"] == u1)
    assert [(s["station"], s["minutes"]) for s in unit["stations"]] == [("A1", 20.0), ("A2", 30.0)]
    # a routing replaced with A2 on it keeps A2's times
    api.put("/api/products/WIDGET/routing", {"stations": ["A1", "A2", "QA"]}, expected=200)
    again = api.get("/api/orders/WO-1/times", as_="supervisor").get_json()
    assert {o["station"]: o for o in again["operations"]}["A2"]["standard_minutes"] == 35.0
