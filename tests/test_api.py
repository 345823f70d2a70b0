"""Every JSON API route's success and failure status codes, as the wire contract (docs/api.md) and
issue 2 promise them: resources, roles, malformed bodies, unknown routes and the OpenAPI
document. Table-driven (one row per case); every error answer is checked to be the JSON
`{"error": code, "message": text}` shape. The bugs this suite found are fixed; their
tests stay as regressions.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil

import pytest

import server.api
from server import auth
from server.api import OPERATIONS
from server.core import codes
from server.core.stages import Stage
from tests.conftest import GTIN_BOLT, new_scan_id

# the resource modules register their operations on import; the tables below need them all
for _module in pkgutil.iter_modules(server.api.__path__):
    importlib.import_module(f"server.api.{_module.name}")

TODAY = dt.date.today()
DROP = object()  # a row's override that removes the key from the base body


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def assert_error(resp, status: int, code: str | None = None) -> dict:
    """`resp` is a JSON error answer {"error", "message"[, "details"]} with `status`."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, (resp.status_code, text[:500])
    assert resp.mimetype == "application/json", (resp.mimetype, text[:300])
    assert not text.lstrip().startswith("<"), text[:300]
    body = resp.get_json()
    assert isinstance(body, dict), body
    assert set(body) <= {"error", "message", "details"}, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["message"], str) and body["message"], body
    if code is not None:
        assert body["error"] == code, body
    return body


def check(resp, status: int, code: str | None = None):
    """Assert the status; for 4xx/5xx also the error shape and code. Returns the JSON."""
    if status >= 400:
        return assert_error(resp, status, code)
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.is_json
    return resp.get_json()


def backend(app) -> str:
    return "postgres" if app.config["DATABASE_URL"].startswith("postgres") else "sqlite"


#: values for path parameters; in the role tables WO-P is a planned order, ITEM a new item
PATH_VALUES = {"sku": "WIDGET", "number": "WO-P", "code": "ITEM", "kind": "products", "job_id": "1"}


def concrete(o) -> str:
    """The operation's URL with its path parameters filled in."""
    import re

    return "/api" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_VALUES.get(m.group(1), "X1"), o.rule)


def raw(api, method: str, path: str, data, *, as_="admin", **kw):
    """Send `data` (bytes/str) as the body with a JSON content type."""
    return api.call(method, path, None, as_=as_, data=data, content_type="application/json", **kw)


# --- products -----------------------------------------------------------------------------

PRODUCT = {"sku": "NEW-1", "name": "New part", "kind": "raw"}

PRODUCT_CREATE = [
    ("minimal", {}, 201, None),
    (
        "all fields",
        {"tracking": "lot", "gtin": "4006381333931", "unit": "kg", "reorder_point": 2.5},
        201,
        None,
    ),
    ("gtin-8", {"gtin": "96385074"}, 201, None),
    ("kind finished", {"kind": "finished"}, 201, None),
    ("sku with dot dash underscore", {"sku": "A.b_c-9"}, 201, None),
    ("duplicate sku", {"sku": "WIDGET"}, 409, "exists"),
    ("duplicate gtin", {"gtin": GTIN_BOLT}, 409, "exists"),
    ("gtin bad check digit", {"gtin": "4006381333932"}, 400, "bad_payload"),
    ("gtin 9 digits", {"gtin": "123456789"}, 400, "bad_payload"),
    ("gtin letters", {"gtin": "40063813339AB"}, 400, "bad_payload"),
    ("kind unknown", {"kind": "assembly"}, 400, "bad_payload"),
    ("kind missing", {"kind": DROP}, 400, "bad_payload"),
    ("kind number", {"kind": 5}, 400, "bad_payload"),
    ("tracking unknown", {"tracking": "serial"}, 400, "bad_payload"),
    ("sku empty", {"sku": ""}, 400, "bad_payload"),
    ("sku with space", {"sku": "A B"}, 400, "bad_payload"),
    ("sku starts with dash", {"sku": "-A"}, 400, "bad_payload"),
    ("sku 65 chars", {"sku": "A" * 65}, 400, "bad_payload"),
    ("sku number", {"sku": 12}, 400, "bad_payload"),
    ("sku missing", {"sku": DROP}, 400, "bad_payload"),
    ("name missing", {"name": DROP}, 400, "bad_payload"),
    ("name blank", {"name": "   "}, 400, "bad_payload"),
    ("name 201 chars", {"name": "n" * 201}, 400, "bad_payload"),
    ("unit 17 chars", {"unit": "u" * 17}, 400, "bad_payload"),
    ("reorder_point negative", {"reorder_point": -1}, 400, "bad_payload"),
    ("reorder_point text", {"reorder_point": "abc"}, 400, "bad_payload"),
    ("unknown field", {"colour": "red"}, 400, "bad_payload"),
]


@pytest.mark.parametrize(
    "changes,status,code", [r[1:] for r in PRODUCT_CREATE], ids=[r[0] for r in PRODUCT_CREATE]
)
def test_create_product(plant, api, changes, status, code):
    body = merged(PRODUCT, changes)
    out = check(api.post("/api/products", body), status, code)
    if status == 201:
        assert out["sku"] == body["sku"] and out["kind"] == body["kind"]
        assert out["tracking"] == body.get("tracking", "unit")
        shown = api.get(f"/api/products/{body['sku']}", as_="operator", expected=200).get_json()
        assert shown["sku"] == body["sku"] and shown["bom"] == [] and shown["routing"] == []
        if "gtin" in body:
            assert out["gtin"] == body["gtin"].zfill(14)


def test_list_and_show_products(plant, api):
    listed = api.get("/api/products", as_="operator", expected=200).get_json()["products"]
    assert [p["sku"] for p in listed] == sorted(
        ["STEEL", "BOLT", "NUT", "BRACKET", "WIDGET", "GLOVES"]
    )
    widget = api.get("/api/products/WIDGET", as_="operator", expected=200).get_json()
    assert widget["bom"] == [{"component": "STEEL", "qty": 2}, {"component": "BOLT", "qty": 4}]
    assert widget["routing"] == ["A1", "A2", "QA"]
    check(api.get("/api/products/NOPE", as_="operator"), 404, "not_found")


BOM_CASES = [
    ("replace", "WIDGET", [("STEEL", 1.5), ("GLOVES", 1)], 200, None),
    ("component product", "BRACKET", [("BOLT", 2), ("NUT", 2)], 200, None),
    ("empty clears", "WIDGET", [], 200, None),
    ("unknown component", "WIDGET", [("NOPE", 1)], 404, "unknown_product"),
    ("self reference", "BRACKET", [("BRACKET", 1)], 400, "bad_payload"),
    ("repeated component", "WIDGET", [("STEEL", 1), ("STEEL", 2)], 400, "bad_payload"),
    ("finished as component", "BRACKET", [("WIDGET", 1)], 400, "bad_payload"),
    ("qty zero", "WIDGET", [("STEEL", 0)], 400, "bad_payload"),
    ("qty negative", "WIDGET", [("STEEL", -1)], 400, "bad_payload"),
    ("qty text", "WIDGET", [("STEEL", "abc")], 400, "bad_payload"),
    ("qty 5 decimals", "WIDGET", [("STEEL", 0.00001)], 400, "bad_payload"),
    ("unknown sku", "NOPE", [("STEEL", 1)], 404, "not_found"),
]


