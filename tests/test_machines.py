"""Machines at stations: state by scan (`CMD-DOWN-<reason>`, `CMD-UP`) and by API, the
downtime log, and a down machine's station warning or refusing its scans; shifts and the
CSV imports of both."""

from __future__ import annotations

import pytest

from server.models import Downtime, LedgerEntry, Machine, Station


@pytest.fixture
def press(plant):
    plant.api.post(
        "/api/machines",
        {"code": "PRESS1", "name": "Press 1", "station": "A2", "rate_per_hour": 60},
        expected=201,
    )
    plant.order("WO-1", "WIDGET", 10)
    return plant


def _state(code="PRESS1"):
    m = Machine.get(Machine.code == code)
    return m.state, m.state_why


def test_down_then_up_by_scan_logs_downtime_and_warns_meanwhile(press, db):
    plant = press
    w1, w2, w3 = plant.items("WIDGET", count=3)
    for w in (w1, w2, w3):
        plant.scan("sc-a1", w, expected=201)  # started at A1, next A2
    down = plant.scan("sc-a2", "cmd-down-breakdown", expected=201)
    assert down["action"] == "command:down" and "BREAKDOWN" in down["message"]
    assert _state() == ("down", "BREAKDOWN")
    (log,) = Downtime.select()
    assert (log.why, log.source, log.ended_at) == ("BREAKDOWN", "scan", None)
    assert LedgerEntry.get(LedgerEntry.scan_id == down["scan_id"]).why == "BREAKDOWN"

    warned = plant.scan("sc-a2", w1, expected=201)  # warn is the default policy
    assert [w["code"] for w in warned["warnings"]] == ["machine_down"]
    assert "PRESS1" in warned["warnings"][0]["message"]

    Station.update(policy={"machine_down": "reject"}).where(Station.code == "A2").execute()
    refused = plant.scan("sc-a2", w2, expected=422)
    assert refused["reason"] == "machine_down"
    row = LedgerEntry.get(LedgerEntry.scan_id == refused["scan_id"])
    assert (row.status, row.reason) == ("rejected", "machine_down")

    up = plant.scan("sc-a2", "CMD-UP", expected=201)
    assert up["action"] == "command:up"
    assert _state() == ("running", None)
    log = Downtime.get_by_id(log.id)
    assert log.ended_at is not None and log.ended_source == "scan"
    assert plant.scan("sc-a2", w2, expected=201)["warnings"] == []
    # the other stations never noticed
    assert plant.scan("sc-a2", w3, expected=201)["warnings"] == []


def test_down_needs_a_downtime_reason(press, db):
    plant = press
    assert plant.scan("sc-a2", "CMD-DOWN-DAMAGED", expected=422)["reason"] == (
        "reason_not_applicable"
    )
    assert plant.scan("sc-a2", "CMD-DOWN-NOPE", expected=422)["reason"] == "unknown_reason"
    assert plant.scan("sc-a2", "CMD-DOWN", expected=422)["reason"] == "unknown_code"
    assert _state() == ("running", None) and Downtime.select().count() == 0


def test_down_answer_in_bahasa(press, client, users):
    """The worker's answer of a down label, worded on the station page in Indonesian."""
    from server.web.i18n import COMMAND_TEXT, REASON_TEXT

    assert "command:down" in COMMAND_TEXT and "machine_down" in REASON_TEXT
    app = client.application
    with app.test_request_context(headers={"Accept-Language": "id"}):
        assert str(REASON_TEXT["machine_down"]) == "Mesin berhenti"
        assert str(COMMAND_TEXT["command:up"]) == "Mesin berjalan lagi"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert str(REASON_TEXT["machine_down"]) == "Machine down"


def test_state_by_api_and_the_log(press, db):
    api = press.api
    r = api.post(
        "/api/machines/PRESS1/state",
        {"state": "down", "reason": "no_material"},
        as_="operator",
        expected=200,
    ).get_json()
    assert (r["state"], r["reason"], r["changed"]) == ("down", "NO_MATERIAL", True)
    again = api.post(
        "/api/machines/PRESS1/state", {"state": "down", "reason": "NO_MATERIAL"}, as_="operator"
    ).get_json()
    assert again["changed"] is False
    # another reason: one stretch closed, another opened
    api.post(
        "/api/machines/PRESS1/state",
        {"state": "down", "reason": "BREAKDOWN"},
        as_="operator",
        expected=200,
    )
    api.post("/api/machines/PRESS1/state", {"state": "idle"}, as_="operator", expected=200)
    assert _state() == ("idle", None)
    log = api.get("/api/machines/PRESS1/downtime", as_="operator", expected=200).get_json()
    assert [d["reason"] for d in log["downtime"]] == ["BREAKDOWN", "NO_MATERIAL"]
    assert all(d["to"] for d in log["downtime"])
    bad = api.post("/api/machines/PRESS1/state", {"state": "down"}, as_="operator", expected=422)
    assert bad.get_json()["error"] == "reason_required"
    bad = api.post(
        "/api/machines/PRESS1/state",
        {"state": "running", "reason": "BREAKDOWN"},
        as_="operator",
        expected=400,
    )
    assert bad.get_json()["error"] == "bad_state"
    api.post("/api/machines/NOPE/state", {"state": "idle"}, as_="operator", expected=404)
    # an idle machine does not stop the station
    (w,) = press.items("WIDGET")
    press.scan("sc-a1", w, expected=201)
    assert press.scan("sc-a2", w, expected=201)["warnings"] == []


