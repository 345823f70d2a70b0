"""Each way /api/openapi.json had drifted from what the server does, pinned one by one (the
schemathesis run in test_api_schemathesis.py finds them all; these say which is which)."""

from __future__ import annotations

import pytest


def doc(api) -> dict:
    return api.get("/api/openapi.json", as_=None, expected=200).get_json()


def operation(api, method: str, path: str) -> dict:
    return doc(api)["paths"][path][method]


def test_recall_declares_its_two_query_parameters(api):
    params = operation(api, "get", "/api/recall")["parameters"]
    assert {(p["name"], p["in"], p["required"]) for p in params} == {
        ("product", "query", True),
        ("lot", "query", True),
    }


def test_every_query_model_is_declared(api):
    schedule = {p["name"] for p in operation(api, "get", "/api/schedule")["parameters"]}
    assert schedule == {"from", "to", "bucket"}
    orders = {p["name"] for p in operation(api, "get", "/api/orders")["parameters"]}
    assert orders == {"status", "product", "due_from", "due_to", "limit"}


def test_stock_declares_its_paging(api):
    """`limit` (bounded, with its default) and `after` are in the document, and the 400
    of a bad one is declared (issue 16)."""
    op = operation(api, "get", "/api/stock")
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"site", "location", "depth", "limit", "after"}
    limit = params["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 2000, 500), limit
    assert "400" in op["responses"]


def _qty_schema(api, component: str, field: str) -> dict:
    return doc(api)["components"]["schemas"][component]["properties"][field]


def test_decimal_fields_are_bounded_numbers_in_the_schema(api):
    qty = _qty_schema(api, "BomLineIn", "qty")
    assert qty["type"] == "number", qty  # no "string" branch that lets "" through
    assert qty["minimum"] == 0.0001 and qty["maximum"] < 1e15, qty  # 1e308 is out


@pytest.mark.parametrize("qty", ["", "5", 1e308, 0, -1, True])
def test_decimal_fields_refuse_what_the_schema_refuses(plant, api, qty):
    body = {"lines": [{"component": "STEEL", "qty": qty}]}
    resp = api.put("/api/products/WIDGET/bom", body, expected=400)
    assert resp.get_json()["error"] == "bad_payload"


def test_quantities_round_to_the_stored_step(plant, api):
    body = {"lines": [{"component": "STEEL", "qty": 2.00004}, {"component": "BOLT", "qty": 1.5}]}
    out = api.put("/api/products/WIDGET/bom", body, expected=200).get_json()
    assert [ln["qty"] for ln in out["lines"]] == [2, 1.5]


@pytest.mark.parametrize("value", [0.0, 1.0, 0, 1, "true", "yes", None])
def test_a_boolean_is_true_or_false(plant, api, value):
    body = {"code": "B1", "name": "Bool", "default_action": "move", "operator_required": value}
    resp = api.post("/api/stations", body, expected=400)
    assert resp.get_json()["error"] == "bad_payload"


@pytest.mark.parametrize("value", [60, 60.0])
def test_an_integer_may_be_written_60_0(plant, api, value):
    body = {"code": "I1", "name": "Int", "default_action": "move", "dwell_limit_minutes": value}
    assert api.post("/api/stations", body, expected=201).get_json()["dwell_limit_minutes"] == 60


@pytest.mark.parametrize("value", ["60", True, 60.5])
def test_an_integer_is_not_text_or_a_fraction(plant, api, value):
    body = {"code": "I2", "name": "Int", "default_action": "move", "dwell_limit_minutes": value}
    api.post("/api/stations", body, expected=400)


@pytest.mark.parametrize("qs", ["?due_to=0", "?due_to=1700000000", "?limit=1.0", "?limit=ten"])
def test_query_dates_and_numbers_are_what_they_say(plant, api, qs):
    # pydantic alone reads "0" as 1970-01-01 and "1.0" as 1
    assert api.get(f"/api/orders{qs}", as_="operator", expected=400).get_json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", "/api/items", {"product": "NOPE"}, "unknown_product"),
        ("POST", "/api/items", {"product": "WIDGET", "order": "NOPE"}, "unknown_order"),
        (
            "POST",
            "/api/orders",
            {
                "number": "W9",
                "product": "NOPE",
                "qty": 1,
                "start": "2026-01-01",
                "due": "2026-01-02",
            },
            "unknown_product",
        ),
        ("POST", "/api/scanners", {"id": "sc-9", "station": "NOPE"}, "unknown_station"),
        (
            "PUT",
            "/api/products/WIDGET/bom",
            {"lines": [{"component": "NOPE", "qty": 1}]},
            "unknown_product",
        ),
        ("PUT", "/api/products/WIDGET/routing", {"stations": ["NOPE"]}, "unknown_station"),
        ("POST", "/api/labels", {"receive": {"product": "NOPE", "count": 1}}, "unknown_product"),
    ],
)
def test_a_body_naming_an_unknown_resource_is_a_documented_404(
    plant, api, method, path, body, code
):
    resp = api.call(method, path, body, as_="admin", expected=404)
    assert resp.get_json()["error"] == code
    rule = path.replace("WIDGET", "{sku}")
    assert "404" in operation(api, method.lower(), rule)["responses"]


