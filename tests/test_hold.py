"""Hold and QC: `held` beside the stage, set and cleared by scan (CMD-ACT-HOLD/RELEASE with a
reason, CMD-QC-PASS/FAIL) and by API; a held item refuses everything but release and scrap."""

from __future__ import annotations

import pytest

from server.core import stock
from server.models import Item, LedgerEntry, User
from tests.test_scans import _in_stock, _scan


def _held(code: str) -> Item:
    return Item.get(Item.code == code)


def test_hold_by_scan_then_only_release_or_scrap(plant, db):
    steel = _in_stock(plant, "STEEL", qty=4, lot="H-1")
    plant.scan("sc-line", "CMD-ACT-HOLD", expected=201)
    plant.scan("sc-line", "CMD-WHY-QC_CHECK", expected=201)
    held = plant.scan("sc-line", steel, expected=201)  # an operator may hold
    assert (held["action"], held["stage"]) == ("hold", "raw")
    item = _held(steel)
    assert (item.held, item.held_why) == (True, "QC_CHECK")
    assert User.get_by_id(item.held_by_id).username == "operator1"
    assert LedgerEntry.get(LedgerEntry.scan_id == held["scan_id"]).why == "QC_CHECK"
    plant.order("WO-H", "WIDGET", 1)
    plant.scan("sc-line", "CMD-DONE", expected=201)
    assert plant.scan("sc-line", steel, expected=422)["reason"] == "on_hold"
    assert plant.scan("sc-stores", steel, expected=422)["reason"] == "on_hold"
    plant.scan("sc-line", "CMD-ACT-RELEASE", expected=201)
    plant.scan("sc-line", "CMD-WHY-QC_OK", expected=201)
    refused = plant.scan("sc-line", steel, expected=422)
    assert refused["reason"] == "supervisor_required"
    released = plant.scan("sc-line", steel, as_="supervisor", expected=201)
    assert released["action"] == "release"
    assert (_held(steel).held, _held(steel).held_why) == (False, None)
    assert stock.counters() == stock.recount_from_items()


def test_a_held_item_may_be_scrapped(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    done = plant.scan("sc-line", steel, as_="supervisor", reason="DAMAGED", expected=201)
    assert done["stage"] == "scrapped" and _held(steel).held is False


@pytest.mark.parametrize(
    "labels, as_, expected",
    [
        (["CMD-ACT-HOLD"], "operator", "reason_required"),
        (["CMD-ACT-HOLD", "CMD-WHY-COUNT"], "operator", "reason_not_applicable"),
        (["CMD-ACT-RELEASE", "CMD-WHY-QC_OK"], "supervisor", "not_held"),
        (["CMD-ACT-RELEASE", "CMD-WHY-QC_CHECK"], "supervisor", "reason_not_applicable"),
    ],
)
def test_hold_refusals(plant, db, labels, as_, expected):
    steel = _in_stock(plant, "STEEL", qty=1)
    for label in labels:
        plant.scan("sc-line", label, expected=201)
    answer = plant.scan("sc-line", steel, as_=as_, expected=422)
    assert answer["reason"] == expected
    assert _held(steel).held is False


def test_hold_twice_is_on_hold(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
    again = plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=422)
    assert again.get_json()["error"] == "on_hold"


def test_qc_pass_moves_on_and_qc_fail_holds(plant, db):
    plant.order("WO-Q", "WIDGET", 2)
    good, bad = plant.items("WIDGET", count=2)
    for w in (good, bad):
        plant.scan("sc-a1", w, expected=201)
        plant.scan("sc-a2", w, expected=201)
    fail = plant.scan("sc-qa", "CMD-QC-FAIL", expected=201)
    assert fail["action"] == "command:qc"
    plant.scan("sc-qa", "CMD-WHY-DIMENSION", expected=201)
    held = plant.scan("sc-qa", bad, expected=201)
    assert held["action"] == "hold" and _held(bad).held_why == "DIMENSION"
    plant.scan("sc-qa", "CMD-QC-PASS", expected=201)
    passed = plant.scan("sc-qa", good, expected=201)
    assert (passed["action"], passed["stage"]) == ("move", "wip")
    assert _held(good).station.code == "QA"
    assert plant.scan("sc-qa", bad, expected=422)["reason"] == "on_hold"
    assert plant.scan("sc-qa", "CMD-QC-MAYBE", expected=422)["reason"] == "unknown_action"


def test_hold_and_release_over_the_api(plant, api, db):
    steel = _in_stock(plant, "STEEL", qty=2)
    shown = api.get(f"/api/items/{steel}", as_="operator", expected=200).get_json()
    assert (shown["status"], shown["hold"]) == ("ok", None)
    held = api.post(
        f"/api/items/{steel.lower()}/hold", {"reason": "qc_check"}, as_="operator", expected=200
    ).get_json()
    assert held["status"] == "held"
    assert held["hold"]["reason"] == "QC_CHECK" and held["hold"]["by"] == "operator1"
    assert held["history"][-1]["action"] == "hold" and held["history"][-1]["why"] == "QC_CHECK"
    api.post(f"/api/items/{steel}/release", {"reason": "QC_OK"}, as_="operator", expected=403)
    bad = api.post(
        f"/api/items/{steel}/release", {"reason": "NOPE"}, as_="supervisor", expected=422
    )
    assert bad.get_json()["error"] == "unknown_reason"
    out = api.post(
        f"/api/items/{steel}/release", {"reason": "QC_OK"}, as_="supervisor", expected=200
    ).get_json()
    assert (out["status"], out["hold"]) == ("ok", None)
    again = api.post(
        f"/api/items/{steel}/release", {"reason": "QC_OK"}, as_="supervisor", expected=422
    )
    assert again.get_json()["error"] == "not_held"
    api.post("/api/items/K0000C1S1/hold", {"reason": "DAMAGED"}, expected=404)
    api.post(f"/api/items/{steel}/hold", {}, expected=400)
    (new,) = plant.items("STEEL")
    gone = api.post(f"/api/items/{new}/hold", {"reason": "DAMAGED"}, expected=422).get_json()
    assert gone["error"] == "illegal_transition"


def test_hold_over_mqtt_without_badge_has_no_name(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.scan("sc-line", "CMD-ACT-HOLD", expected=201)
    r = _scan(db, "sc-line", steel, reason="DAMAGED")
    assert r.status == "accepted" and _held(steel).held_by_id is None


def test_picking_by_gtin_passes_held_lots_by(plant, db):
    """A bare-GTIN issue takes the oldest lot that is not held; a release scan by GTIN still
    finds the held one."""
    from tests.conftest import GTIN_BOLT

    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10OLD\x1d3710", expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10NEW\x1d3710", expected=201)
    old = Item.get(Item.lot == "OLD")
    plant.api.post(f"/api/items/{old.code}/hold", {"reason": "QC_CHECK"}, expected=200)
    plant.order("WO-G", "WIDGET", 10)
    issued = plant.scan("sc-line", f"]C101{GTIN_BOLT}", qty=4, expected=201)
    assert Item.get(Item.code == issued["item"]).lot == "NEW"
    plant.scan("sc-line", "CMD-ACT-RELEASE", expected=201)
    plant.scan("sc-line", "CMD-WHY-QC_OK", expected=201)
    released = plant.scan("sc-line", f"]C101{GTIN_BOLT}10OLD", as_="supervisor", expected=201)
    assert released["item"] == old.code and not Item.get(Item.code == old.code).held
