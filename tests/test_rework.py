"""Rework and unissue through real scans over HTTP: stages, routing position after a rework,
genealogy, the order's completed and issued figures, stock counters, the refusals, and the
stations API's rework fields."""

from __future__ import annotations

import pytest

from server.core import stock
from server.models import Item, LedgerEntry, OrderMaterial, ProductionOrder, Station
from tests.test_scans import _in_stock, _started


def _station(api, code, action, **kw):
    api.post(
        "/api/stations",
        {"code": code, "name": code, "default_action": action, **kw},
        expected=201,
    )
    api.post("/api/scanners", {"id": f"sc-{code.lower()}", "station": code}, expected=201)


def _issue_bill(plant, qty=1):
    """Steel and bolts for `qty` widgets, issued to the open order at line side."""
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    bolts = _in_stock(plant, "BOLT", qty=40, lot="B-2")
    plant.scan("sc-line", steel, qty=2 * qty, expected=201)
    plant.scan("sc-line", bolts, qty=4 * qty, expected=201)


def _finished(plant, order="WO-1"):
    w = _started(plant, order=order, qty=1)
    _issue_bill(plant)
    for sc in ("sc-a2", "sc-qa", "sc-end"):
        plant.scan(sc, w, expected=201)
    return w


def _order(api, number="WO-1"):
    return api.get(f"/api/orders/{number}").get_json()


def _issued(api, material, number="WO-1"):
    return {m["material"]: m["issued"] for m in _order(api, number)["materials"]}[material]


def test_rework_of_a_finished_unit_takes_its_completion_back(plant, api):
    _station(api, "RW", "rework", rework_to="QA")
    w = _finished(plant)
    assert (_order(api)["completed"], _order(api)["status"]) == (1, "done")
    children = {c["code"] for c in api.get(f"/api/items/{w}").get_json()["children"]}
    assert len(children) == 2

    assert plant.scan("sc-rw", "CMD-WHY-DIMENSION", expected=201)["status"] == "accepted"
    r = plant.scan("sc-rw", w, expected=201)

    assert (r["action"], r["stage"]) == ("rework", "wip")
    assert LedgerEntry.get(LedgerEntry.scan_id == r["scan_id"]).why == "DIMENSION"
    unit = api.get(f"/api/items/{w}").get_json()
    assert (unit["stage"], unit["station"]) == ("wip", "RW")
    # genealogy kept: what was built into it is still its children
    assert {c["code"] for c in unit["children"]} == children
    order = _order(api)
    assert (order["completed"], order["status"]) == (0, "in_progress")
    assert ProductionOrder.get(ProductionOrder.number == "WO-1").done_at is None
    assert stock.counters() == stock.recount_from_items()

    # back on its routing where the rework station sends it (QA), not the step after A2
    wrong = plant.scan("sc-a2", w, expected=422)
    assert (wrong["reason"], wrong["message"]) == ("wrong_station", "Next for this unit: QA")
    plant.scan("sc-qa", w, expected=201)
    done = plant.scan("sc-end", w, expected=201)

    # completed again without consuming a second bill: nothing short, nothing more consumed
    assert done["stage"] == "finished" and done["warnings"] == []
    order = _order(api)
    assert (order["completed"], order["status"]) == (1, "done")
    mats = {m["material"]: m for m in order["materials"]}
    assert (mats["STEEL"]["consumed"], mats["BOLT"]["consumed"]) == (2, 4)
    unit = api.get(f"/api/items/{w}").get_json()
    assert {c["code"] for c in unit["children"]} == children
    assert stock.counters() == stock.recount_from_items()


def test_rework_station_without_a_target_sends_units_to_the_first_step(plant, api):
    _station(api, "RW", "rework")
    w = _started(plant)
    plant.scan("sc-a2", w, expected=201)
    plant.scan("sc-rw", w, reason="REPAIR", expected=201)
    r = plant.scan("sc-qa", w, expected=422)
    assert (r["reason"], r["message"]) == ("wrong_station", "Next for this unit: A1")
    # a wip unit leaves its order's figures as they were
    assert _order(api)["completed"] == 0


def test_rework_by_action_label_at_a_routing_station(plant, api):
    w = _started(plant, qty=1)
    _issue_bill(plant)
    plant.scan("sc-a2", w, expected=201)
    plant.scan("sc-qa", "CMD-ACT-REWORK", expected=201)
    plant.scan("sc-qa", "CMD-WHY-SURFACE", expected=201)
    r = plant.scan("sc-qa", w, expected=201)
    assert (r["action"], r["stage"]) == ("rework", "wip")
    # reworked at QA, a station of its routing: it goes on from QA
    assert plant.scan("sc-end", w, expected=201)["stage"] == "finished"