@pytest.mark.parametrize(
    "sku,lines,status,code", [r[1:] for r in BOM_CASES], ids=[r[0] for r in BOM_CASES]
)
def test_put_bom(plant, api, sku, lines, status, code):
    body = {"lines": [{"component": c, "qty": q} for c, q in lines]}
    before = api.get("/api/products/WIDGET", expected=200).get_json()["bom"]
    out = check(api.put(f"/api/products/{sku}/bom", body), status, code)
    shown = api.get(f"/api/products/{sku}", expected=None)
    if status == 200:
        assert out == {"sku": sku, **body}
        assert shown.get_json()["bom"] == body["lines"]
    else:  # nothing changed
        assert api.get("/api/products/WIDGET", expected=200).get_json()["bom"] == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"lines": {"component": "STEEL", "qty": 1}},
        {"lines": [{"component": "STEEL"}]},
        {"lines": [{"component": "STEEL", "qty": 1, "uom": "kg"}]},
        {"lines": [], "extra": 1},
        {"lines": [["STEEL", 1]]},
    ],
    ids=["no lines", "lines object", "line without qty", "line extra", "extra", "line array"],
)
def test_put_bom_malformed(api, body):
    check(api.put("/api/products/WIDGET/bom", body), 400, "bad_payload")


ROUTING_CASES = [
    ("replace", "WIDGET", ["A1", "QA"], 200, None),
    ("empty clears", "WIDGET", [], 200, None),
    ("unknown station", "WIDGET", ["A1", "NOPE"], 404, "unknown_station"),
    ("station twice", "WIDGET", ["A1", "A2", "A1"], 400, "bad_payload"),
    ("bad code", "WIDGET", ["A 1"], 400, "bad_payload"),
    ("code number", "WIDGET", [1], 400, "bad_payload"),
    ("unknown sku", "NOPE", ["A1"], 404, "not_found"),
]


@pytest.mark.parametrize(
    "sku,stations,status,code", [r[1:] for r in ROUTING_CASES], ids=[r[0] for r in ROUTING_CASES]
)
def test_put_routing(plant, api, sku, stations, status, code):
    out = check(api.put(f"/api/products/{sku}/routing", {"stations": stations}), status, code)
    routing = api.get("/api/products/WIDGET", expected=200).get_json()["routing"]
    if status == 200:
        assert out == {"sku": sku, "stations": stations}
        assert routing == stations
    else:
        assert routing == ["A1", "A2", "QA"]


# --- stations and scanners ----------------------------------------------------------------

STATION = {"code": "PAINT", "name": "Paint shop", "default_action": "move"}

STATION_CASES = [
    ("minimal", {}, 201, None),
    (
        "all fields",
        {"policy": {"over_plan": "warn"}, "operator_required": True, "dwell_limit_minutes": 30},
        201,
        None,
    ),
    ("every default action", {"default_action": "use"}, 201, None),
    ("bad default_action", {"default_action": "scrap"}, 400, "bad_payload"),
    ("default_action missing", {"default_action": DROP}, 400, "bad_payload"),
    ("policy unknown check", {"policy": {"bogus": "warn"}}, 400, "bad_payload"),
    ("policy bad answer", {"policy": {"over_plan": "ignore"}}, 400, "bad_payload"),
    ("policy not an object", {"policy": ["over_plan"]}, 400, "bad_payload"),
    ("operator_required text", {"operator_required": "maybe"}, 400, "bad_payload"),
    ("dwell zero", {"dwell_limit_minutes": 0}, 400, "bad_payload"),
    ("dwell over a year", {"dwell_limit_minutes": 525601}, 400, "bad_payload"),
    ("duplicate code", {"code": "A1"}, 409, "exists"),
    ("unknown field", {"line": "L1"}, 400, "bad_payload"),
]


@pytest.mark.parametrize(
    "changes,status,code", [r[1:] for r in STATION_CASES], ids=[r[0] for r in STATION_CASES]
)
def test_create_station(plant, api, changes, status, code):
    body = merged(STATION, changes)
    out = check(api.post("/api/stations", body), status, code)
    listed = api.get("/api/stations", as_="operator", expected=200).get_json()["stations"]
    codes_listed = [s["code"] for s in listed]
    if status == 201:
        assert out["code"] == body["code"] and out["default_action"] == body["default_action"]
        # the answer shows the whole policy: defaults plus the station's choices
        assert out["policy"]["not_scheduled"] == "reject"
        for check_name, answer in body.get("policy", {}).items():
            assert out["policy"][check_name] == answer
        assert body["code"] in codes_listed
    else:
        assert codes_listed.count("A1") == 1 and "PAINT" not in codes_listed
    assert codes_listed == sorted(codes_listed)


SCANNER_CASES = [
    ("ok", {"id": "sc-new", "station": "A1"}, 201, None),
    ("with name", {"id": "sc-new", "station": "A1", "name": "Zebra DS2278"}, 201, None),
    ("unknown station", {"id": "sc-new", "station": "NOPE"}, 404, "unknown_station"),
    ("duplicate id", {"id": "sc-a1", "station": "A2"}, 409, "exists"),
    ("station missing", {"id": "sc-new"}, 400, "bad_payload"),
    ("id missing", {"station": "A1"}, 400, "bad_payload"),
    ("id with space", {"id": "sc new", "station": "A1"}, 400, "bad_payload"),
    ("id 65 chars", {"id": "s" * 65, "station": "A1"}, 400, "bad_payload"),
    ("unknown field", {"id": "sc-new", "station": "A1", "secret": "x"}, 400, "bad_payload"),
]


@pytest.mark.parametrize(
    "body,status,code", [r[1:] for r in SCANNER_CASES], ids=[r[0] for r in SCANNER_CASES]
)
def test_create_scanner(plant, api, body, status, code):
    out = check(api.post("/api/scanners", body), status, code)
    listed = api.get("/api/scanners", as_="operator", expected=200).get_json()["scanners"]
    by_id = {s["id"]: s for s in listed}
    if status == 201:
        assert out["id"] == body["id"] and out["station"] == body["station"]
        assert by_id[body["id"]]["station"] == body["station"]
        assert out["operator"] is None and out["order"] is None and out["action"] is None
    else:
        assert "sc-new" not in by_id and by_id["sc-a1"]["station"] == "A1"


# --- orders -------------------------------------------------------------------------------

ORDER = {"number": "WO-NEW", "product": "WIDGET", "qty": 5, "start": day(0), "due": day(3)}

ORDER_CASES = [
    ("ok", {}, 201, None),
    ("with station", {"station": "A1"}, 201, None),
    ("due equals start", {"due": day(0)}, 201, None),
    ("component product", {"product": "BRACKET"}, 201, None),
    ("fractional qty", {"qty": 2.5}, 201, None),
    ("qty as text", {"qty": "2.5"}, 400, "bad_payload"),  # a JSON number, as the schema says
    ("qty rounded to 0.0001", {"qty": 2.00004}, 201, None),
    ("due before start", {"due": day(-1)}, 400, "bad_payload"),
    ("unknown product", {"product": "NOPE"}, 404, "unknown_product"),
    ("raw product", {"product": "STEEL"}, 400, "bad_payload"),
    ("supplies product", {"product": "GLOVES"}, 400, "bad_payload"),
    ("unknown station", {"station": "NOPE"}, 404, "unknown_station"),
    ("duplicate number", {"number": "WO-1"}, 409, "exists"),
    ("qty zero", {"qty": 0}, 400, "bad_payload"),
    ("qty text", {"qty": "abc"}, 400, "bad_payload"),
    ("start not a date", {"start": "tomorrow"}, 400, "bad_payload"),
    ("due missing", {"due": DROP}, 400, "bad_payload"),
    ("unknown field", {"priority": 1}, 400, "bad_payload"),
]


@pytest.mark.parametrize(
    "changes,status,code", [r[1:] for r in ORDER_CASES], ids=[r[0] for r in ORDER_CASES]
)
def test_create_order(plant, api, changes, status, code):
    plant.order("WO-1", "BRACKET", 2, release=False)
    body = merged(ORDER, changes)
    out = check(api.post("/api/orders", body, as_="supervisor"), status, code)
    listed = api.get("/api/orders", as_="operator", expected=200).get_json()["orders"]
    numbers = [o["number"] for o in listed]
    if status == 201:
        assert out["number"] == body["number"] and out["status"] == "planned"
        assert out["product"] == body["product"] and out["station"] == body.get("station")
        assert (out["completed"], out["progress"]) == (0, 0.0)
        assert sorted(numbers) == sorted(["WO-1", body["number"]])
    else:
        assert numbers == ["WO-1"]


