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


@pytest.mark.parametrize(
    "kind, key, body, kept",
    [
        ("products", "NUT", {"name": None, "unit": None, "active": None}, ("name", "unit")),
        ("stations", "A1", {"name": None, "default_action": None, "active": None}, ("name",)),
        ("scanners", "sc-a1", {"name": None, "active": None}, ("name", "station")),
    ],
)
def test_patch_null_keeps_what_cannot_be_emptied(plant, api, kind, key, body, kept):
    """The OpenAPI document declares these fields nullable, as in PATCH /api/orders: a null
    leaves the value as it is (it was a 400 'cannot be null', which schemathesis found)."""
    id_field = {"products": "sku", "stations": "code", "scanners": "id"}[kind]
    (before,) = [x for x in api.get(f"/api/{kind}").get_json()[kind] if x[id_field] == key]
    after = api.call("PATCH", f"/api/{kind}/{key}", body, expected=200).get_json()
    assert after["active"] is True
    for field in kept:
        assert after[field] == before[field], field


def test_patch_a_scanner_off_its_station_and_onto_an_unknown_one(plant, api):
    body = api.call("PATCH", "/api/scanners/sc-a1", {"station": None}, expected=200).get_json()
    assert body["station"] is None
    resp = api.call("PATCH", "/api/scanners/sc-a1", {"station": "NOPE"}, expected=404)
    assert resp.get_json()["error"] == "unknown_station"


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


def test_patch_station_takes_a_whole_number_written_with_a_point(plant, api):
    """JSON Schema's integer admits 5516.0, as POST /api/stations does (schemathesis)."""
    body = {"dwell_limit_minutes": 5516.0}
    answer = api.call("PATCH", "/api/stations/A1", body, expected=200).get_json()
    assert answer["dwell_limit_minutes"] == 5516
    api.call("PATCH", "/api/stations/A1", {"dwell_limit_minutes": 5.5}, expected=400)