@pytest.mark.parametrize(
    ("extra", "reason", "message"),
    [
        ({}, "reason_required", "Scan a reason label to rework"),
        ({"reason": "NOPE"}, "unknown_reason", "Reason 'NOPE' is not on the reason list"),
        ({"reason": "QC_OK"}, "reason_not_applicable", "Reason QC_OK is not a reason to rework"),
    ],
    ids=["none", "unknown", "not-for-rework"],
)
def test_rework_without_a_reason_for_it_changes_nothing(plant, api, extra, reason, message):
    _station(api, "RW", "rework", rework_to="QA")
    w = _finished(plant)
    r = plant.scan("sc-rw", w, expected=422, **extra)
    assert (r["reason"], r["message"]) == (reason, message)
    row = LedgerEntry.get(LedgerEntry.scan_id == r["scan_id"])
    assert (row.status, row.reason, row.action, row.why) == ("rejected", reason, "rework", None)
    unit = api.get(f"/api/items/{w}").get_json()
    assert (unit["stage"], unit["station"]) == ("finished", "END")
    assert (_order(api)["completed"], _order(api)["status"]) == (1, "done")
    # the reason label the worker forgot, then the unit: reworked with it
    plant.scan("sc-rw", "CMD-WHY-REPAIR", expected=201)
    ok = plant.scan("sc-rw", w, expected=201)
    assert LedgerEntry.get(LedgerEntry.scan_id == ok["scan_id"]).why == "REPAIR"


def _shipped(plant, api):
    w = _finished(plant)
    plant.scan("sc-ship", w, expected=201)
    return w


def _scrapped(plant, api):
    w = _started(plant)
    plant.scan("sc-a2", "CMD-ACT-SCRAP", expected=201)
    plant.scan("sc-a2", w, note="cracked", as_="supervisor", expected=201)
    return w


def _consumed(plant, api):
    _finished(plant)
    (steel,) = [
        c for (c,) in Item.select(Item.code).where(Item.stage == "consumed").limit(1).tuples()
    ]
    return steel


def _issued_steel(plant, api):
    _started(plant)
    steel = _in_stock(plant, "STEEL", qty=2, lot="S")
    plant.scan("sc-line", steel, expected=201)
    return steel


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_shipped, "This item is already shipped: only a supervisor can return it"),
        (_scrapped, "This item is scrapped: nothing more can be done with it"),
        (_consumed, "This item is already consumed: nothing more can be done with it"),
        (
            _issued_steel,
            "This item is in work (WIP), issued to an order: it is consumed when its unit is "
            "completed, or unissue it to return it to stock",
        ),
    ],
    ids=["shipped", "scrapped", "consumed", "issued-material"],
)
def test_rework_refused_from_a_gone_stage_changes_nothing(plant, api, make, message):
    _station(api, "RW", "rework")
    code = make(plant, api)
    before = Item.get(Item.code == code)
    order = _order(api)
    r = plant.scan("sc-rw", code, reason="REPAIR", expected=422)
    assert (r["reason"], r["message"]) == ("illegal_transition", message)
    row = LedgerEntry.get(LedgerEntry.scan_id == r["scan_id"])
    assert (row.status, row.reason, row.action, row.to_stage) == (
        "rejected",
        "illegal_transition",
        "rework",
        None,
    )
    after = Item.get(Item.code == code)
    assert (after.stage, after.station_id) == (before.stage, before.station_id)
    assert _order(api)["completed"] == order["completed"]


# --- unissue -------------------------------------------------------------------------------


def test_unissue_returns_part_then_the_rest_with_its_lot(plant, api):
    _station(api, "RET", "unissue")
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    _started(plant, qty=2)  # needs 2 x 2 kg
    issued = plant.scan("sc-line", steel, qty=3, expected=201)["item"]
    assert _issued(api, "STEEL") == 3

    part = plant.scan("sc-ret", issued, qty=1, expected=201)

    assert (part["action"], part["stage"]) == ("unissue", "raw")
    assert part["warnings"][0]["code"] == "split" and part["item"] != issued
    back = api.get(f"/api/items/{part['item']}").get_json()
    assert (back["stage"], back["qty"], back["lot"], back["station"]) == ("raw", 1, "S-9", "RET")
    assert back["order"] is None
    left = api.get(f"/api/items/{issued}").get_json()
    assert (left["stage"], left["qty"], left["order"]) == ("wip", 2, "WO-1")
    assert _issued(api, "STEEL") == 2
    assert stock.counters() == stock.recount_from_items()

    rest = plant.scan("sc-ret", issued, expected=201)
    assert (rest["item"], rest["stage"]) == (issued, "raw")
    assert Item.get(Item.code == issued).order_id is None
    assert _issued(api, "STEEL") == 0
    assert stock.counters() == stock.recount_from_items()
    # back in stock, it can be issued again
    plant.scan("sc-line", issued, expected=201)