RELEASE_STEPS = [
    # (number, status, error code, order status afterwards)
    ("WO-1", 200, None, "released"),
    ("WO-1", 409, "bad_status", "released"),
    ("NOPE", 404, "not_found", None),
]


def test_release_order(plant, api):
    plant.order("WO-1", "BRACKET", 2, release=False)
    for number, status, code, after in RELEASE_STEPS:
        out = check(api.post(f"/api/orders/{number}/release", as_="supervisor"), status, code)
        if status == 200:
            assert out["status"] == after
        if after is not None:
            shown = api.get(f"/api/orders/{number}", as_="operator", expected=200).get_json()
            assert shown["status"] == after


ORDER_FLAG_CASES = [
    # (product, start offset, due offset, release, flags expected)
    # 2 units over 7 days: day 2 expects 0.57, not a whole unit (not behind); day 5 expects 1
    ("WIDGET", -1, 5, True, {"short"}),
    ("WIDGET", -4, 2, True, {"behind", "short"}),
    ("WIDGET", -1, 5, False, {"short"}),
    ("WIDGET", -10, -1, True, {"late", "behind", "short"}),
    ("WIDGET", 1, 5, True, {"short"}),
    ("BRACKET", -1, 5, False, set()),
]


@pytest.mark.parametrize("product,start,due,release,flags", ORDER_FLAG_CASES)
def test_order_flags(plant, api, product, start, due, release, flags):
    body = {"number": "WO-F", "product": product, "qty": 2, "start": day(start), "due": day(due)}
    api.post("/api/orders", body, as_="supervisor", expected=201)
    if release:
        api.post("/api/orders/WO-F/release", as_="supervisor", expected=200)
    shown = api.get("/api/orders/WO-F", as_="operator", expected=200).get_json()
    assert {f["flag"] for f in shown["flags"]} == flags, shown["flags"]
    assert all(isinstance(f["message"], str) for f in shown["flags"])


# (number, body, status, error code, order status afterwards); run in order on WO-1
EDIT_STEPS = [
    ("WO-1", {"qty": 4, "due": day(10)}, 200, None, "planned"),
    ("WO-1", {"station": "A1", "note": "moved to line 1"}, 200, None, "planned"),
    ("WO-1", {}, 200, None, "planned"),
    ("WO-1", {"due": day(-5)}, 400, "bad_payload", "planned"),
    ("WO-1", {"station": "NOPE"}, 404, "unknown_station", "planned"),
    ("NOPE", {"qty": 4}, 404, "not_found", None),
]
CLOSE_STEPS = [
    ("WO-1", {}, 400, "reason_required", "planned"),
    ("WO-1", {"reason": "   "}, 400, "reason_required", "planned"),
    ("WO-1", {"reason": "customer cancelled"}, 200, None, "closed"),
    ("WO-1", {"reason": "again"}, 409, "bad_status", "closed"),
    ("NOPE", {"reason": "x"}, 404, "not_found", None),
]


@pytest.mark.parametrize("kind", ["edit", "close"])
def test_edit_and_close_order(plant, api, kind):
    plant.order("WO-1", "BRACKET", 2, release=False)
    for number, body, status, code, after in EDIT_STEPS if kind == "edit" else CLOSE_STEPS:
        if kind == "edit":
            resp = api.call("PATCH", f"/api/orders/{number}", body, as_="supervisor")
        else:
            resp = api.post(f"/api/orders/{number}/close", body, as_="supervisor")
        out = check(resp, status, code)
        if status == 200:
            assert out["number"] == number and out["status"] == after
            for key in ("qty", "station"):
                if key in body:
                    assert out[key] == body[key]
        if after is not None:
            shown = api.get(f"/api/orders/{number}", as_="operator", expected=200).get_json()
            assert shown["status"] == after
    if kind == "edit":  # nothing can change a closed order
        api.post("/api/orders/WO-1/close", {"reason": "x"}, as_="supervisor", expected=200)
        resp = api.call("PATCH", "/api/orders/WO-1", {"qty": 9}, as_="supervisor")
        check(resp, 409, "bad_status")


LIST_QUERIES = [
    ("", 200, None, ["WO-A", "WO-B"]),
    ("?status=planned", 200, None, ["WO-A"]),
    ("?status=released", 200, None, ["WO-B"]),
    ("?status=open", 200, None, ["WO-A", "WO-B"]),
    ("?status=done,closed", 200, None, []),
    ("?product=BRACKET", 200, None, ["WO-A", "WO-B"]),
    ("?product=NUT", 200, None, []),
    (f"?due_from={day(4)}", 200, None, ["WO-B"]),
    (f"?due_to={day(4)}", 200, None, ["WO-A"]),
    ("?limit=1", 200, None, ["WO-A"]),
    ("?status=bogus", 400, "bad_payload", None),
    ("?status=planned,", 400, "bad_payload", None),
    ("?limit=0", 400, "bad_payload", None),
    ("?limit=x", 400, "bad_payload", None),
    ("?due_from=tomorrow", 400, "bad_payload", None),
    (f"?due_from={day(5)}&due_to={day(1)}", 400, "bad_payload", None),
    ("?colour=red", 400, "bad_payload", None),
]


@pytest.mark.parametrize("query,status,code,numbers", LIST_QUERIES)
def test_list_orders_query(plant, api, query, status, code, numbers):
    for number, due, release in (("WO-A", day(2), False), ("WO-B", day(6), True)):
        body = {"number": number, "product": "BRACKET", "qty": 1, "start": day(0), "due": due}
        api.post("/api/orders", body, as_="supervisor", expected=201)
        if release:
            api.post(f"/api/orders/{number}/release", as_="supervisor", expected=200)
    out = check(api.get(f"/api/orders{query}", as_="operator"), status, code)
    if status == 200:
        assert [o["number"] for o in out["orders"]] == numbers


def test_two_short_orders(plant, api):
    # regression: a second short order once crashed flags._shortages() (IndexError -> 500)
    plant.order("WO-1", "WIDGET", 2, release=False)
    body = {**ORDER, "number": "WO-2"}
    check(api.post("/api/orders", body, as_="supervisor"), 201)
    listed = api.get("/api/orders", as_="operator", expected=200).get_json()["orders"]
    assert [{f["flag"] for f in o["flags"]} for o in listed] == [{"short"}, {"short"}]


