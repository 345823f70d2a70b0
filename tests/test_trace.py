"""Traceability across a three-level bill of materials: steel (raw, lot) -> bracket (a
component made in the plant, with its own order and routing) -> widget (finished)."""

from __future__ import annotations

import pytest

from server.models import Item, LedgerEntry
from tests.conftest import GTIN_BOLT


@pytest.fixture
def built(plant, api):
    """Two widgets built from two brackets made of steel lot S-1; one widget shipped."""
    api.put(
        "/api/products/BRACKET/bom", {"lines": [{"component": "STEEL", "qty": 2}]}, expected=200
    )
    api.put("/api/products/BRACKET/routing", {"stations": ["A1"]}, expected=200)
    api.put(
        "/api/products/WIDGET/bom",
        {"lines": [{"component": "BRACKET", "qty": 1}, {"component": "BOLT", "qty": 2}]},
        expected=200,
    )
    s1, s2 = plant.items("STEEL", qty=10, lot="S-1") + plant.items("STEEL", qty=10, lot="S-2")
    for lot in (s1, s2):
        plant.scan("sc-recv", lot, expected=201)
    # level 1 -> 2: brackets from steel S-1
    plant.order("B-1", "BRACKET", 2)
    plant.scan("sc-line", s1, qty=4, expected=201)  # split: 4 kg of S-1 to B-1
    brackets = plant.items("BRACKET", count=2)
    for b in brackets:
        plant.scan("sc-a1", b, expected=201)
        r = plant.scan("sc-end", b, expected=201)
        assert r["stage"] == "component" and r["warnings"] == []
    # level 2 -> 3: widgets from brackets and bolts
    plant.order("W-1", "WIDGET", 2)
    for b in brackets:
        plant.scan("sc-line", b, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-1\x1d3710", expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-1", qty=4, expected=201)
    widgets = plant.items("WIDGET", count=2)
    for w in widgets:
        for scanner in ("sc-a1", "sc-a2", "sc-qa", "sc-end"):
            r = plant.scan(scanner, w, expected=201)
        assert r["stage"] == "finished" and r["warnings"] == []
    plant.scan("sc-ship", widgets[0], expected=201)
    return {"s1": s1, "s2": s2, "brackets": brackets, "widgets": widgets}


def _walk(node, key):
    yield node
    for child in node.get(key) or []:
        yield from _walk(child, key)


def test_trace_down_three_levels(built, api):
    w = built["widgets"][0]
    tree = api.get(f"/api/items/{w}/trace?direction=down", as_="operator", expected=200).get_json()
    root = tree["item"]
    assert (root["code"], root["stage"], root["order"]) == (w, "shipped", "W-1")
    kids = {c["product"]: c for c in root["children"]}
    assert set(kids) == {"BRACKET", "BOLT"}
    assert (kids["BOLT"]["qty"], kids["BOLT"]["lot"]) == (2, "B-1")
    bracket = kids["BRACKET"]
    assert bracket["order"] == "W-1" and bracket["stage"] == "consumed"  # issued to W-1
    (steel,) = bracket["children"]
    assert (steel["product"], steel["lot"], steel["qty"], steel["children"]) == (
        "STEEL",
        "S-1",
        2,
        [],
    )
    assert steel["split_from"] is not None
    assert [n["product"] for n in _walk(root, "children")] == ["WIDGET", "BRACKET", "STEEL", "BOLT"]


def test_trace_up_from_the_lot_label_reaches_both_widgets(built, api):
    tree = api.get(f"/api/items/{built['s1']}/trace?direction=up", as_="operator").get_json()
    root = tree["item"]
    assert root["parent"] is None and root["qty"] == 6  # 6 kg left on the label, at receiving

    def tops(node):
        found = []
        for split in node["splits"]:
            found += tops(split)
        if node.get("parent"):
            p = node["parent"]
            while p.get("parent"):
                p = p["parent"]
            found.append(p["code"])
        return found

    assert sorted(tops(root)) == sorted(built["widgets"])
    # up from one bracket: the widget it went into, and nothing above
    b = built["brackets"][0]
    up = api.get(f"/api/items/{b}/trace?direction=up", as_="operator").get_json()["item"]
    assert up["parent"]["product"] == "WIDGET" and up["parent"]["parent"] is None