def test_unissue_by_bare_gtin_at_line_side(plant, api):
    plant.scan("sc-recv", f"]C101{'09506000134352'}10B-2\x1d3720", expected=201)
    _started(plant, qty=1)
    plant.scan("sc-line", "]C10109506000134352" + "10B-2", qty=4, expected=201)
    plant.scan("sc-line", "CMD-ACT-UNISSUE", expected=201)
    r = plant.scan("sc-line", "]C10109506000134352" + "10B-2", expected=201)
    assert (r["stage"], r["action"]) == ("component", "unissue")
    assert _issued(api, "BOLT") == 0


def test_unissue_of_consumed_material_or_a_unit_in_work_is_illegal(plant, api):
    _station(api, "RET", "unissue")
    w = _finished(plant)
    consumed = api.get(f"/api/items/{w}").get_json()["children"][0]["code"]
    r = plant.scan("sc-ret", consumed, expected=422)
    assert r["reason"] == "illegal_transition"
    # a bracket being made (started, kind component) was never issued
    plant.order("WO-B", "BRACKET", 1)
    (bracket,) = plant.items("BRACKET")
    plant.scan("sc-a1", bracket, expected=201)
    r = plant.scan("sc-ret", bracket, expected=422)
    assert (r["reason"], r["message"]) == (
        "illegal_transition",
        "This item is in work (WIP): move it to its next station or complete it",
    )
    assert Item.get(Item.code == bracket).stage == "wip"


def test_unissue_from_another_order_than_it_was_issued_to_is_over_unissue(plant, api):
    _station(api, "RET", "unissue")
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    _started(plant, qty=2)
    issued = plant.scan("sc-line", steel, qty=3, expected=201)["item"]
    plant.order("WO-2", "WIDGET", 1)
    plant.scan("sc-ret", "CMD-ORD-WO-2", expected=201)
    r = plant.scan("sc-ret", issued, expected=422)
    assert r["reason"] == "over_unissue"
    assert r["message"] == "Nothing of this was issued to WO-2: it is on order WO-1"
    assert Item.get(Item.code == issued).stage == "wip"
    assert _issued(api, "STEEL") == 3


def test_unissue_beyond_the_orders_issued_figure_is_over_unissue(plant, api):
    _station(api, "RET", "unissue")
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    _started(plant, qty=2)
    issued = plant.scan("sc-line", steel, qty=3, expected=201)["item"]
    # the order's figure says less is out than the label holds (figures corrected by hand)
    OrderMaterial.update(issued=1).execute()
    r = plant.scan("sc-ret", issued, qty=2, expected=422)
    assert (r["reason"], r["message"]) == (
        "over_unissue",
        "Order WO-1 has only 1 of this issued and unused",
    )
    assert Item.get(Item.code == issued).qty == 3


# --- stations API ----------------------------------------------------------------------------


def test_stations_api_takes_the_new_actions_and_a_rework_target(plant, api):
    _station(api, "RW", "rework", rework_to="QA")
    _station(api, "RET", "unissue")
    by_code = {s["code"]: s for s in api.get("/api/stations").get_json()["stations"]}
    assert (by_code["RW"]["default_action"], by_code["RW"]["rework_to"]) == ("rework", "QA")
    assert by_code["RET"]["rework_to"] is None
    r = api.post(
        "/api/stations",
        {"code": "RW2", "name": "x", "default_action": "rework", "rework_to": "NOPE"},
        expected=404,
    ).get_json()
    assert r["error"] == "unknown_station"
    assert Station.get_or_none(Station.code == "RW2") is None
    patched = api.call(
        "PATCH", "/api/stations/RET", {"default_action": "rework", "rework_to": "A2"}
    )
    assert patched.get_json()["rework_to"] == "A2"
    cleared = api.call("PATCH", "/api/stations/RET", {"rework_to": None}).get_json()
    assert (cleared["rework_to"], cleared["default_action"]) == (None, "rework")
    bad = api.call("PATCH", "/api/stations/RET", {"rework_to": "NOPE"}, expected=404).get_json()
    assert bad["error"] == "unknown_station"


def test_material_issued_to_an_order_does_not_complete_it(plant, api):
    """Bolts issued to WO-1 lie in work under WO-1; scanned at the end of the line they are
    not a unit WO-1 makes: refused, and the order's completed count stays."""
    _started(plant, qty=1)
    bolts = _in_stock(plant, "BOLT", qty=40, lot="B-2")
    issued = plant.scan("sc-line", bolts, qty=4, expected=201)["item"]
    refused = plant.scan("sc-end", issued, expected=422)
    assert refused["reason"] == "illegal_transition", refused
    assert "WO-1" in refused["message"]
    assert _order(api)["completed"] == 0
    item = api.get(f"/api/items/{issued}").get_json()
    assert (item["stage"], item["order"]) == ("wip", "WO-1")
    assert stock.counters() == stock.recount_from_items()