def test_order_detail_progress_and_materials(plant, api):
    check(api.get("/api/orders/NOPE", as_="operator"), 404, "not_found")
    plant.order("WO-1", "WIDGET", 2)
    shown = api.get("/api/orders/WO-1", as_="operator", expected=200).get_json()
    assert shown["status"] == "released"
    assert (shown["qty"], shown["completed"], shown["remaining"], shown["progress"]) == (
        2,
        0,
        2,
        0.0,
    )
    assert shown["materials"] == [
        {"material": "BOLT", "needed": 8, "issued": 0, "consumed": 0},
        {"material": "STEEL", "needed": 4, "issued": 0, "consumed": 0},
    ]
    # one widget through the line: issue its material, start, move, complete
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-7\x1d3750", expected=201)
    plant.scan("sc-line", steel, qty=2, expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-7", qty=4, expected=201)
    (w1,) = plant.items("WIDGET")
    for scanner in ("sc-a1", "sc-a2", "sc-qa", "sc-end"):
        plant.scan(scanner, w1, expected=201)
    shown = api.get("/api/orders/WO-1", as_="operator", expected=200).get_json()
    assert shown["status"] == "in_progress"
    assert (shown["completed"], shown["remaining"], shown["progress"]) == (1, 1, 50.0)
    assert shown["materials"] == [
        {"material": "BOLT", "needed": 8, "issued": 4, "consumed": 4},
        {"material": "STEEL", "needed": 4, "issued": 2, "consumed": 2},
    ]


# --- items --------------------------------------------------------------------------------

ITEM_CASES = [
    ("one unit", {"product": "WIDGET"}, 201, None, 1),
    ("count", {"product": "WIDGET", "count": 3}, 201, None, 3),
    ("lot with qty", {"product": "STEEL", "qty": 12.5, "lot": "L-9"}, 201, None, 1),
    ("serial", {"product": "NUT", "serial": "S-1"}, 201, None, 1),
    ("unit with qty 1", {"product": "WIDGET", "qty": 1}, 201, None, 1),
    ("for an order", {"product": "WIDGET", "order": "WO-1"}, 201, None, 1),
    (
        "serial with count>1",
        {"product": "NUT", "serial": "S-1", "count": 2},
        400,
        "bad_quantity",
        0,
    ),
    ("unit product with qty", {"product": "WIDGET", "qty": 5}, 400, "bad_quantity", 0),
    ("unknown product", {"product": "NOPE"}, 404, "unknown_product", 0),
    ("unknown order", {"product": "WIDGET", "order": "NOPE"}, 404, "unknown_order", 0),
    ("count zero", {"product": "WIDGET", "count": 0}, 400, "bad_payload", 0),
    ("count over 10000", {"product": "WIDGET", "count": 10001}, 400, "bad_payload", 0),
    ("count text", {"product": "WIDGET", "count": "x"}, 400, "bad_payload", 0),
    ("count fraction", {"product": "WIDGET", "count": 1.5}, 400, "bad_payload", 0),
    ("qty negative", {"product": "STEEL", "qty": -1}, 400, "bad_payload", 0),
    ("lot 21 chars", {"product": "STEEL", "lot": "L" * 21}, 400, "bad_payload", 0),
    ("product missing", {"count": 1}, 400, "bad_payload", 0),
    ("unknown field", {"product": "WIDGET", "colour": "red"}, 400, "bad_payload", 0),
]


@pytest.mark.parametrize(
    "body,status,code,n", [r[1:] for r in ITEM_CASES], ids=[r[0] for r in ITEM_CASES]
)
def test_create_items(plant, api, body, status, code, n):
    plant.order("WO-1", "WIDGET", 2)
    out = check(api.post("/api/items", body, as_="supervisor"), status, code)
    if status != 201:
        return
    items = out["items"]
    assert len(items) == n and len({i["code"] for i in items}) == n
    for item in items:
        assert item["stage"] == "new" and item["product"] == body["product"]
        assert item["qty"] == body.get("qty", 1) and item["lot"] == body.get("lot")
        assert item["serial"] == body.get("serial") and item["order"] == body.get("order")
        codes.parse(item["code"])  # a well-formed label code
        shown = api.get(f"/api/items/{item['code']}", as_="operator", expected=200).get_json()
        assert shown["code"] == item["code"] and shown["stage"] == "new"


def test_create_items_serial_twice(plant, api):
    api.post("/api/items", {"product": "NUT", "serial": "S-1"}, as_="supervisor", expected=201)
    again = api.post("/api/items", {"product": "NUT", "serial": "S-1"}, as_="supervisor")
    check(again, 400, "bad_payload")


def test_item_detail(plant, api):
    check(api.get("/api/items/NOPE", as_="operator"), 404, "unknown_item")
    check(api.get(f"/api/items/{codes.make_item_code(12345)}", as_="operator"), 404, "unknown_item")
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    plant.scan("sc-recv", steel, scan_id="h-1", expected=201)
    plant.scan("sc-recv", steel, scan_id="h-2", expected=422)  # received twice: illegal
    shown = api.get(f"/api/items/{steel.lower()}", as_="operator", expected=200).get_json()
    assert (shown["code"], shown["stage"], shown["station"], shown["qty"]) == (
        steel,
        "raw",
        "RECV",
        100,
    )
    assert (shown["lot"], shown["order"], shown["parent"], shown["children"]) == (
        "L-1",
        None,
        None,
        [],
    )
    history = [(h["action"], h["scan_id"], h["status"], h["to"]) for h in shown["history"]]
    assert history == [
        ("create", None, "accepted", "new"),
        ("receive", "h-1", "accepted", "raw"),
        ("receive", "h-2", "rejected", None),
    ]
    assert shown["history"][2]["reason"] == "illegal_transition"
    assert shown["history"][0]["operator"] == "supervisor1"


# --- scans --------------------------------------------------------------------------------

SCAN_CASES = [
    # (id, code ("steel" = a new steel item), extra fields, status, reason)
    ("accepted", "steel", {}, 201, None),
    ("with qty", "steel", {"qty": 80}, 201, None),
    ("extra fields ignored", "steel", {"firmware": "1.2", "rssi": -40}, 201, None),
    ("station override", "steel", {"station": "RECV"}, 201, None),
    ("rfc3339 offset", "steel", {"scanned_at": "2026-11-26T09:00:00+01:00"}, 201, None),
    ("scanned_at absent", "steel", {"scanned_at": DROP}, 201, None),
    ("unknown code", "HELLO WORLD", {}, 422, "unknown_code"),
    ("bad check digit", "badcheck", {}, 422, "bad_check_digit"),
    ("unknown item", "unknown", {}, 422, "unknown_item"),
    ("unknown scanner", "steel", {"scanner_id": "sc-nope"}, 422, "unknown_scanner"),
    ("unknown station", "steel", {"station": "NOPE"}, 422, "unknown_station"),
    ("unknown gtin", "]C10100000000000017", {}, 422, "unknown_product"),
]


@pytest.mark.parametrize(
    "code,extra,status,reason", [r[1:] for r in SCAN_CASES], ids=[r[0] for r in SCAN_CASES]
)
def test_scan_status(plant, api, code, extra, status, reason):
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    real = {
        "steel": steel,
        "badcheck": steel[:-1] + ("A" if steel[-1] != "A" else "B"),
        "unknown": codes.make_item_code(12345),
    }.get(code, code)
    base = {"scan_id": new_scan_id(), "scanner_id": "sc-recv", "code": real}
    base["scanned_at"] = "2026-11-26T08:00:00Z"
    resp = api.post("/api/scans", merged(base, extra), as_="operator", expected=status)
    out = resp.get_json()
    assert set(out) == {
        "scan_id",
        "status",
        "duplicate",
        "reason",
        "message",
        "item",
        "stage",
        "warnings",
        "action",
        "location",
    }
    assert out["scan_id"] == base["scan_id"] and out["duplicate"] is False
    assert out["reason"] == reason and isinstance(out["message"], str) and out["message"]
    assert out["status"] == ("accepted" if status == 201 else "rejected")
    if status == 201:
        assert (out["item"], out["stage"]) == (steel, "raw")


@pytest.mark.parametrize("first_status", [201, 422], ids=["accepted", "rejected"])
def test_scan_duplicate(plant, api, first_status):
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    code = steel if first_status == 201 else "HELLO"
    body = {"scan_id": "dup-1", "scanner_id": "sc-recv", "code": code}
    first = api.post("/api/scans", body, as_="operator", expected=first_status).get_json()
    # the same scan_id again, even with another code: the first answer, duplicate: true
    for again_body in (body, {**body, "code": "OTHER"}):
        again = api.post("/api/scans", again_body, as_="operator", expected=200).get_json()
        assert again["duplicate"] is True
        assert {**again, "duplicate": False} == first
    shown = api.get(f"/api/items/{steel}", as_="operator", expected=200).get_json()
    assert [h["scan_id"] for h in shown["history"]].count("dup-1") == (first_status == 201)


SCAN_MALFORMED = [
    ("scan_id missing", {"scan_id": DROP}),
    ("scan_id empty", {"scan_id": ""}),
    ("scan_id with space", {"scan_id": "a b"}),
    ("scan_id 65 chars", {"scan_id": "s" * 65}),
    ("scan_id number", {"scan_id": 5}),
    ("scanner_id missing", {"scanner_id": DROP}),
    ("scanner_id empty", {"scanner_id": ""}),
    ("code missing", {"code": DROP}),
    ("code empty", {"code": ""}),
    ("code 10 KB", {"code": "C" * 10240}),
    ("code object", {"code": {"text": "x"}}),
    ("source nfc", {"source": "nfc"}),
    ("qty zero", {"qty": 0}),
    ("qty -1", {"qty": -1}),
    ("qty abc", {"qty": "abc"}),
    ("qty NaN", {"qty": "NaN"}),
    ("qty Infinity", {"qty": "Infinity"}),
    ("qty -Infinity", {"qty": "-Infinity"}),
    ("qty huge", {"qty": 10**20}),
    ("qty 1e300", {"qty": 1e300}),
    ("qty tiny", {"qty": 1e-9}),
    ("qty list", {"qty": [1]}),
    ("scanned_at yesterday", {"scanned_at": "yesterday"}),
    ("scanned_at 13th month", {"scanned_at": "2026-13-01T00:00:00Z"}),
    ("scanned_at object", {"scanned_at": {"date": "2026-01-01"}}),
    ("station empty", {"station": ""}),
    ("station 33 chars", {"station": "S" * 33}),
    ("note 201 chars", {"note": "n" * 201}),
]


@pytest.mark.parametrize(
    "changes", [r[1] for r in SCAN_MALFORMED], ids=[r[0] for r in SCAN_MALFORMED]
)
def test_scan_malformed(api, changes):
    base = {"scan_id": new_scan_id(), "scanner_id": "sc-recv", "code": "K0000000"}
    body = assert_error(api.post("/api/scans", merged(base, changes), as_="operator"), 400)
    assert body["error"] == "bad_payload" and body["details"]


# --- stock --------------------------------------------------------------------------------


def test_stock(plant, api):
    empty = api.get("/api/stock", as_="operator", expected=200).get_json()
    assert set(empty) == {"by_stage", "by_product", "by_station", "held", "places"}
    assert empty["held"] == []  # held stock apart (tests/web/test_scrap_page.py)
    # every stage, in the table's order, zeros included: a stable shape for clients
    assert empty["by_stage"] == [
        {"stage": s.value, "count": 0, "qty": 0, "qty_by_unit": {}} for s in Stage
    ]
    assert empty["by_product"] == [] and empty["by_station"] == []  # sparse: non-zero rows
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    plant.items("STEEL", qty=50, lot="L-2")
    plant.items("WIDGET", count=2)
    plant.scan("sc-recv", steel, expected=201)
    stock = api.get("/api/stock", as_="operator", expected=200).get_json()
    assert {"stage": "raw", "count": 1, "qty": 100, "qty_by_unit": {"kg": 100}} in (
        stock["by_stage"]
    )
    # kilograms and pieces apart: `qty` adds them (kept as it was), `qty_by_unit` does not
    assert {"stage": "new", "count": 3, "qty": 52, "qty_by_unit": {"ea": 2, "kg": 50}} in (
        stock["by_stage"]
    )
    assert [r["stage"] for r in stock["by_stage"]] == [s.value for s in Stage]
    assert {"stage": "shipped", "count": 0, "qty": 0, "qty_by_unit": {}} in stock["by_stage"]
    assert {"sku": "STEEL", "name": "Steel sheet", "stage": "raw", "count": 1, "qty": 100} in (
        stock["by_product"]
    )
    assert {"sku": "WIDGET", "name": "Widget", "stage": "new", "count": 2, "qty": 2} in (
        stock["by_product"]
    )
    assert stock["by_station"] == [
        {"station": "RECV", "stage": "raw", "count": 1, "qty": 100, "qty_by_unit": {"kg": 100}}
    ]


# --- roles and authentication -------------------------------------------------------------


def _order_body(number: str) -> dict:
    return {"number": number, "product": "BRACKET", "qty": 1, "start": day(0), "due": day(1)}


PRODUCT_BODY = {"sku": "R-1", "name": "Role test", "kind": "raw"}
BOM_BODY = {"lines": [{"component": "STEEL", "qty": 1}]}
ROUTING_BODY = {"stations": ["A1"]}
STATION_BODY = {"code": "R1", "name": "Role test", "default_action": "move"}
SCANNER_BODY = {"id": "sc-role", "station": "A1"}
ITEMS_BODY = {"product": "WIDGET"}
SCAN_BODY = {"scan_id": "role-1", "scanner_id": "sc-recv", "code": "HELLO"}
EDIT_BODY = {"qty": 3}
CLOSE_BODY = {"reason": "customer cancelled"}

# (role, method, path, body, expected status); WO-P is planned, WO-R released
ROLE_CASES = [
    ("operator", "POST", "/api/products", PRODUCT_BODY, 403),
    ("operator", "PUT", "/api/products/WIDGET/bom", BOM_BODY, 403),
    ("operator", "PUT", "/api/products/WIDGET/routing", ROUTING_BODY, 403),
    ("operator", "POST", "/api/stations", STATION_BODY, 403),
    ("operator", "POST", "/api/scanners", SCANNER_BODY, 403),
    ("operator", "POST", "/api/orders", _order_body("WO-N"), 403),
    ("operator", "POST", "/api/orders/WO-P/release", None, 403),
    ("operator", "PATCH", "/api/orders/WO-P", EDIT_BODY, 403),
    ("operator", "POST", "/api/orders/WO-P/close", CLOSE_BODY, 403),
    ("operator", "POST", "/api/items", ITEMS_BODY, 403),
    ("operator", "POST", "/api/scans", SCAN_BODY, 422),
    ("operator", "GET", "/api/products", None, 200),
    ("operator", "GET", "/api/products/WIDGET", None, 200),
    ("operator", "GET", "/api/stations", None, 200),
    ("operator", "GET", "/api/scanners", None, 200),
    ("operator", "GET", "/api/orders", None, 200),
    ("operator", "GET", "/api/orders/WO-R", None, 200),
    ("operator", "GET", "/api/items/ITEM", None, 200),
    ("operator", "GET", "/api/stock", None, 200),
    ("supervisor", "POST", "/api/products", PRODUCT_BODY, 403),
    ("supervisor", "PUT", "/api/products/WIDGET/bom", BOM_BODY, 403),
    ("supervisor", "PUT", "/api/products/WIDGET/routing", ROUTING_BODY, 403),
    ("supervisor", "POST", "/api/stations", STATION_BODY, 403),
    ("supervisor", "POST", "/api/scanners", SCANNER_BODY, 403),
    ("supervisor", "POST", "/api/orders", _order_body("WO-N"), 201),
    ("supervisor", "POST", "/api/orders/WO-P/release", None, 200),
    ("supervisor", "PATCH", "/api/orders/WO-P", EDIT_BODY, 200),
    ("supervisor", "POST", "/api/orders/WO-P/close", CLOSE_BODY, 200),
    ("supervisor", "POST", "/api/items", ITEMS_BODY, 201),
    ("supervisor", "POST", "/api/scans", SCAN_BODY, 422),
    ("supervisor", "GET", "/api/stock", None, 200),
    ("admin", "POST", "/api/products", PRODUCT_BODY, 201),
    ("admin", "PUT", "/api/products/WIDGET/bom", BOM_BODY, 200),
    ("admin", "PUT", "/api/products/WIDGET/routing", ROUTING_BODY, 200),
    ("admin", "POST", "/api/stations", STATION_BODY, 201),
    ("admin", "POST", "/api/scanners", SCANNER_BODY, 201),
    ("admin", "POST", "/api/orders", _order_body("WO-N"), 201),
    ("admin", "POST", "/api/orders/WO-P/release", None, 200),
    ("admin", "PATCH", "/api/orders/WO-P", EDIT_BODY, 200),
    ("admin", "POST", "/api/orders/WO-P/close", CLOSE_BODY, 200),
    ("admin", "POST", "/api/items", ITEMS_BODY, 201),
    ("admin", "POST", "/api/scans", SCAN_BODY, 422),
    ("admin", "GET", "/api/items/ITEM", None, 200),
    # the role is checked before the body: a garbage body still answers 403
    ("operator", "POST", "/api/products", ["not", "an", "object"], 403),
    ("supervisor", "POST", "/api/stations", "garbage", 403),
]
# every operation, no credentials: 401 before anything else (even before body validation)
ANON_CASES = [(o.method.upper(), concrete(o)) for o in OPERATIONS if o.role is not None]
# every operation, every role below the one it needs: 403, derived from the registry
RANKS = ("operator", "supervisor", "admin")
FORBIDDEN_CASES = [
    (role, o.method.upper(), concrete(o))
    for o in OPERATIONS
    if o.role in RANKS
    for role in RANKS[: RANKS.index(o.role)]
]
# the routes of docs/api.md's table (and the order lifecycle): each needs hand rows above
DOCUMENTED = [
    ("POST", "/products"),
    ("GET", "/products"),
    ("GET", "/products/<sku>"),
    ("PUT", "/products/<sku>/bom"),
    ("PUT", "/products/<sku>/routing"),
    ("POST", "/stations"),
    ("GET", "/stations"),
    ("POST", "/scanners"),
    ("GET", "/scanners"),
    ("POST", "/orders"),
    ("GET", "/orders"),
    ("GET", "/orders/<number>"),
    ("POST", "/orders/<number>/release"),
    ("PATCH", "/orders/<number>"),
    ("POST", "/orders/<number>/close"),
    ("POST", "/items"),
    ("GET", "/items/<code>"),
    ("POST", "/scans"),
    ("GET", "/stock"),
]


@pytest.fixture
def role_plant(plant, api):
    plant.order("WO-P", "BRACKET", 1, release=False)
    plant.order("WO-R", "WIDGET", 1)
    (item,) = plant.items("WIDGET")
    return item


def _role_path(path: str, item: str) -> str:
    return path.replace("ITEM", item)


@pytest.mark.parametrize(
    "role,method,path,body,status",
    ROLE_CASES,
    ids=[f"{r[0]}-{r[1]}-{r[2]}-{r[4]}" for r in ROLE_CASES],
)
def test_roles(role_plant, api, role, method, path, body, status):
    resp = api.call(method, _role_path(path, role_plant), body, as_=role)
    if status in (401, 403):
        assert_error(resp, status, {401: "unauthorized", 403: "forbidden"}[status])
    else:
        assert resp.status_code == status, resp.get_data(as_text=True)[:300]


def test_role_table_covers_the_documented_routes():
    registered = {(o.method.upper(), o.rule) for o in OPERATIONS}
    covered = {(m, p) for _r, m, p, _b, _s in ROLE_CASES}
    for method, rule in DOCUMENTED:
        assert (method, rule) in registered, f"{method} {rule} is documented but not served"
        path = concrete(next(o for o in OPERATIONS if (o.method.upper(), o.rule) == (method, rule)))
        wanted = {(method, path), (method, path.replace("WO-P", "WO-R"))}
        assert covered & wanted, f"no role case for {method} {rule}"
    assert len(ANON_CASES) == len([o for o in OPERATIONS if o.role]) >= len(DOCUMENTED)


@pytest.mark.parametrize(
    "role,method,path", FORBIDDEN_CASES, ids=[f"{r}-{m}-{p}" for r, m, p in FORBIDDEN_CASES]
)
def test_forbidden_below_the_needed_role(api, role, method, path):
    # nothing seeded: the role is checked before the body, the path and the database
    resp = api.call(method, path, as_=role, data=b"{not json", content_type="application/json")
    assert_error(resp, 403, "forbidden")


BAD_AUTH = [
    ("no header", None),
    ("unknown token", "Bearer kt_not-a-real-token"),
    ("empty bearer", "Bearer "),
    ("basic auth", "Basic YWRtaW4xOnBhc3N3b3JkMTIz"),
    ("token without scheme", "TOKEN"),
    ("non-ascii token", "Bearer kt_\u00e9\u00e9"),
]


@pytest.mark.parametrize("method,path", ANON_CASES, ids=[f"{m}-{p}" for m, p in ANON_CASES])
@pytest.mark.parametrize("header", [b[1] for b in BAD_AUTH], ids=[b[0] for b in BAD_AUTH])
def test_unauthenticated(client, method, path, header):
    headers = {"Authorization": header} if header is not None else {}
    resp = client.open(path, method=method, data=b"{not json", headers=headers)
    assert_error(resp, 401, "unauthorized")


@pytest.mark.parametrize("how", ["revoked", "inactive"])
def test_dead_token(users, client, how):
    from server.models import ApiToken, User

    user, token = users["admin"]
    if how == "revoked":
        ApiToken.update(revoked=True).where(ApiToken.user == user.id).execute()
    else:
        User.update(active=False).where(User.id == user.id).execute()
    resp = client.get("/api/products", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, 401, "unauthorized")


BROWSER_CASES = [
    # (role, method, X-CSRFToken header: None / "good" / "bad", status, error code)
    ("operator", "GET", None, 200, None),
    ("operator", "POST", None, 400, "csrf_failed"),
    ("operator", "POST", "bad", 400, "csrf_failed"),
    ("operator", "POST", "good", 403, "forbidden"),
    ("supervisor", "POST", "good", 403, "forbidden"),
    ("admin", "POST", None, 400, "csrf_failed"),
    ("admin", "POST", "good", 201, None),
]


@pytest.mark.parametrize("role,method,csrf,status,code", BROWSER_CASES)
def test_browser_session(app, users, client, role, method, csrf, status, code):
    """A signed-in browser needs no token, but its writes need the session's CSRF token."""
    import flask
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context():
        good = generate_csrf()
        raw_token = flask.session["csrf_token"]
    with client.session_transaction() as sess:
        sess.update(auth.session_data(users[role][0]))
        sess["csrf_token"] = raw_token
    headers = {"X-CSRFToken": good if csrf == "good" else "nope"} if csrf else {}
    body = PRODUCT_BODY if method == "POST" else None
    resp = client.open("/api/products", method=method, json=body, headers=headers)
    check(resp, status, code)


# --- malformed bodies on every operation with a body ---------------------------------------

BODY_OPS = {
    "POST /api/products": PRODUCT_BODY,
    "PUT /api/products/WIDGET/bom": BOM_BODY,
    "PUT /api/products/WIDGET/routing": ROUTING_BODY,
    "POST /api/stations": STATION_BODY,
    "POST /api/scanners": SCANNER_BODY,
    "POST /api/orders": _order_body("WO-N"),
    "POST /api/items": ITEMS_BODY,
    "POST /api/scans": SCAN_BODY,
    "PATCH /api/orders/WO-P": EDIT_BODY,
    "POST /api/orders/WO-P/close": CLOSE_BODY,
}

NOT_AN_OBJECT = [
    ("empty body", b""),
    ("not json", b"this is not json"),
    ("truncated", b'{"sku": "A"'),
    ("trailing garbage", b"{} {}"),
    ("single quotes", b"{'sku': 'A'}"),
    ("invalid utf-8", b'{"sku": "\xff\xfe"}'),
    ("utf-16 bom", "\ufeff{}".encode("utf-16")),
    ("json array", b"[]"),
    ("json array of object", b'[{"sku": "A"}]'),
    ("json string", b'"hello"'),
    ("json number", b"5"),
    ("json true", b"true"),
    ("json null", b"null"),
    ("NaN literal", b"NaN"),
    ("huge integer", b"9" * 5000),
]


# every operation with a JSON body, from the registry (new operations are included)
JSON_BODY_OPS = [f"{o.method.upper()} {concrete(o)}" for o in OPERATIONS if o.body is not None]


def test_body_ops_cover_the_documented_routes():
    for key in BODY_OPS:
        assert key in JSON_BODY_OPS, f"{key} has no body model any more"


@pytest.mark.parametrize("op_key", JSON_BODY_OPS)
@pytest.mark.parametrize("data", [r[1] for r in NOT_AN_OBJECT], ids=[r[0] for r in NOT_AN_OBJECT])
def test_body_not_an_object(api, op_key, data):
    method, path = op_key.split(" ")
    assert_error(raw(api, method, path, data), 400, "bad_payload")


@pytest.mark.parametrize("op_key", JSON_BODY_OPS)
def test_body_unknown_field(plant, api, op_key):
    method, path = op_key.split(" ")
    body = {**BODY_OPS.get(op_key, {}), "unexpected_field": {"nested": [1, 2, 3]}}
    resp = api.call(method, path, body)
    if path == "/api/scans":  # the scan payload ignores fields it does not know
        assert resp.status_code == 422 and resp.get_json()["reason"] == "unknown_code"
    else:
        body = assert_error(resp, 400, "bad_payload")
        assert any("unexpected_field" in d["loc"] for d in body["details"]), body


TEN_KB = "x" * 10240

# (operation, field changes, on top of the operation's valid body): each must answer 400
WRONG_TYPES = [
    ("POST /api/products", {"kind": 5}),
    ("POST /api/products", {"sku": None}),
    ("POST /api/products", {"sku": TEN_KB}),
    ("POST /api/products", {"name": TEN_KB}),
    ("POST /api/products", {"name": {"en": "x"}}),
    ("POST /api/products", {"unit": TEN_KB}),
    ("POST /api/products", {"reorder_point": "NaN"}),
    ("POST /api/products", {"reorder_point": "Infinity"}),
    ("POST /api/products", {"reorder_point": 10**20}),
    ("POST /api/products", {"tracking": ["unit"]}),
    ("POST /api/products", {"gtin": 4006381333931}),
    ("POST /api/products", {"sku": "A\x00"}),
    ("PUT /api/products/WIDGET/bom", {"lines": "STEEL"}),
    ("PUT /api/products/WIDGET/bom", {"lines": None}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": "STEEL", "qty": "abc"}]}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": "STEEL", "qty": "NaN"}]}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": "STEEL", "qty": "-Infinity"}]}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": "STEEL", "qty": 1e300}]}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": TEN_KB, "qty": 1}]}),
    ("PUT /api/products/WIDGET/bom", {"lines": [{"component": "STEEL", "qty": 1}] * 501}),
    ("PUT /api/products/WIDGET/routing", {"stations": "A1"}),
    ("PUT /api/products/WIDGET/routing", {"stations": [{"code": "A1"}]}),
    ("PUT /api/products/WIDGET/routing", {"stations": ["A1"] * 101}),
    ("POST /api/stations", {"default_action": 5}),
    ("POST /api/stations", {"name": TEN_KB}),
    ("POST /api/stations", {"policy": {"over_plan": None}}),
    ("POST /api/stations", {"dwell_limit_minutes": "x"}),
    ("POST /api/stations", {"dwell_limit_minutes": 10**30}),
    ("POST /api/stations", {"operator_required": [True]}),
    ("POST /api/scanners", {"id": 17}),
    ("POST /api/scanners", {"station": ["A1"]}),
    ("POST /api/scanners", {"name": 5}),
    ("POST /api/orders", {"qty": "abc"}),
    ("POST /api/orders", {"qty": -1}),
    ("POST /api/orders", {"qty": "NaN"}),
    ("POST /api/orders", {"qty": "Infinity"}),
    ("POST /api/orders", {"qty": 10**15}),
    ("POST /api/orders", {"start": "yesterday"}),
    ("POST /api/orders", {"start": 20260101}),
    ("POST /api/orders", {"due": "2026-02-30"}),
    ("POST /api/orders", {"number": TEN_KB}),
    ("POST /api/orders", {"product": {"sku": "WIDGET"}}),
    ("POST /api/items", {"count": "x"}),
    ("POST /api/items", {"count": -1}),
    ("POST /api/items", {"count": 10**30}),
    ("POST /api/items", {"qty": "abc"}),
    ("POST /api/items", {"qty": -1}),
    ("POST /api/items", {"qty": "NaN"}),
    ("POST /api/items", {"qty": "Infinity"}),
    ("POST /api/items", {"qty": True}),
    ("POST /api/items", {"lot": TEN_KB}),
    ("POST /api/items", {"serial": ["S1"]}),
    ("POST /api/items", {"order": "WO 1"}),
    ("POST /api/scans", {"qty": "abc"}),
    ("POST /api/scans", {"scanned_at": "yesterday"}),
    ("POST /api/scans", {"source": 5}),
    ("POST /api/scans", {"scan_id": "a\x00b"}),
    ("POST /api/scans", {"code": TEN_KB}),
    ("POST /api/scans", {"note": TEN_KB}),
    ("PATCH /api/orders/WO-P", {"qty": "abc"}),
    ("PATCH /api/orders/WO-P", {"qty": 0}),
    ("PATCH /api/orders/WO-P", {"due": "yesterday"}),
    ("PATCH /api/orders/WO-P", {"station": 5}),
    ("PATCH /api/orders/WO-P", {"note": TEN_KB}),
    ("POST /api/orders/WO-P/close", {"reason": 5}),
    ("POST /api/orders/WO-P/close", {"reason": TEN_KB}),
]