def test_recall_finds_every_unit_with_the_lot(built, api):
    out = api.get("/api/recall?product=STEEL&lot=S-1", as_="supervisor", expected=200).get_json()
    units = {u["code"]: u for u in out["units"]}
    assert set(units) == set(built["widgets"])
    shipped, kept = (units[w] for w in built["widgets"])
    assert shipped["stage"] == "shipped" and shipped["shipped_at"] and shipped["completed_at"]
    assert kept["stage"] == "finished" and kept["shipped_at"] is None and kept["completed_at"]
    assert shipped["order"] == shipped["made_order"] == "W-1"
    assert len(shipped["path"]) == 3  # steel part -> bracket -> widget
    assert shipped["path"][1] in built["brackets"] and shipped["path"][2] == shipped["code"]
    assert out["orders"] == ["B-1", "W-1"]
    assert out["in_process"] == []
    lot_codes = {i["code"] for i in out["lot_items"]}
    assert built["s1"] in lot_codes and len(lot_codes) == 3  # the label and the two parts
    assert {i["lot"] for i in out["lot_items"]} == {"S-1"}


def test_recall_of_an_unused_lot_and_of_a_bracket_in_process(built, plant, api):
    out = api.get("/api/recall?product=STEEL&lot=S-2", as_="supervisor").get_json()
    assert out["units"] == [] and out["orders"] == []
    # a bracket made of S-2 but not yet built into a widget is listed as in process
    plant.order("B-2", "BRACKET", 1)
    plant.scan("sc-line", built["s2"], qty=2, expected=201)
    (b,) = plant.items("BRACKET")
    plant.scan("sc-a1", b, expected=201)
    plant.scan("sc-end", b, expected=201)
    out = api.get("/api/recall?product=STEEL&lot=S-2", as_="supervisor").get_json()
    assert out["units"] == []
    assert [(u["code"], u["stage"], u["order"]) for u in out["in_process"]] == [
        (b, "component", "B-2")
    ]


@pytest.mark.parametrize(
    ("path", "as_", "status", "error"),
    [
        ("/api/items/NOPE123/trace", "operator", 404, "unknown_item"),
        ("/api/items/NOPE123/trace?direction=sideways", "operator", 400, "bad_payload"),
        ("/api/recall?product=NOPE&lot=1", "supervisor", 404, "not_found"),
        ("/api/recall?product=STEEL", "supervisor", 400, "bad_payload"),
        ("/api/recall?product=STEEL&lot=S-1", "operator", 403, "forbidden"),
    ],
)
def test_trace_errors(plant, api, path, as_, status, error):
    assert api.get(path, as_=as_, expected=status).get_json()["error"] == error


def test_recall_hold_holds_the_lot_and_what_was_built_from_it(built, plant, api, db):
    # two more brackets of S-1 made (components in stock), one held already by hand
    plant.order("B-3", "BRACKET", 2)
    plant.scan("sc-line", built["s1"], qty=4, expected=201)
    b3, b4 = plant.items("BRACKET", count=2)
    for b in (b3, b4):
        plant.scan("sc-a1", b, expected=201)
        plant.scan("sc-end", b, expected=201)
    api.post(f"/api/items/{b4}/hold", {"reason": "DAMAGED"}, as_="supervisor", expected=200)
    body = {"product": "STEEL", "lot": "S-1", "reason": "qc_check"}
    api.post("/api/recall/hold", body, as_="operator", expected=403)
    for reason, error in (("NOPE", "unknown_reason"), ("QC_OK", "reason_not_applicable")):
        bad = api.post("/api/recall/hold", {**body, "reason": reason}, as_="supervisor")
        assert (bad.status_code, bad.get_json()["error"]) == (422, error)
    missing = api.post("/api/recall/hold", {**body, "product": "NOPE"}, as_="supervisor")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "not_found")
    assert Item.select().where(Item.held).count() == 1  # the refusals changed nothing
    out = api.post("/api/recall/hold", body, as_="supervisor", expected=200).get_json()
    shipped, kept = built["widgets"]
    # the S-1 label (2 kg left after the two splits), the bracket b3 and the finished
    # widget are held; b4 was held already
    held = set(out["held_codes"])
    assert {built["s1"], b3, kept} <= held and b4 not in held
    assert out["already_held_codes"] == [b4] and out["already_held"] == 1
    gone = {g["code"]: g["stage"] for g in out["gone_items"]}
    assert gone[shipped] == "shipped"
    assert all(gone[b] == "consumed" for b in built["brackets"])
    assert out["held"] == len(held) and out["gone"] == len(gone)
    for code in held:
        item = Item.get(Item.code == code)
        assert item.held and item.held_why == "QC_CHECK"
        row = LedgerEntry.select().where(LedgerEntry.item == item.id).order_by(LedgerEntry.id)[-1]
        assert (row.action, row.why, row.origin) == ("hold", "QC_CHECK", "api")
    assert Item.get(Item.code == b4).held_why == "DAMAGED"
    # S-2 and what it went into are untouched
    assert not Item.get(Item.code == built["s2"]).held
    again = api.post("/api/recall/hold", body, as_="supervisor", expected=200).get_json()
    assert again["held"] == 0 and again["already_held"] == out["held"] + 1
