"""Shipments over HTTP on both backends: a clerk makes a shipment, the shipping scanner
scans its label `SHP-<ref>` then the units, each shipped unit records it; the recall of the
lot lists the customers who got it; a return names the shipment it came back from; the
item page shows shipment and customer."""

from __future__ import annotations

from server.models import Item, LedgerEntry, Scanner
from tests.test_trace import built  # noqa: F401 - the fixture


def test_a_recall_lists_the_customers_who_got_the_lot(built, plant, api):  # noqa: F811
    first, second = built["widgets"]
    api.post("/api/shipments", {"ref": "do-1", "customer": "PT Maju"}, as_="operator", expected=403)
    made = api.post(
        "/api/shipments",
        {"ref": "do-1", "customer": "PT Maju", "date": "2026-11-30"},
        as_="clerk",
        expected=201,
    ).get_json()
    assert (made["ref"], made["label"], made["site"]) == ("DO-1", "SHP-DO-1", "MAIN")
    api.post("/api/shipments", {"ref": "DO-1", "customer": "x"}, as_="clerk", expected=409)
    unknown = plant.scan("sc-ship", "SHP-NOPE", expected=422)
    assert unknown["reason"] == "unknown_shipment"
    chosen = plant.scan("sc-ship", "SHP-DO-1", expected=201)
    assert (chosen["action"], chosen["message"]) == ("command:shp", "Shipment DO-1: PT Maju")
    shipped = plant.scan("sc-ship", second, expected=201)
    assert shipped["stage"] == "shipped" and "shipment DO-1" in shipped["message"]
    item = Item.get(Item.code == second)
    row = LedgerEntry.get(LedgerEntry.scan_id == shipped["scan_id"])
    assert item.shipment_id == row.shipment_id is not None

    recall = api.get("/api/recall?product=STEEL&lot=S-1", as_="supervisor", expected=200)
    out = recall.get_json()
    units = {u["code"]: u for u in out["units"]}
    assert (units[second]["shipment"], units[second]["customer"]) == ("DO-1", "PT Maju")
    assert units[second]["shipment_date"] == "2026-11-30"
    assert units[first]["customer"] is None  # shipped before shipments existed
    assert out["customers"] == [{"customer": "PT Maju", "shipments": ["DO-1"], "units": [second]}]
    got = api.get("/api/shipments/do-1", as_="operator", expected=200).get_json()
    assert got["units"] == [{"code": second, "stage": "shipped"}]
    assert [
        s["ref"] for s in api.get("/api/shipments", as_="operator").get_json()["shipments"]
    ] == ["DO-1"]

    # the customer sends it back: the return names the shipment
    plant.scan("sc-ship", "CMD-ACT-RETURN", expected=201)
    back = plant.scan("sc-ship", second, as_="supervisor", note="refused", expected=201)
    assert back["stage"] == "finished" and "from shipment DO-1" in back["message"]
    assert LedgerEntry.get(LedgerEntry.scan_id == back["scan_id"]).shipment_id == item.shipment_id
    # CMD-DONE ends the shipment
    plant.scan("sc-ship", "CMD-DONE", expected=201)
    assert Scanner.get_by_id("sc-ship").shipment_id is None