def test_non_json_answers_are_documented(api):
    labels = operation(api, "post", "/api/labels")["responses"]["200"]
    assert {"application/pdf", "text/plain"} <= set(labels["content"])  # 202: a print job
    assert "X-Koordinator-Items" in labels["headers"]
    one = operation(api, "get", "/api/labels/{name}")["responses"]["200"]["content"]
    assert set(one) == {"image/svg+xml", "image/png", "text/plain"}
    export = operation(api, "get", "/api/export/{kind}.csv")["responses"]["200"]["content"]
    assert set(export) == {"text/csv"}
    upload = operation(api, "post", "/api/import/{kind}")["requestBody"]["content"]
    assert {"text/csv", "multipart/form-data"} <= set(upload)


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/api/products"), ("PUT", "/api/stock")])
def test_405_says_which_methods_are_allowed(api, method, path):
    resp = api.call(method, path, as_="admin", expected=405)
    assert resp.get_json()["error"] == "method_not_allowed"
    allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed


def test_nul_in_a_query_is_a_bad_query(plant, api):
    resp = api.get("/api/orders?product=A%00B", as_="operator", expected=400)
    assert resp.get_json()["error"] == "bad_payload"


# --- found by the schemathesis run on PostgreSQL: a 500 -------------------------------------

BIG = 99999999999999  # the largest quantity the schema allows


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/items", {"product": "STEEL", "count": 10000, "qty": BIG}),
        ("/api/labels", {"receive": {"product": "STEEL", "count": 2000, "qty": BIG}}),
    ],
)
def test_items_adding_up_past_a_stock_counter_are_refused(plant, api, path, body):
    # count x qty went into numeric(18, 4) stock counters: PostgreSQL overflowed, a 500
    resp = api.post(path, body, as_="supervisor", expected=400)
    assert resp.get_json()["error"] == "bad_payload"


def test_a_counter_summed_past_its_column_is_a_400_not_a_500(plant, api, app):
    body = {"product": "STEEL", "count": 1, "qty": BIG}
    api.post("/api/items", body, as_="supervisor", expected=201)
    resp = api.post("/api/items", body, as_="supervisor")
    if app.config["DATABASE_URL"].startswith("postgres"):
        assert resp.status_code == 400 and resp.get_json()["error"] == "out_of_range"
    else:  # SQLite stores the sum
        assert resp.status_code == 201
    api.get("/api/stock", as_="operator", expected=200)  # and the server goes on


@pytest.mark.parametrize(
    "name, expected, stored",
    [
        (" " * 3 + "P" * 200, 400, None),  # 203 characters: the schema's maxLength 200
        (" " * 3 + "P" * 197, 201, "P" * 197),
        ("  Press  ", 201, "Press"),  # stored stripped
        ("   ", 400, None),  # no character but blanks: the schema's pattern \S
    ],
)
def test_a_name_is_checked_as_sent_against_the_schema(api, name, expected, stored):
    schema = doc(api)["components"]["schemas"]["StationIn"]["properties"]["name"]
    assert (schema["maxLength"], schema["minLength"], schema["pattern"]) == (200, 1, r"\S")
    body = {"code": "PR", "name": name, "default_action": "move"}
    resp = api.post("/api/stations", body, expected=expected).get_json()
    if stored is None:
        assert resp["error"] == "bad_payload", resp
    else:
        assert resp["name"] == stored


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/stations", {"code": " PR ", "name": "Press", "default_action": "move"}, "code"),
        (
            "/api/stations",
            {"code": "PR2", "name": "P", "default_action": "move", "rework_to": "QA "},
            "rework_to",
        ),
        ("/api/scanners", {"id": " sc-x", "station": "A1"}, "id"),
        ("/api/products", {"sku": "NEW\n", "name": "New", "kind": "raw"}, "sku"),
    ],
)
def test_a_code_is_checked_as_sent_against_its_anchored_pattern(plant, api, path, body, field):
    """The schema's pattern is anchored and admits no blank; the server stripped the code
    first, so a code with blanks around it, outside the schema, was taken."""
    component = {"/api/stations": "StationIn", "/api/scanners": "ScannerIn"}.get(path, "ProductIn")
    prop = doc(api)["components"]["schemas"][component]["properties"][field]
    pattern = prop.get("pattern") or next(p["pattern"] for p in prop["anyOf"] if "pattern" in p)
    assert pattern == r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    resp = api.post(path, body, expected=400).get_json()
    assert resp["error"] == "bad_payload", resp


def test_an_incomplete_import_declares_what_it_did(api):
    """409 import_incomplete: `details` is the counts, the moves and unit changes made and
    the refused ones by line (tests/test_import.py checks the answer against it)."""
    spec = doc(api)
    schemas = spec["components"]["schemas"]
    op = operation(api, "post", "/api/import/{kind}")
    ref = op["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[ref.rsplit("/", 1)[1]]
    assert body["properties"]["error"]["const"] == "import_incomplete"
    done = schemas[body["properties"]["details"]["$ref"].rsplit("/", 1)[1]]
    assert {"rows", "created", "updated", "unchanged", "moves", "unit_changes", "refused"} <= set(
        done["required"]
    )
    move = schemas["ImportMove"]["properties"]
    assert {"line", "code", "from", "to"} == set(move)
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/ImportResult")
