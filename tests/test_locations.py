"""Places: sites and locations, location labels, receive into a bin, transfer/putaway by
scanning (`LOC-<code>` then the items with the transfer action), the `wrong_location` rule
and the stock by place; over HTTP on both backends."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from server.core import locations, stock
from server.models import Item, LedgerEntry, Location, Scanner
from tests.test_scans import _in_stock


def _stores(plant) -> None:
    """A store with rack A, shelf A-01 and bin A-01-03, and a stores scanner whose plain
    scans receive (the RECV scanner) or transfer (sc-putaway)."""
    api = plant.api
    api.post("/api/locations", {"code": "STORE", "kind": "area", "name": "Main store"},
             expected=201)  # fmt: skip
    api.post("/api/locations", {"code": "A-01", "kind": "area", "parent": "STORE"}, expected=201)
    api.post(
        "/api/locations",
        {"code": "A-01-03", "kind": "bin", "parent": "A-01", "name": "Rack A shelf 1 bin 3"},
        expected=201,
    )
    api.post(
        "/api/stations",
        {"code": "PUT", "name": "Putaway", "default_action": "transfer"},
        expected=201,
    )
    api.post("/api/scanners", {"id": "sc-put", "station": "PUT"}, expected=201)


def _where(code: str) -> str | None:
    item = Item.get(Item.code == code)
    from server.models import Location

    return Location.get_by_id(item.location_id).code if item.location_id else None


def _counters_agree() -> None:
    assert stock.counters() == stock.recount_from_items()
    assert stock.location_counters() == {
        k: v for k, v in stock.recount_locations_from_items().items() if v != (0, 0)
    }


def test_receive_into_a_bin_then_move_two_lots_to_line_side(plant, api, db):
    _stores(plant)
    lot1, lot2 = plant.items("STEEL", count=2, qty=50, lot="H-7")
    # the clerk scans the bin's label, then the lots: received into A-01-03
    answer = plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    assert (answer["action"], answer["location"]) == ("command:loc", "A-01-03")
    assert Scanner.get_by_id("sc-recv").location_id is not None
    for lot in (lot1, lot2):
        got = plant.scan("sc-recv", lot, expected=201)
        assert (got["stage"], got["location"]) == ("raw", "A-01-03")
    assert _where(lot1) == _where(lot2) == "A-01-03"
    # a worker moves both to the line side of LINE: the location label, then the lots
    plant.scan("sc-put", "LOC-LINE", expected=201)
    for lot in (lot1, lot2):
        moved = plant.scan("sc-put", lot, expected=201)
        assert (moved["action"], moved["stage"], moved["location"]) == ("transfer", "raw", "LINE")
        row = LedgerEntry.get(LedgerEntry.scan_id == moved["scan_id"])
        assert (row.from_stage, row.to_stage, row.location_id) == (
            "raw",
            "raw",
            Item.get(Item.code == lot).location_id,
        )
    item = Item.get(Item.code == lot1)
    assert (item.stage, item.station.code) == ("raw", "RECV")  # stage and station stay
    assert _where(lot1) == _where(lot2) == "LINE"
    _counters_agree()
    # stock by place: nothing left under the store, both lots at LINE, kg not added to ea
    store = api.get("/api/stock?location=STORE", as_="operator", expected=200).get_json()
    rows = {r["code"]: r for r in store["places"]["locations"]}
    assert set(rows) == {"STORE", "A-01", "A-01-03"}
    assert rows["STORE"]["total_count"] == 0
    line = api.get("/api/stock?location=LINE", as_="operator", expected=200).get_json()
    (row,) = line["places"]["locations"]
    assert (row["count"], row["qty"]) == (2, {"kg": 100})
    shown = api.get("/api/locations/LINE", as_="operator", expected=200).get_json()
    assert {i["code"] for i in shown["items"]} == {lot1, lot2}


def test_a_receive_without_a_location_label_goes_to_the_station_and_labels_stick(plant, db):
    _stores(plant)
    steel = _in_stock(plant, "STEEL", qty=3)
    assert _where(steel) == "RECV"  # the receiving station's line side
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    a, b = plant.items("STEEL", count=2, qty=1)
    plant.scan("sc-recv", a, expected=201)
    plant.scan("sc-recv", b, expected=201)  # sticky: still A-01-03
    assert _where(a) == _where(b) == "A-01-03"
    plant.scan("sc-recv", "CMD-DONE", expected=201)  # back to the station's own location
    (c,) = plant.items("STEEL", qty=1)
    plant.scan("sc-recv", c, expected=201)
    assert _where(c) == "RECV"


def test_transfer_refusals_and_the_location_rule(plant, api, db):
    _stores(plant)
    steel = _in_stock(plant, "STEEL", qty=2)
    assert plant.scan("sc-put", steel, expected=422)["reason"] == "no_location"
    assert plant.scan("sc-put", "LOC-NOWHERE", expected=422)["reason"] == "unknown_location"
    api.call("PATCH", "/api/locations/A-01-03", {"allow": {"kinds": ["component"]}}, expected=200)
    plant.scan("sc-put", "LOC-A-01-03", expected=201)
    refused = plant.scan("sc-put", steel, expected=422)
    assert refused["reason"] == "wrong_location" and _where(steel) == "RECV"
    # the station's policy may only warn
    api.call("PATCH", "/api/stations/PUT", {"name": "Putaway"}, expected=200)
    from server.models import Station

    Station.update(policy={"wrong_location": "warn"}).where(Station.code == "PUT").execute()
    warned = plant.scan("sc-put", steel, expected=201)
    assert [w["code"] for w in warned["warnings"]] == ["wrong_location"]
    assert _where(steel) == "A-01-03"
    # new, shipped and consumed items have no place to be transferred from
    (new,) = plant.items("STEEL", qty=1)
    assert plant.scan("sc-put", new, expected=422)["reason"] == "illegal_transition"
    # a deactivated location's label is refused; its items stay
    api.call("PATCH", "/api/locations/A-01-03", {"active": False}, expected=200)
    assert plant.scan("sc-put", "LOC-A-01-03", expected=422)["reason"] == "unknown_location"
    assert _where(steel) == "A-01-03"
    _counters_agree()


def test_a_partial_transfer_refused_after_its_split_records_the_lot_scanned(plant, db):
    """The split of a partial transfer happens before the place is checked: a refusal rolls
    the part back and the rejected row names the lot that was scanned, whole."""
    _stores(plant)
    steel = _in_stock(plant, "STEEL", qty=10)
    items_before = Item.select().count()
    refused = plant.scan("sc-put", steel, qty=4, expected=422)
    assert (refused["reason"], refused["item"]) == ("no_location", steel)
    row = LedgerEntry.get(LedgerEntry.scan_id == refused["scan_id"])
    assert (row.status, row.item.code) == ("rejected", steel)
    assert Item.select().count() == items_before
    assert Decimal(Item.get(Item.code == steel).qty) == 10
    _counters_agree()


def test_a_held_lot_transfers_and_stays_held_and_wip_moves_between_line_sides(plant, api, db):
    _stores(plant)
    steel = _in_stock(plant, "STEEL", qty=2)
    api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
    plant.scan("sc-put", "LOC-A-01-03", expected=201)
    moved = plant.scan("sc-put", steel, expected=201)
    assert moved["action"] == "transfer" and Item.get(Item.code == steel).held is True
    # WIP issued at LINE is carried to A1's line side; its order and station stay
    plant.order("WO-T", "WIDGET", 1)
    plant.scan("sc-line", _in_stock(plant, "STEEL", qty=2), expected=201)
    wip = Item.get(Item.stage == "wip")
    plant.scan("sc-put", "LOC-A1", expected=201)
    got = plant.scan("sc-put", wip.code, expected=201)
    assert got["stage"] == "wip" and _where(wip.code) == "A1"
    after = Item.get_by_id(wip.id)
    assert (after.order_id, after.station_id) == (wip.order_id, wip.station_id)
    # part of a lot: the part is split off and transferred, the rest stays
    lot = _in_stock(plant, "STEEL", qty=10)
    part = plant.scan("sc-put", lot, qty=4, expected=201)
    assert part["item"] != lot and [w["code"] for w in part["warnings"]] == ["split"]
    assert _where(part["item"]) == "A1" and _where(lot) == "RECV"
    assert Item.get(Item.code == lot).qty == Decimal(6)
    _counters_agree()


def test_locations_api_tree_and_refusals(plant, api, db):
    _stores(plant)
    api.post("/api/sites", {"code": "PLANT2", "name": "Plant 2"}, expected=201)
    api.post("/api/sites", {"code": "PLANT2", "name": "again"}, expected=409)
    bad = api.post("/api/locations", {"code": "B-1", "kind": "bin"}, expected=400)
    assert bad.get_json()["error"] == "bad_parent"
    api.post("/api/locations", {"code": "X", "kind": "bin", "parent": "NOPE"}, expected=404)
    api.post("/api/locations", {"code": "A-01", "kind": "area"}, expected=409)
    api.post("/api/locations", {"code": "Y", "kind": "area", "allow": {"products": ["NOPE"]}},
             expected=404)  # fmt: skip
    api.post("/api/locations", {"code": "W2", "kind": "area", "site": "PLANT2"}, expected=201)
    cross = api.post(
        "/api/locations", {"code": "W2-1", "kind": "bin", "parent": "A-01", "site": "PLANT2"},
        expected=400,
    )  # fmt: skip
    assert cross.get_json()["error"] == "bad_parent"
    api.call("PATCH", "/api/locations/A-01", {"parent": "A-01-03"}, expected=400)
    api.post("/api/locations", {"code": "Z", "kind": "area"}, as_="operator", expected=403)
    listed = api.get("/api/locations?site=MAIN", as_="operator", expected=200).get_json()
    order = [r["code"] for r in listed["locations"]]
    assert order.index("STORE") < order.index("A-01") < order.index("A-01-03")
    assert "W2" not in order
    by_code = {r["code"]: r for r in listed["locations"]}
    assert by_code["A-01-03"]["depth"] == 2 and by_code["A-01-03"]["label"] == "LOC-A-01-03"
    # every station got its line side
    stations = api.get("/api/stations", as_="operator", expected=200).get_json()["stations"]
    assert {s["code"]: s["location"] for s in stations}["LINE"] == "LINE"
    auth = {"Authorization": f"Bearer {api.tokens['operator']}"}
    svg = api.client.get("/api/labels/LOC-A-01-03.svg", headers=auth)
    assert svg.status_code == 200 and b"A-01-03" in svg.data
    api.get("/api/stock?location=NOPE", as_="operator", expected=404)
    site2 = api.get("/api/stock?site=PLANT2", as_="operator", expected=200).get_json()
    assert [r["code"] for r in site2["places"]["locations"]] == ["W2"]


def test_locations_csv_import_is_all_or_nothing_and_exports_back(plant, api, db):
    from tests.test_import import export, post_csv

    text = (
        "code,kind,name,site,parent,allow_products,allow_kinds,active\r\n"
        "B-01-01,bin,Bin 1,,B-01,STEEL,,true\r\n"  # its parent comes later in the file
        "B,area,Store B,,,,,\r\n"
        "B-01,area,Shelf 1,,B,,raw;component,\r\n"
    )
    bad = text + "B-02-01,bin,No parent,,,,,\r\nB-09,area,x,,,NOPE,,\r\n"
    refused = post_csv(api, "locations", bad, expected=400)
    assert [e["line"] for e in refused["details"]] == [5, 6]
    assert api.get("/api/locations/B", as_="operator", expected=404)
    done = post_csv(api, "locations", text)
    assert (done["created"], done["rows"]) == (3, 3)
    shown = api.get("/api/locations/B-01-01", as_="operator", expected=200).get_json()
    assert (shown["parent"], shown["allow"]) == ("B-01", {"products": ["STEEL"]})
    exported = export(api, "locations")
    assert "B-01,area,Shelf 1,MAIN,B,,component;raw,true" in exported
    again = post_csv(api, "locations", exported)
    assert again["updated"] == 0 and again["created"] == 0
    post_csv(api, "locations", "code,kind\r\nB,area\r\n", as_="supervisor", expected=403)


def test_stock_by_place_depth_a_large_scope_and_a_page_of_many_places(plant, api, db, monkeypatch):
    """`depth` lists fewer levels with the same totals; a subtree too large for an IN list
    is read through its site with the same figures; a scope of more places than the page
    lists shows one level below its top, and says so."""
    from server.core import locations

    _stores(plant)
    api.post("/api/locations", {"code": "A-01-04", "kind": "bin", "parent": "A-01"}, expected=201)
    for code, bin_ in (("H-1", "LOC-A-01-03"), ("H-2", "LOC-A-01-04")):
        plant.scan("sc-recv", bin_, expected=201)
        for lot in plant.items("STEEL", count=2, qty=10, lot=code):
            plant.scan("sc-recv", lot, expected=201)
    (gloves,) = plant.items("GLOVES", count=1)
    plant.scan("sc-recv", "LOC-A-01-04", expected=201)
    plant.scan("sc-recv", gloves, expected=201)

    def places(qs: str) -> dict:
        return api.get(f"/api/stock?{qs}", as_="operator", expected=200).get_json()["places"]

    whole = places("location=STORE")
    rows = {
        r["code"]: (r["depth"], r["count"], r["total_count"], r["qty"]) for r in whole["locations"]
    }
    assert rows == {
        "STORE": (0, 0, 5, {"ea": 1, "kg": 40}),
        "A-01": (1, 0, 5, {"ea": 1, "kg": 40}),
        "A-01-03": (2, 2, 2, {"kg": 20}),
        "A-01-04": (2, 3, 3, {"ea": 1, "kg": 20}),
    }
    assert whole["listed_depth"] is None
    top = places("location=STORE&depth=1")
    assert [(r["code"], r["total_count"]) for r in top["locations"]] == [("STORE", 5), ("A-01", 5)]
    assert top["products"] == whole["products"] and top["listed_depth"] == 1
    only = places("location=STORE&depth=0")
    assert [r["code"] for r in only["locations"]] == ["STORE"]
    api.get("/api/stock?depth=-1", as_="operator", expected=400)
    api.get("/api/stock?depth=one", as_="operator", expected=400)

    # a subtree past the IN-list limit: read by its site, filtered here, the same figures
    monkeypatch.setattr(locations, "_IN_LIMIT", 1)
    assert places("location=STORE") == whole
    assert places("location=A-01-04")["products"] == [
        {
            "sku": "GLOVES",
            "name": "Gloves box",
            "unit": "ea",
            "stage": "supplies",
            "count": 1,
            "qty": 1,
        },
        {
            "sku": "STEEL",
            "name": "Steel sheet",
            "unit": "kg",
            "stage": "raw",
            "count": 2,
            "qty": 20,
        },
    ]

    # many places: the page's listing stops one level below the top
    many = locations.stock_by_place(None, "STORE", most=3)
    assert [r["code"] for r in many["locations"]] == ["STORE", "A-01"]
    assert many["listed_depth"] == 1
    assert locations.stock_by_place(None, "STORE", most=4)["listed_depth"] is None
    plant_top = locations.stock_by_place(None, None, most=3)  # the plant: its top level
    assert plant_top["listed_depth"] == 0
    assert {r["depth"] for r in plant_top["locations"]} == {0}
    assert "STORE" in {r["code"] for r in plant_top["locations"]}
    assert [c for c, _d in locations.choices(None, most=3)] == [
        c for c, _d in locations.choices(None) if c not in ("A-01-03", "A-01-04")
    ]


def test_stock_places_page_by_limit_and_cursor_over_http(plant, api, db):
    """`GET /api/stock?limit=&after=`: the pages list every place of the scope once, in
    tree order, with the figures of the unpaged answer; the last says no more; a bad
    limit is `400 bad_payload`, a bad cursor `400 bad_cursor`; the default limit leaves a
    small scope's answer as it was."""
    _stores(plant)
    for n in range(4, 9):
        api.post("/api/locations", {"code": f"A-01-0{n}", "kind": "bin", "parent": "A-01"},
                 expected=201)  # fmt: skip
    api.post("/api/locations", {"code": "B", "kind": "area", "parent": "STORE"}, expected=201)
    for bin_, n in (("LOC-A-01-03", 1), ("LOC-A-01-05", 2), ("LOC-A-01-08", 3)):
        plant.scan("sc-recv", bin_, expected=201)
        for lot in plant.items("STEEL", count=n, qty=5, lot=f"L{n}"):
            plant.scan("sc-recv", lot, expected=201)

    def get(qs: str, expected: int = 200) -> dict:
        return api.get(f"/api/stock?{qs}", as_="operator", expected=expected).get_json()

    for scope in ("location=STORE", "location=A-01", "", "location=STORE&depth=1"):
        whole = get(scope)["places"]
        assert whole["more"] is False and whole["next"] is None
        for limit in (1, 2, 4):
            rows, qs, pages = [], f"{scope}&limit={limit}", 0
            while True:
                page = get(qs)["places"]
                pages += 1
                assert len(page["locations"]) <= limit
                rows += page["locations"]
                if not page["more"]:
                    assert page["next"] is None
                    break
                qs = f"{scope}&limit={limit}&after={page['next']}"
            assert rows == whole["locations"], (scope, limit)  # each once, in order
            assert pages == -(-len(rows) // limit), (scope, limit)
            assert [r["code"] for r in rows].count("A-01-05") == (0 if "depth" in scope else 1)
    store = {r["code"]: r for r in get("location=STORE")["places"]["locations"]}
    assert (store["STORE"]["total_count"], store["A-01"]["qty"]) == (6, {"kg": 30})
    assert store["A-01-08"]["count"] == 3

    for qs in ("limit=0", "limit=2001", "limit=two", "limit=-1"):
        assert get(qs, 400)["error"] == "bad_payload", qs
    # deeply nested JSON under the length cap: the decoder's RecursionError is a bad
    # cursor too, not a 500
    nested = base64.urlsafe_b64encode(b"[" * 2900).decode().rstrip("=")
    for cursor in ("x", "!!", "bm90IGpzb24", "W1sxLCJBIl0sMl0", "e30", "a" * 5000, nested):
        assert get(f"after={cursor}", 400)["error"] == "bad_cursor", cursor[:40]
    assert get("limit=2000")["places"]["more"] is False


def test_stock_by_place_equals_a_recount_from_the_items_on_random_trees(plant, db, monkeypatch):
    """Random trees over two sites (areas in areas, bins, inactive places), items with
    fractional quantities (0.1 + 0.2 kg: SQLite sums floats) in every stage, some
    without a place: every scope's totals equal a plain sum over the item table, with
    the IN list and through the site alike."""
    import random

    from server.core import locations
    from server.core.stages import ON_HAND
    from server.models import Location, Product, Site

    rng = random.Random(20261130)
    locations.create_site("S2", "Second site")
    units = {p.id: p.unit for p in Product.select()}
    products = sorted(units)
    stages = sorted(s.value for s in ON_HAND) + ["shipped", "new"]
    for n in range(40):
        site = rng.choice(["S2", None])
        parents = [
            loc.code
            for loc in Location.select().where(Location.kind == "area")
            if (Site.get_by_id(loc.site_id).code == "S2") == (site == "S2")
        ]
        kind = rng.choice(["area", "area", "bin", "bin", "line"])
        parent = rng.choice(parents) if parents and (kind == "bin" or rng.random() < 0.7) else None
        if kind == "bin" and parent is None:
            kind = "area"
        loc = locations.create(code=f"P{n}", kind=kind, site=site, parent=parent)
        if rng.random() < 0.15:
            locations.edit(loc, active=False)
    ids = [loc.id for loc in Location.select()] + [None]
    rows = [
        {
            "code": f"RT-{i}",
            "product": rng.choice(products),
            "stage": rng.choice(stages),
            "qty": Decimal(rng.choice(["0.1", "0.2", "0.3", "1.25", "3", "0.0001"])),
            "location_id": rng.choice(ids),
        }
        for i in range(400)
    ]
    Item.insert_many(rows).execute()
    stock.rebuild_locations(db)

    parent_of = {loc.id: loc.parent_id for loc in Location.select()}
    on_hand = {s.value for s in ON_HAND}
    held: dict = {}
    for item in Item.select().where(Item.stage.in_(on_hand)):
        lid = item.location_id or 0
        count, qty = held.setdefault(lid, [0, {}])
        held[lid][0] += 1
        unit = units[item.product_id]
        qty[unit] = qty.get(unit, Decimal(0)) + item.qty

    def expected(lid: int) -> tuple[int, dict]:
        below = [lid]
        for other in parent_of:
            at = parent_of[other]
            while at is not None:
                if at == lid:
                    below.append(other)
                    break
                at = parent_of[at]
        count, qty = 0, {}
        for b in below:
            n, q = held.get(b, [0, {}])
            count += n
            for unit, v in q.items():
                qty[unit] = qty.get(unit, Decimal(0)) + v
        return count, {u: v for u, v in sorted(qty.items()) if v}

    codes = {loc.id: loc.code for loc in Location.select()}
    by_code = {c: i for i, c in codes.items()}

    def check(result: dict) -> None:
        assert result["locations"]
        for row in result["locations"]:
            want = expected(by_code[row["code"]])
            assert (row["total_count"], row["qty"]) == want, row["code"]
            assert row["count"] == held.get(by_code[row["code"]], [0])[0], row["code"]

    site_of = {loc.id: loc.site_id for loc in Location.select()}
    skus = {p.id: (p.sku, p.name, p.unit) for p in Product.select()}

    def products_of(lids: set[int]) -> list[dict]:
        sums: dict[tuple, list] = {}
        for item in Item.select().where(Item.stage.in_(on_hand)):
            if (item.location_id or 0) in lids:
                acc = sums.setdefault((*skus[item.product_id], item.stage), [0, Decimal(0)])
                acc[0] += 1
                acc[1] += item.qty
        return [
            {"sku": k[0], "name": k[1], "unit": k[2], "stage": k[3], "count": n, "qty": q}
            for k, (n, q) in sorted(sums.items())
        ]

    def listed(result: dict, depth: int | None) -> list[tuple]:
        return [
            (r["code"], r["depth"], r["parent"])
            for r in result["locations"]
            if depth is None or r["depth"] <= depth
        ]

    assert stock.stored_totals() == stock.recount_totals_from_items()
    for limit in (500, 2):
        monkeypatch.setattr(locations, "_IN_LIMIT", limit)
        whole = locations.stock_by_place()
        check(whole)
        assert len(whole["locations"]) == len(codes)
        assert whole["unplaced"]["count"] == held.get(0, [0])[0]
        assert whole["products"] == products_of(set(codes) | {0})
        # some levels listed: read from the kept totals, the same places and figures
        for depth in (0, 1, 2):
            part = locations.stock_by_place(depth=depth)
            check(part)
            assert listed(part, None) == listed(whole, depth)
            assert (part["unplaced"], part["products"]) == (whole["unplaced"], whole["products"])
        for site in ("S2", locations.default_site().code):
            every = locations.stock_by_place(site=site)
            check(every)
            sid = locations.site_by_code(site).id
            assert every["products"] == products_of({i for i in codes if site_of[i] == sid})
            for depth in (0, 1, 3):
                part = locations.stock_by_place(site=site, depth=depth)
                check(part)
                assert listed(part, None) == listed(every, depth)
                assert part["products"] == every["products"]
        for code in rng.sample(sorted(by_code), 10):
            every = locations.stock_by_place(location=code)
            check(every)
            below = {by_code[r["code"]] for r in every["locations"]}
            assert every["products"] == products_of(below)
            part = locations.stock_by_place(location=code, depth=1)
            check(part)
            assert listed(part, None) == listed(every, 1)
            assert part["products"] == every["products"]

    # paged (the API's `limit` and `after`): the pages' places, in order, are the unpaged
    # listing, each place once, with the same figures (read from the kept totals)
    def paged(limit: int, **scope) -> list[dict]:
        out, after = [], None
        while True:
            page = locations.stock_by_place(limit=limit, after=after, **scope)
            assert 1 <= len(page["locations"]) <= limit, scope
            check(page)
            out += page["locations"]
            if not page["more"]:
                assert page["next"] is None
                return out
            assert page["next"] and page["next"] != after
            after = page["next"]

    s2 = {locations.site_by_code("S2").id}
    scopes = [{}, {"site": "S2"}, {"site": locations.default_site().code}, {"site_ids": s2}]
    scopes += [{"location": code} for code in rng.sample(sorted(by_code), 6)]
    for scope in scopes:
        for depth in (None, 0, 1, 3):
            every = locations.stock_by_place(depth=depth, **scope)
            for limit in (1, 3, 7):
                pages = paged(limit, depth=depth, **scope)
                assert listed({"locations": pages}, None) == listed(every, None), (scope, limit)
            one = locations.stock_by_place(depth=depth, limit=len(every["locations"]), **scope)
            assert one == every  # a listing in one page: the unpaged answer


def test_stock_by_place_of_a_location_outside_the_users_sites_is_unknown(plant, db):
    """`site_ids` narrows every scope (server/core/locations.py): a location of another
    site is unknown there too, as siteaccess.check_location answers over HTTP; it read the
    location's subtree and its stock whatever the sites."""
    import pytest

    from server.core import locations
    from server.core.errors import NotFound

    _stores(plant)
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    for lot in plant.items("STEEL", count=2, qty=10, lot="H-9"):
        plant.scan("sc-recv", lot, expected=201)
    other = locations.create_site("S2", "Second site")
    home = locations.by_code("STORE").site_id
    assert (
        locations.stock_by_place(location="STORE", site_ids={home})["locations"][0]["total_count"]
        == 2
    )
    with pytest.raises(NotFound) as refused:
        locations.stock_by_place(location="STORE", site_ids={other.id})
    assert refused.value.code == "unknown_location"
    with pytest.raises(NotFound):
        locations.stock_by_place(location="A-01-03", site_ids=set())


def test_moving_a_place_and_changing_a_unit_move_its_totals(plant, api, db):
    """An area moved under another takes its stock to the new area's totals and out of the
    old one's; a product's unit changed by the products import moves its stock to the new
    unit; a site listed one level deep (read from the kept totals) says so at once."""
    from tests.test_import import post_csv

    _stores(plant)
    api.post("/api/locations", {"code": "YARD", "kind": "area"}, expected=201)
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    for lot in plant.items("STEEL", count=2, qty=10, lot="H-1"):
        plant.scan("sc-recv", lot, expected=201)

    def top(qs: str = "site=MAIN&depth=0") -> dict:
        places = api.get(f"/api/stock?{qs}", as_="operator", expected=200).get_json()["places"]
        return {r["code"]: (r["total_count"], r["qty"]) for r in places["locations"]}

    assert top()["STORE"] == (2, {"kg": 20}) and top()["YARD"] == (0, {})
    api.call("PATCH", "/api/locations/A-01", {"parent": "YARD"}, expected=200)
    assert top()["STORE"] == (0, {}) and top()["YARD"] == (2, {"kg": 20})
    deeper = top("site=MAIN&depth=1")
    assert deeper["A-01"] == (2, {"kg": 20}) and "A-01-03" not in deeper
    api.call("PATCH", "/api/locations/A-01", {"parent": "A-01"}, expected=400)  # itself
    assert stock.stored_totals() == stock.recount_totals_from_items()

    post_csv(api, "products", "sku,name,kind,tracking,gtin,unit,reorder_point\n"
             "STEEL,Steel sheet,raw,lot,,t,\n")  # fmt: skip
    assert top()["YARD"] == (2, {"t": 20})
    assert stock.stored_totals() == stock.recount_totals_from_items()
    api.call("PATCH", "/api/locations/A-01", {"parent": None}, expected=200)
    assert top()["A-01"] == (2, {"t": 20}) and top()["YARD"] == (0, {})
    assert stock.stored_totals() == stock.recount_totals_from_items()
    _counters_agree()


def test_a_move_from_a_stale_read_moves_the_totals_from_where_the_place_is(plant, api, db):
    """Two moves of one place race: the second was read before the first committed, so it
    believes the place still under its first parent. The totals leave where the place is
    now (read again under the totals' lock), not where the stale read put it."""
    _stores(plant)
    for code in ("YARD", "YARD2"):
        api.post("/api/locations", {"code": code, "kind": "area"}, expected=201)
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    for lot in plant.items("STEEL", count=2, qty=10, lot="H-1"):
        plant.scan("sc-recv", lot, expected=201)
    stale = locations.by_code("A-01")
    api.call("PATCH", "/api/locations/A-01", {"parent": "YARD"}, expected=200)
    with db.atomic():
        locations.edit(stale, parent="YARD2")
    assert stock.stored_totals() == stock.recount_totals_from_items()
    # back where the stale read had it: still a move (from YARD2), not nothing
    first = locations.codes_of([stale.parent_id])[stale.parent_id]
    with db.atomic():
        locations.edit(stale, parent=first)
    assert stock.stored_totals() == stock.recount_totals_from_items()
    _counters_agree()


def _postgres(db) -> bool:
    import peewee as pw

    return isinstance(getattr(db, "obj", db), pw.PostgresqlDatabase)


def test_two_moves_racing_cannot_make_a_loop(plant, api, db, monkeypatch):
    """YARD is moved under YARD2 while, between that move's first check and its write,
    another admin moves YARD2 under YARD and commits. Each move alone is fine; both would
    be a loop (YARD > YARD2 > YARD), its subtree's totals counted round it for ever. The
    move checks the tree again once it holds the totals' lock, so the second to get there
    is refused (`bad_parent`) and the tree and its totals stay whole.

    PostgreSQL only: on SQLite a writing transaction holds the one write lock from its
    start (BEGIN IMMEDIATE), so the other admin's move cannot land inside it."""
    import threading

    from server.core.errors import DomainError

    if not _postgres(db):
        pytest.skip("SQLite: one writer, held from the transaction's start")
    _stores(plant)
    for code in ("YARD", "YARD2"):
        api.post("/api/locations", {"code": code, "kind": "area"}, expected=201)
    api.call("PATCH", "/api/locations/A-01", {"parent": "YARD2"}, expected=200)
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    for lot in plant.items("STEEL", count=2, qty=10, lot="H-1"):
        plant.scan("sc-recv", lot, expected=201)
    real_check = locations._check_parent
    other: list = []

    def the_other_admin_moves_meanwhile(*args, **kwargs):
        real_check(*args, **kwargs)  # this move's check has passed
        if other:
            return
        other.append("started")

        def move():
            with db.connection_context(), db.atomic():
                locations.edit(locations.by_code("YARD2"), parent="YARD")
            other.append("committed")

        t = threading.Thread(target=move)
        t.start()
        t.join(30)
        assert other[-1] == "committed", other

    monkeypatch.setattr(locations, "_check_parent", the_other_admin_moves_meanwhile)
    with pytest.raises(DomainError) as refused, db.atomic():
        locations.edit(locations.by_code("YARD"), parent="YARD2")
    assert refused.value.code == "bad_parent"
    parents = {loc.code: loc.parent_id for loc in Location.select().where(Location.kind == "area")}
    ids = {loc.code: loc.id for loc in Location.select().where(Location.kind == "area")}
    assert (parents["YARD"], parents["YARD2"]) == (None, ids["YARD"])  # the other's move
    assert stock.stored_totals() == stock.recount_totals_from_items()


def test_a_place_sent_back_with_its_parent_unchanged_takes_no_totals_lock(plant, api, db):
    """The admin page sends a place's whole form back: a rename with the parent it already
    has is no move, and must not take the totals' table lock that every scan batch waits
    for (PostgreSQL). Another session holds that lock here; the rename still commits at
    once, and a real move waits for it (`lock_timeout` turns the wait into an error)."""
    import contextlib

    import psycopg2

    from tests.conftest import POSTGRES_URL

    if not _postgres(db):
        pytest.skip("SQLite: no table locks; one writer at a time")
    _stores(plant)
    api.post("/api/locations", {"code": "YARD", "kind": "area"}, expected=201)
    with contextlib.closing(psycopg2.connect(POSTGRES_URL)) as holder:
        holder.cursor().execute('LOCK TABLE "location_total" IN SHARE ROW EXCLUSIVE MODE')
        with db.atomic():
            db.execute_sql("SET LOCAL lock_timeout = '2s'")
            locations.edit(locations.by_code("A-01"), name="Rack A", parent="STORE")
        assert locations.by_code("A-01").name == "Rack A"
        with pytest.raises(Exception, match="lock timeout"), db.atomic():
            db.execute_sql("SET LOCAL lock_timeout = '200ms'")
            locations.edit(locations.by_code("A-01"), parent="YARD")
        holder.rollback()
    assert locations.by_code("A-01").parent_id == locations.by_code("STORE").id