def test_machines_api_roles_and_edit(press, db):
    api = press.api
    api.post(
        "/api/machines",
        {"code": "PRESS2", "name": "P", "station": "A2"},
        as_="supervisor",
        expected=403,
    )
    api.post("/api/machines", {"code": "PRESS1", "name": "P", "station": "A2"}, expected=409)
    api.post("/api/machines", {"code": "X1", "name": "P", "station": "NOPE"}, expected=404)
    listed = api.get("/api/machines", as_="operator", expected=200).get_json()["machines"]
    assert [(m["code"], m["station"], m["rate_per_hour"]) for m in listed] == [
        ("PRESS1", "A2", 60.0)
    ]
    api.call("PATCH", "/api/machines/PRESS1", {"station": "QA", "rate_per_hour": 90}, expected=200)
    assert Machine.get(Machine.code == "PRESS1").station.code == "QA"
    api.call("PATCH", "/api/machines/PRESS1", {"active": False}, expected=200)
    # an inactive machine is no machine of its station
    assert press.scan("sc-qa", "CMD-DOWN-BREAKDOWN", expected=422)["reason"] == "unknown_machine"


def test_shifts_api(api, db):
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    night = api.post(
        "/api/shifts", {"name": "Night", "start": "22:00", "end": "06:00"}, expected=201
    ).get_json()
    assert night["hours"] == 8
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=409)
    api.post("/api/shifts", {"name": "Odd", "start": "06:10", "end": "14:00"}, expected=400)
    api.post(
        "/api/shifts",
        {"name": "X", "start": "06:00", "end": "14:00"},
        as_="supervisor",
        expected=403,
    )
    names = [s["name"] for s in api.get("/api/shifts", as_="operator").get_json()["shifts"]]
    assert names == ["Early", "Night"]


def test_csv_import_of_shifts_and_machines(plant, api, db):
    shifts_csv = "name,start,end\nEarly,06:00,14:00\nLate,14:00,22:00\nBad,25:00,01:00\n"
    bad = api.post(
        "/api/import/shifts", data=shifts_csv, content_type="text/csv", expected=400
    ).get_json()
    assert [d["line"] for d in bad["details"]] == [4]
    ok = api.post(
        "/api/import/shifts", data=shifts_csv.rsplit("Bad", 1)[0], content_type="text/csv"
    ).get_json()
    assert ok["created"] == 2
    machines_csv = "code,name,station,rate_per_hour\nM1,Mill,A1,30\nM2,Drill,A2,\n"
    ok = api.post(
        "/api/import/machines", data=machines_csv, content_type="text/csv", expected=200
    ).get_json()
    assert ok["created"] == 2
    again = api.post(
        "/api/import/machines", data=machines_csv.replace("30", "40"), content_type="text/csv"
    ).get_json()
    assert (again["updated"], again["unchanged"]) == (1, 1)
    bad = api.post(
        "/api/import/machines",
        data="code,name,station\nM3,X,NOPE\n",
        content_type="text/csv",
        expected=400,
    ).get_json()
    assert bad["details"][0]["line"] == 2
    export = api.client.get(
        "/api/export/machines.csv", headers={"Authorization": f"Bearer {api.tokens['admin']}"}
    ).get_data(as_text=True)
    assert export.splitlines()[1] == "M1,Mill,A1,40,true"
    assert api.client.get(
        "/api/export/shifts.csv", headers={"Authorization": f"Bearer {api.tokens['admin']}"}
    ).get_data(as_text=True).splitlines()[1:] == [
        "Early,06:00,14:00,true,,",
        "Late,14:00,22:00,true,,",
    ]


def test_machine_labels_print(api, db):
    """The labels a worker scans at a stopped machine print like every command label."""
    for code in ("CMD-DOWN-BREAKDOWN", "CMD-UP"):
        resp = api.client.get(
            f"/api/labels/{code}.svg", headers={"Authorization": f"Bearer {api.tokens['admin']}"}
        )
        assert resp.status_code == 200 and code in resp.get_data(as_text=True)
