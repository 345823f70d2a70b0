"""Scrap from the floor: the station's `scrap_by` policy (supervisor by default, or any
signed-in worker with a reason from the list), and completing a lot with good and scrap
quantities in one scan (`qty` good plus `scrap_qty` with a reason)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.core import stock
from server.models import Item, LedgerEntry, ProductionOrder, Station
from tests.test_scans import _in_stock, _scan


def _operator_may_scrap(station: str = "LINE") -> None:
    Station.update(policy={"scrap_by": "operator"}).where(Station.code == station).execute()


@pytest.mark.parametrize(
    "policy, as_, reason, note, expected",
    [
        ("operator", "operator", "DAMAGED", None, None),
        ("operator", "operator", None, "dented", "reason_required"),  # a note is not a reason
        ("operator", "operator", "QC_OK", None, "reason_not_applicable"),
        ("operator", "supervisor", None, "dented", None),
        (None, "operator", "DAMAGED", None, "supervisor_required"),
        (None, "supervisor", "DAMAGED", None, None),
        (None, "supervisor", None, "dented", None),
        (None, "supervisor", None, None, "reason_required"),
    ],
)
def test_who_may_scrap(plant, db, policy, as_, reason, note, expected):
    if policy:
        _operator_may_scrap()
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    extra = {k: v for k, v in (("reason", reason), ("note", note)) if v}
    answer = plant.scan("sc-line", steel, as_=as_, **extra)
    assert answer["reason"] == expected, answer
    assert Item.get(Item.code == steel).stage == ("raw" if expected else "scrapped")


def test_operator_scrap_needs_someone_signed_in(plant, db):
    """Over MQTT with no badge at the scanner there is nobody to answer for the scrap."""
    _operator_may_scrap()
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    assert _scan(db, "sc-line", steel, reason="DAMAGED").reason == "operator_required"
    plant.scan("sc-line", "CMD-OP-B-OPERATOR", expected=201)
    assert _scan(db, "sc-line", steel, reason="DAMAGED").status == "accepted"


def test_station_policy_scrap_by_over_the_api(api, plant):
    body = {
        "code": "PK",
        "name": "Pack",
        "default_action": "move",
        "policy": {"scrap_by": "operator"},
    }
    created = api.post("/api/stations", body, expected=201).get_json()
    assert created["policy"]["scrap_by"] == "operator"
    assert Station.get(Station.code == "PK").policy == {"scrap_by": "operator"}
    bad = {**body, "code": "PX", "policy": {"scrap_by": "anyone"}}
    assert api.post("/api/stations", bad, expected=400).get_json()["error"] == "bad_payload"
    listed = {s["code"]: s for s in api.get("/api/stations", expected=200).get_json()["stations"]}
    assert listed["A1"]["policy"]["scrap_by"] == "supervisor"


@pytest.fixture
def paste(plant, api):
    """A lot-tracked finished product, started under a released order: 10 kg in wip."""
    api.post(
        "/api/products",
        {"sku": "PASTE", "name": "Solder paste", "kind": "finished", "tracking": "lot"},
        expected=201,
    )
    plant.order("WO-P", "PASTE", 10)
    (lot,) = plant.items("PASTE", qty=10, lot="P-1")
    plant.scan("sc-a1", lot, expected=201)
    return lot


def test_complete_with_good_and_scrap(plant, db, paste):
    _operator_may_scrap("END")
    answer = plant.scan("sc-end", paste, qty=8, scrap_qty=2, reason="SURFACE", expected=201)
    assert answer["stage"] == "finished" and answer["item"] == paste
    good = Item.get(Item.code == paste)
    (scrap,) = Item.select().where(Item.split_from == good.id)
    assert (Decimal(good.qty), good.stage) == (8, "finished")
    assert (Decimal(scrap.qty), scrap.stage, scrap.lot) == (2, "scrapped", "P-1")
    row = LedgerEntry.get((LedgerEntry.item == scrap.id) & (LedgerEntry.action == "scrap"))
    assert (row.why, row.to_stage) == ("SURFACE", "scrapped")
    assert Decimal(ProductionOrder.get(ProductionOrder.number == "WO-P").completed) == 8
    assert stock.counters() == stock.recount_from_items()


@pytest.mark.parametrize(
    "policy, as_, extra, expected",
    [
        ("operator", "operator", {"qty": 7, "scrap_qty": 2, "reason": "SURFACE"}, "bad_quantity"),
        ("operator", "operator", {"scrap_qty": 10, "reason": "SURFACE"}, "bad_quantity"),
        ("operator", "operator", {"scrap_qty": 2}, "reason_required"),
        ("operator", "operator", {"scrap_qty": 2, "reason": "QC_OK"}, "reason_not_applicable"),
        ("operator", "operator", {"scrap_qty": 2, "reason": "NOPE"}, "unknown_reason"),
        (None, "operator", {"scrap_qty": 2, "reason": "SURFACE"}, "supervisor_required"),
        (None, "supervisor", {"scrap_qty": 2, "note": "smeared"}, "reason_required"),
    ],
)
def test_complete_with_scrap_refusals_change_nothing(
    plant, db, paste, policy, as_, extra, expected
):
    if policy:
        _operator_may_scrap("END")
    answer = plant.scan("sc-end", paste, as_=as_, expected=422, **extra)
    assert answer["reason"] == expected, answer
    item = Item.get(Item.code == paste)
    assert (Decimal(item.qty), item.stage) == (10, "wip")
    assert Item.select().where(Item.split_from == item.id).count() == 0
    assert stock.counters() == stock.recount_from_items()


def test_scrap_qty_only_with_complete(plant, db):
    _operator_may_scrap()
    steel = _in_stock(plant, "STEEL", qty=5)
    answer = plant.scan("sc-line", steel, scrap_qty=1, reason="DAMAGED", expected=422)
    assert answer["reason"] == "bad_quantity"