@pytest.mark.parametrize(
    "op_key,changes",
    WRONG_TYPES,
    ids=[f"{k}-{next(iter(c))}-{i}" for i, (k, c) in enumerate(WRONG_TYPES)],
)
def test_body_wrong_types(api, op_key, changes):
    method, path = op_key.split(" ")
    body = assert_error(api.call(method, path, {**BODY_OPS[op_key], **changes}), 400)
    assert body["error"] == "bad_payload" and isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"loc", "msg", "type"}
        assert TEN_KB not in json.dumps(detail)  # the input is not echoed back


RAW_BODIES = [
    ("NaN literal qty", "POST /api/items", b'{"product": "WIDGET", "qty": NaN}'),
    ("Infinity literal qty", "POST /api/items", b'{"product": "WIDGET", "qty": Infinity}'),
    ("1e400 qty", "POST /api/items", b'{"product": "WIDGET", "qty": 1e400}'),
    ("lone surrogate", "POST /api/products", b'{"sku": "A", "name": "\\ud800", "kind": "raw"}'),
    ("duplicate keys", "POST /api/items", b'{"product": "WIDGET", "count": 1, "count": "x"}'),
]


@pytest.mark.parametrize("op_key,data", [r[1:] for r in RAW_BODIES], ids=[r[0] for r in RAW_BODIES])
def test_raw_bodies(api, op_key, data):
    method, path = op_key.split(" ")
    assert_error(raw(api, method, path, data), 400, "bad_payload")


