"""Deactivating products, stations and scanners (issue #11): through PATCH, what an
inactive one refuses (new items, orders, scans; with a stable reason code) and that
reactivating gives it all back. The history stays."""

from __future__ import annotations

import pytest

from tests.conftest import GTIN_NUT


def test_patch_product_edits_and_deactivates(plant, api):
    resp = api.call(
        "PATCH", "/api/products/NUT", {"name": "Nut M6 zinc", "reorder_point": 50}, expected=200
    )
    assert resp.get_json()["name"] == "Nut M6 zinc"
    assert resp.get_json()["reorder_point"] == 50
    assert resp.get_json()["active"] is True
    body = api.call("PATCH", "/api/products/NUT", {"active": False}, expected=200).get_json()
    assert body["active"] is False and body["name"] == "Nut M6 zinc"
    listed = {p["sku"]: p for p in api.get("/api/products").get_json()["products"]}
    assert listed["NUT"]["active"] is False and listed["BOLT"]["active"] is True

    # no new items, labels or receipts of it
    resp = api.post("/api/items", {"product": "NUT"}, as_="supervisor", expected=409)
    assert resp.get_json()["error"] == "inactive"
    r = plant.scan("sc-recv", f"]C101{GTIN_NUT}21SN-1", expected=422)
    assert r["reason"] == "unknown_product" and "deactivated" in r["message"]

    api.call("PATCH", "/api/products/NUT", {"active": True}, expected=200)
    plant.scan("sc-recv", f"]C101{GTIN_NUT}21SN-1", expected=201)


def test_inactive_product_takes_no_order(plant, api):
    api.call("PATCH", "/api/products/WIDGET", {"active": False}, expected=200)
    body = {"number": "WO-9", "product": "WIDGET", "qty": 1, "start": "2026-12-01"}
    body["due"] = "2026-12-02"
    resp = api.post("/api/orders", body, as_="supervisor", expected=409)
    assert resp.get_json()["error"] == "inactive"


def test_items_of_an_inactive_product_still_move(plant, api):
    """Deactivating stops new stock, not the stock there is: it can still be used up."""
    (steel,) = plant.items("STEEL", qty=10, lot="L-9")
    plant.scan("sc-recv", steel, expected=201)
    api.call("PATCH", "/api/products/STEEL", {"active": False}, expected=200)
    plant.order("WO-3", "WIDGET", 1)
    plant.scan("sc-line", steel, qty=2, expected=201)


@pytest.mark.parametrize(
    "body",
    [{"sku": "X"}, {"kind": "raw"}, {"active": "maybe"}, {"gtin": "123"}, {"name": ""}, []],
)
def test_patch_product_refuses_bad_bodies(plant, api, body):
    resp = api.call("PATCH", "/api/products/NUT", body, expected=400)
    assert resp.get_json()["error"] == "bad_payload"


def test_patch_unknown_ones_are_404(plant, api):
    for path in ("/api/products/NOPE", "/api/stations/NOPE", "/api/scanners/nope"):
        resp = api.call("PATCH", path, {"active": False}, expected=404)
        assert resp.get_json()["error"] == "not_found"


def test_patch_needs_admin(plant, api):
    for path in ("/api/products/NUT", "/api/stations/A1", "/api/scanners/sc-a1"):
        api.call("PATCH", path, {"active": False}, as_="supervisor", expected=403)


def test_inactive_scanner_and_station_refuse_scans(plant, api):
    widget = plant.items("WIDGET", count=2)
    plant.order("WO-4", "WIDGET", 2)
    body = api.call("PATCH", "/api/scanners/sc-a1", {"active": False}, expected=200).get_json()
    assert body["active"] is False
    r = plant.scan("sc-a1", widget[0], expected=422)
    assert (r["reason"], r["message"]) == ("unknown_scanner", "Scanner sc-a1 is deactivated")
    api.call("PATCH", "/api/scanners/sc-a1", {"active": True}, expected=200)
    plant.scan("sc-a1", widget[0], expected=201)

    body = api.call("PATCH", "/api/stations/A1", {"active": False}, expected=200).get_json()
    assert body["active"] is False
    assert {s["code"]: s["active"] for s in api.get("/api/stations").get_json()["stations"]}[
        "A1"
    ] is False
    r = plant.scan("sc-a1", widget[1], expected=422)
    assert (r["reason"], r["message"]) == ("unknown_station", "Station A1 is deactivated")
    api.call("PATCH", "/api/stations/A1", {"active": True}, expected=200)
    plant.scan("sc-a1", widget[1], expected=201)
