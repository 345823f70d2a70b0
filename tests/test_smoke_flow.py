"""One widget's whole life through the API: receive, issue, start, move, complete, ship."""

from __future__ import annotations

from tests.conftest import GTIN_BOLT


def test_widget_life(plant, api):
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    r = plant.scan("sc-recv", steel, expected=201)
    assert (r["status"], r["stage"]) == ("accepted", "raw")
    bolts = plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-7\x1d3750", expected=201)
    assert bolts["stage"] == "component"
    plant.order("WO-1", "WIDGET", 2)
    r = plant.scan("sc-line", steel, qty=4, expected=201)
    assert r["stage"] == "wip" and r["item"] != steel  # the part taken has a new label
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-7", qty=8, expected=201)
    (w1,) = plant.items("WIDGET")
    plant.scan("sc-a1", w1, expected=201)
    plant.scan("sc-a2", w1, expected=201)
    plant.scan("sc-qa", w1, expected=201)
    r = plant.scan("sc-end", w1, expected=201)
    assert r["stage"] == "finished", r
    item = api.get(f"/api/items/{w1}", expected=200).get_json()
    assert {c["product"] for c in item["children"]} == {"STEEL", "BOLT"}
    order = api.get("/api/orders/WO-1", expected=200).get_json()
    assert order["completed"] == 1 and order["status"] == "in_progress"
    r = plant.scan("sc-ship", w1, expected=201)
    assert r["stage"] == "shipped"
    stock = api.get("/api/stock", expected=200).get_json()
    assert {"stage": "shipped", "count": 1, "qty": 1, "qty_by_unit": {"ea": 1}} in stock["by_stage"]