# --- unknown routes and wrong methods ------------------------------------------------------

ROUTE_ERRORS = [
    ("GET", "/api/whatever", 404, "not_found"),
    ("POST", "/api/whatever", 404, "not_found"),
    ("GET", "/api", 404, "not_found"),
    ("GET", "/api/", 404, "not_found"),
    ("GET", "/api/products/WIDGET/unknown", 404, "not_found"),
    ("GET", "/api/orders/WO-1/release", 405, "method_not_allowed"),
    ("DELETE", "/api/products", 405, "method_not_allowed"),
    ("DELETE", "/api/products/WIDGET", 405, "method_not_allowed"),
    ("GET", "/api/products/WIDGET/bom", 405, "method_not_allowed"),
    ("POST", "/api/products/WIDGET/routing", 405, "method_not_allowed"),
    ("PUT", "/api/stations", 405, "method_not_allowed"),
    ("DELETE", "/api/scanners", 405, "method_not_allowed"),
    ("GET", "/api/scans", 405, "method_not_allowed"),
    ("POST", "/api/stock", 405, "method_not_allowed"),
    ("POST", "/api/openapi.json", 405, "method_not_allowed"),
    ("PUT", "/api/items/ABC", 405, "method_not_allowed"),
]


@pytest.mark.parametrize("as_", [None, "admin"], ids=["anonymous", "admin"])
@pytest.mark.parametrize("method,path,status,code", ROUTE_ERRORS)
def test_route_errors(api, method, path, status, code, as_):
    assert_error(api.call(method, path, as_=as_), status, code)


# --- the OpenAPI document -----------------------------------------------------------------


def _openapi(api) -> dict:
    return api.get("/api/openapi.json", as_=None, expected=200).get_json()


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _openapi_path(rule: str) -> str:
    import re

    return "/api" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_openapi_document(api):
    doc = _openapi(api)
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] and doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    assert {"bearer", "session"} <= set(doc["components"]["securitySchemes"])
    for o in OPERATIONS:
        entry = doc["paths"][_openapi_path(o.rule)][o.method]
        assert entry["responses"] and entry["summary"] and entry["operationId"]
        if o.body is not None:
            ref = entry["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{o.body.__name__}"
            # generated from the same model that validates
            expected = o.body.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="validation"
            )
            expected.pop("$defs", None)
            assert schemas[o.body.__name__] == expected
        if o.role is not None:
            assert {"401", "403"} <= set(entry["responses"])
            assert entry["security"]
        params = entry.get("parameters", [])
        for name in {p["name"] for p in params if p["in"] == "path"}:
            assert "{" + name + "}" in _openapi_path(o.rule)
        # every query parameter the server reads is declared (GET /api/recall once
        # declared none and needed two)
        query = {p["name"]: p["required"] for p in params if p["in"] == "query"}
        if o.query is not None:
            fields = o.query.model_fields.values()
            assert set(query) == {f.alias or n for n, f in o.query.model_fields.items()}
            assert sum(query.values()) == sum(f.is_required() for f in fields)
        else:
            assert not query
    operations = {(p, m) for p, ms in doc["paths"].items() for m in ms}
    assert len(operations) == len(OPERATIONS)
    refs = list(_refs(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    scans = doc["paths"]["/api/scans"]["post"]["responses"]
    assert {"200", "201", "400", "422"} <= set(scans)


def test_openapi_operation_ids_unique(api):
    doc = _openapi(api)
    ids = [e["operationId"] for ms in doc["paths"].values() for e in ms.values()]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_openapi_error_responses_documented(api):
    doc = _openapi(api)
    missing = []
    for path, methods in doc["paths"].items():
        for method, entry in methods.items():
            for status, resp in entry["responses"].items():
                if int(status) >= 400 and "application/json" not in resp.get("content", {}):
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing


def test_openapi_validates(api):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(_openapi(api))


# --- regressions of bugs this suite found ------------------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_scanned_at_out_of_range(plant, api, when):
    body = {"scan_id": new_scan_id(), "scanner_id": "sc-recv", "code": "X", "scanned_at": when}
    assert_error(api.post("/api/scans", body, as_="operator"), 400, "bad_payload")


@pytest.mark.parametrize("op_key", ["POST /api/products", "POST /api/scans"])
def test_deeply_nested_json(api, op_key):
    method, path = op_key.split(" ")
    data = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_error(raw(api, method, path, data), 400, "bad_payload")


FREE_TEXT_TOO_LONG = [
    (
        "station code 33-64 chars",
        "POST /api/stations",
        {**STATION_BODY, "code": "S" * 40},
        "StationIn.code is Code (64 chars) but Station.code is varchar(32): SQLite stores "
        "it, PostgreSQL raises DataError -> 500",
    ),
    (
        "scanner name 10 KB",
        "POST /api/scanners",
        {**SCANNER_BODY, "name": TEN_KB},
        "ScannerIn.name has no max_length but Scanner.name is varchar(200): SQLite stores "
        "10 KB, PostgreSQL raises DataError -> 500",
    ),
]


@pytest.mark.parametrize(
    "op_key,body,why", [r[1:] for r in FREE_TEXT_TOO_LONG], ids=[r[0] for r in FREE_TEXT_TOO_LONG]
)
def test_text_longer_than_its_column(request, app, plant, api, op_key, body, why):
    method, path = op_key.split(" ")
    assert_error(api.call(method, path, body), 400, "bad_payload")


NUL_FIELDS = [
    ("product name", "POST /api/products", {**PRODUCT_BODY, "name": "a\x00b"}),
    ("product unit", "POST /api/products", {**PRODUCT_BODY, "unit": "k\x00g"}),
    ("station name", "POST /api/stations", {**STATION_BODY, "name": "a\x00b"}),
    ("scanner name", "POST /api/scanners", {**SCANNER_BODY, "name": "a\x00b"}),
    ("item lot", "POST /api/items", {"product": "STEEL", "lot": "L\x001"}),
    ("item serial", "POST /api/items", {"product": "NUT", "serial": "S\x001"}),
]


@pytest.mark.parametrize("op_key,body", [r[1:] for r in NUL_FIELDS], ids=[r[0] for r in NUL_FIELDS])
def test_nul_in_free_text(request, app, plant, api, op_key, body):
    method, path = op_key.split(" ")
    assert_error(api.call(method, path, body, as_="admin"), 400, "bad_payload")


@pytest.mark.parametrize(
    "path,code",
    [
        ("/api/items/A%00B", "not_found"),
        ("/api/orders/A%00B", "not_found"),
        ("/api/products/A%00B", "not_found"),
    ],
)
def test_nul_in_path(request, app, api, path, code):
    assert_error(api.get(path, as_="operator"), 404, code)


@pytest.mark.parametrize("field", ["code", "note", "station", "scanner_id"])
def test_nul_in_scan_payload(request, app, plant, api, field):
    body = {"scan_id": new_scan_id(), "scanner_id": "sc-recv", "code": "HELLO"}
    body[field] = body.get(field, "X") + "\x00"
    resp = api.post("/api/scans", body, as_="operator")
    if resp.status_code == 400:
        assert_error(resp, 400, "bad_payload")
    else:
        assert resp.status_code == 422 and resp.get_json()["reason"] != "server_error"


@pytest.mark.parametrize(
    "create,body,url",
    [
        (
            "/api/products",
            {"sku": "A/B", "name": "Slash", "kind": "raw"},
            "/api/products/A%2FB",
        ),
        ("/api/orders", _order_body("WO/1"), "/api/orders/WO%2F1"),
    ],
    ids=["product", "order"],
)
def test_code_with_slash_is_addressable(plant, api, create, body, url):
    created = api.post(create, body)
    if created.status_code == 400:  # refusing '/' at creation is fine too
        assert_error(created, 400, "bad_payload")
    else:
        assert created.status_code == 201
        api.get(url, as_="operator", expected=200)


def test_gtin_unicode_digits(plant, api):
    body = {
        **PRODUCT_BODY,
        "gtin": "\u0664\u0660\u0660\u0666\u0663\u0668\u0661\u0663\u0663\u0663\u0669\u0663\u0661",
    }  # 4006381333931 in Arabic-Indic digits
    assert_error(api.post("/api/products", body), 400, "bad_payload")


def test_bom_cycle(plant, api):
    api.put("/api/products/NUT/bom", {"lines": [{"component": "BRACKET", "qty": 1}]}, expected=200)
    resp = api.put("/api/products/BRACKET/bom", {"lines": [{"component": "NUT", "qty": 1}]})
    assert_error(resp, 400, "bad_payload")


@pytest.mark.parametrize(("language", "status"), [("id", 201), (None, 201), ("Bahasa", 400)])
def test_station_language(api, language, status):
    body = {"code": "LANG", "name": "Lang", "default_action": "move", "language": language}
    answer = api.post("/api/stations", body, expected=status).get_json()
    if status == 201:
        assert answer["language"] == language
        listed = {s["code"]: s for s in api.get("/api/stations").get_json()["stations"]}
        assert listed["LANG"]["language"] == language
    else:
        assert answer["error"] == "bad_payload"
