"""Every page: 200 for its role, 302 to sign in when anonymous, 403 for a lower role;
CSRF refusals; the forms doing what they say."""

from __future__ import annotations

import io

import pytest

from server.models import ApiToken, LedgerEntry, ProductionOrder, Station, User

# path, the least role that may open it
PAGES = [
    ("/stock", "operator"),
    ("/stock/live", "operator"),
    ("/items", "operator"),
    ("/items?stage=wip&product=WIDGET", "operator"),
    ("/scan", "operator"),
    ("/scan/sc-a1", "operator"),
    ("/labels/print", "clerk"),
    ("/labels/print?commands=reasons", "clerk"),
    ("/labels/templates", "clerk"),
    ("/labels/templates?name=default", "clerk"),
    ("/schedule", "supervisor"),
    ("/schedule/live", "supervisor"),
    ("/schedule/orders/WO-1", "supervisor"),
    ("/stations", "supervisor"),
    ("/stations/live", "supervisor"),
    ("/rejected", "supervisor"),
    ("/rejected/live", "supervisor"),
    ("/supplies", "supervisor"),
    ("/supplies/live", "supervisor"),
    ("/admin", "admin"),
    ("/admin/products/WIDGET", "admin"),
]
LOWER = {"operator": None, "clerk": "operator", "supervisor": "clerk", "admin": "supervisor"}


@pytest.mark.parametrize(("path", "role"), PAGES)
def test_page_roles(history, as_role, client, path, role):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    lower = LOWER[role]
    if lower:
        assert as_role(lower).get(path).status_code == 403
    resp = as_role(role).get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert "text/html" in resp.content_type


def test_item_pages(history, as_role):
    b = as_role("operator")
    widget = history["widgets"][0]
    html = b.get(f"/items/{widget}").get_data(as_text=True)
    assert widget in html and "Completed" in html
    assert "STEEL" in html and "BOLT" in html  # genealogy down: what it is made from
    svg = b.get(f"/items/{widget}/label.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert widget in svg.get_data(as_text=True)
    assert b.get("/items/ZZZZZZZZZ").status_code == 404
    # reprinting is a supervisor's: the operator is refused, the supervisor gets a PDF
    assert b.post(f"/items/{widget}/reprint").status_code == 403
    s = as_role("supervisor")
    pdf = s.post(f"/items/{widget}/reprint", data={"template": "thermal-2x1"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert LedgerEntry.select().where(LedgerEntry.action.in_(("print", "reprint"))).count() == 1


def test_item_list_filters_and_pages(history, as_role):
    plant = history["plant"]
    plant.items("NUT", count=60)
    b = as_role("operator")
    first = b.get("/items?product=NUT&stage=new").get_data(as_text=True)
    assert first.count('class="code"') == 50 and "before=" in first
    before = first.split("before=")[1].split("&")[0].split('"')[0]
    second = b.get(f"/items?product=NUT&stage=new&before={before}").get_data(as_text=True)
    assert second.count('class="code"') == 10
    lot = b.get("/items?lot=L-1").get_data(as_text=True)
    assert history["steel"] in lot
    assert b.get("/items?order=WO-1").status_code == 200
    assert b.get("/items?station=NOPE").status_code == 404


def test_stock_page_figures(history, as_role):
    html = as_role("operator").get("/stock").get_data(as_text=True)
    assert "<svg" in html and 'data-stage="wip"' in html
    assert "WIDGET" in html and "GLOVES" in html


def test_login_logout_and_wrong_password(client, web_users):
    from tests.web.conftest import Browser

    b = Browser(client)
    bad = b.login("supervisor1", "wrong-password")
    assert bad.status_code == 401 and "Wrong user name or password" in bad.get_data(as_text=True)
    ok = b.login("supervisor1")
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/")
    assert client.get("/").headers["Location"].endswith("/stock")
    assert b.post("/logout").status_code == 302
    assert client.get("/stock").status_code == 302


def test_login_next_stays_on_this_site(client, web_users):
    from tests.web.conftest import Browser, csrf_of

    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login?next=https://evil.example/",
        data={"username": "admin1", "password": "correct-horse-7", "csrf_token": token},
    )
    assert resp.headers["Location"] == "/"
    Browser(client)


def test_forms_refuse_without_csrf(history, as_role, client):
    as_role("admin")
    for path, data in [
        ("/logout", {}),
        ("/schedule/orders/WO-2/release", {}),
        ("/admin/users", {"username": "mallory", "role": "admin", "password": "12345678"}),
        ("/language", {"language": "id"}),
    ]:
        resp = client.post(path, data=data)
        assert resp.status_code == 400, path
        assert "CSRF" in resp.get_data(as_text=True)
    assert User.get_or_none(User.username == "mallory") is None
    assert ProductionOrder.get(ProductionOrder.number == "WO-2").status == "planned"
    # the sign-in form too
    assert client.post("/login", data={"username": "admin1", "password": "x"}).status_code == 400


def test_api_with_session_needs_csrf_header_bearer_does_not(history, as_role, client, api):
    b = as_role("operator")
    body = {"scan_id": "web-csrf-1", "scanner_id": "sc-a1", "code": history["widgets"][2]}
    refused = client.post("/api/scans", json=body)
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"
    ok = client.post(
        "/api/scans", json={**body, "scan_id": "web-csrf-2"}, headers={"X-CSRFToken": b.token}
    )
    assert ok.status_code in (201, 422) and ok.is_json
    # a Bearer-token call needs no CSRF token, even with a session cookie present
    api.post("/api/scans", {**body, "scan_id": "web-csrf-3"}, as_="operator")


def test_schedule_create_release_edit_close(history, as_role):
    s = as_role("supervisor")
    resp = s.post(
        "/schedule/orders",
        data={
            "number": "WO-9",
            "product": "WIDGET",
            "qty": "6",
            "start": "2026-01-05",
            "due": "2026-01-09",
            "station": "A1",
        },
    )
    assert resp.status_code == 302
    assert ProductionOrder.get(ProductionOrder.number == "WO-9").status == "planned"
    s.post("/schedule/orders/WO-9/release")
    assert ProductionOrder.get(ProductionOrder.number == "WO-9").status == "released"
    s.post(
        "/schedule/orders/WO-9",
        data={"qty": "8", "start": "2026-01-05", "due": "2026-01-12", "station": "A1"},
    )
    assert ProductionOrder.get(ProductionOrder.number == "WO-9").qty == 8
    refused = s.post("/schedule/orders/WO-9/close", follow_redirects=True)
    assert "say why" in refused.get_data(as_text=True)
    s.post("/schedule/orders/WO-9/close", data={"reason": "customer cancelled"})
    assert ProductionOrder.get(ProductionOrder.number == "WO-9").status == "closed"
    bad = s.post(
        "/schedule/orders",
        data={
            "number": "WO-10",
            "product": "STEEL",
            "qty": "1",
            "start": "2026-01-05",
            "due": "2026-01-01",
        },
        follow_redirects=True,
    )
    assert ProductionOrder.get_or_none(ProductionOrder.number == "WO-10") is None
    assert 'class="flash error"' in bad.get_data(as_text=True)
    board = s.get("/schedule").get_data(as_text=True)
    assert "WO-1" in board and "progress" in board


def test_admin_master_data(plant, as_role):
    a = as_role("admin")
    a.post(
        "/admin/products",
        data={
            "sku": "PAINT",
            "name": "Paint",
            "kind": "supplies",
            "tracking": "lot",
            "unit": "l",
            "reorder_point": "4",
        },
    )
    html = a.get("/admin").get_data(as_text=True)
    assert "PAINT" in html
    bad = a.post(
        "/admin/products", data={"sku": "X", "name": "X", "kind": "nonsense"}, follow_redirects=True
    )
    assert "kind" in bad.get_data(as_text=True)
    a.post("/admin/products/WIDGET", data={"what": "bom", "bom": "STEEL 3\nBOLT, 2"})
    a.post("/admin/products/WIDGET", data={"what": "routing", "routing": "A1\nQA"})
    page = a.get("/admin/products/WIDGET").get_data(as_text=True)
    assert "STEEL 3" in page and "QA" in page
    a.post(
        "/admin/stations",
        data={"code": "PK", "name": "Packing", "default_action": "move", "language": "id"},
    )
    assert Station.get(Station.code == "PK").language == "id"
    a.post(
        "/admin/stations/PK",
        data={"default_action": "ship", "language": "", "dwell_limit_minutes": "30"},
    )
    st = Station.get(Station.code == "PK")
    assert (st.default_action, st.language, st.dwell_limit_minutes) == ("ship", None, 30)
    a.post("/admin/scanners", data={"id": "sc-pk", "station": "PK"})
    secret = a.post("/admin/scanners/sc-pk/password").get_data(as_text=True)
    assert "sc-pk" in secret and 'class="secret"' in secret
    a.post(
        "/admin/users",
        data={"username": "op2", "role": "operator", "password": "long-enough-1", "language": "id"},
    )
    op2 = User.get(User.username == "op2")
    assert (op2.role, op2.language) == ("operator", "id")
    token_page = a.post(f"/admin/users/{op2.id}/tokens", data={"name": "tablet"})
    token = token_page.get_data(as_text=True).split('id="secret">')[1].split("<")[0]
    assert token.startswith("kt_")
    tok = ApiToken.get(ApiToken.name == "tablet")
    a.post(f"/admin/tokens/{tok.id}/revoke")
    assert ApiToken.get_by_id(tok.id).revoked


def test_admin_sets_up_a_rework_station(plant, as_role):
    a = as_role("admin")
    a.post("/admin/stations", data={"code": "RW", "name": "Rework", "default_action": "rework"})
    assert Station.get(Station.code == "RW").default_action == "rework"
    qa = Station.get(Station.code == "QA")
    html = a.get("/admin").get_data(as_text=True)
    assert 'name="rework_to"' in html and '<option value="unissue"' in html
    assert '<option value="QA"' in html  # the rework target is sent as a code, as the API takes
    a.post("/admin/stations/RW", data={"default_action": "rework", "rework_to": "QA"})
    assert Station.get(Station.code == "RW").rework_to_id == qa.id
    a.post("/admin/stations/RW", data={"default_action": "unissue", "rework_to": ""})
    st = Station.get(Station.code == "RW")
    assert (st.default_action, st.rework_to_id) == ("unissue", None)


@pytest.mark.parametrize(
    "field, value, refusal",
    [
        ("rework_to", "NOPE", "No station NOPE"),  # the API's unknown_station
        ("rework_to", "1", "No station 1"),  # a station id is not a station code
        ("dwell_limit_minutes", "0", "greater than or equal to 1"),
        ("default_action", "fly", "Input should be"),
    ],
)
def test_admin_station_form_is_the_patch_operation(plant, as_role, api, field, value, refusal):
    """The station row's form goes through PATCH /api/stations/{code}: what the API refuses
    the form refuses (flashed, nothing saved), and what it saves the API reads back."""
    a = as_role("admin")
    a.post("/admin/stations", data={"code": "RW", "name": "Rework", "default_action": "rework"})
    before = api.get("/api/stations", expected=200).get_json()["stations"]
    form = {"default_action": "rework", "dwell_limit_minutes": "45", "active": "on", field: value}
    page = a.post("/admin/stations/RW", data=form, follow_redirects=True).get_data(as_text=True)
    assert refusal in page, page[:2000]
    assert api.get("/api/stations", expected=200).get_json()["stations"] == before
    body = {"default_action": "rework", "dwell_limit_minutes": 45, "active": True, field: value}
    if field == "dwell_limit_minutes":
        body[field] = int(value)
    assert api.call("PATCH", "/api/stations/RW", body).status_code in (400, 404)
    good = {"rework_to": "QA", "dwell_limit_minutes": "45", "default_action": "rework"}
    a.post("/admin/stations/RW", data={**form, field: good[field]})
    saved = {s["code"]: s for s in api.get("/api/stations", expected=200).get_json()["stations"]}
    assert saved["RW"]["dwell_limit_minutes"] == 45 and saved["RW"]["active"] is True
    if field == "rework_to":
        assert saved["RW"]["rework_to"] == "QA"


def test_language_per_user_and_station(history, as_role, client):
    b = as_role("operator")
    assert "Stock by stage" in b.get("/stock").get_data(as_text=True)
    b.post("/language", data={"language": "id", "next": "/stock"})
    html = b.get("/stock").get_data(as_text=True)
    assert "Stok per tahap" in html and 'lang="id"' in html
    b.post("/language", data={"language": "en"})
    Station.update(language="id").where(Station.code == "A1").execute()
    scan = b.get("/scan/sc-a1").get_data(as_text=True)
    assert 'lang="id"' in scan and "Label tidak dikenali" in scan  # unknown_code, translated
    assert 'lang="en"' in b.get("/scan/sc-a2").get_data(as_text=True)


def test_stock_page_reads_counters_not_items(history, as_role, caplog):
    """The page-time promise: the stock page never touches the item or ledger tables."""
    import logging

    b = as_role("operator")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert b.get("/stock").status_code == 200
        assert b.get("/stock/live").status_code == 200
    sql = [r.getMessage() for r in caplog.records if r.name == "peewee"]
    assert any('"stock_counter"' in q for q in sql)
    assert not [q for q in sql if 'FROM "item"' in q or '"ledger_entry"' in q], sql


def test_item_list_uses_a_bounded_query(history, as_role, caplog):
    import logging

    b = as_role("operator")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        b.get("/items?product=WIDGET&stage=wip")
    item_sql = [r.getMessage() for r in caplog.records if 'FROM "item"' in r.getMessage()]
    assert item_sql and all("LIMIT" in q for q in item_sql), item_sql


def test_schedule_csv_import_shows_row_errors(history, as_role):
    s = as_role("supervisor")
    bad = "number,product,qty,start,due\nWO-20,WIDGET,5,2026-01-05,2026-01-09\nWO-21,NOPE,x,,\n"
    resp = s.post(
        "/schedule/import",
        data={"file": (io.BytesIO(bad.encode()), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'class="errors"' in html and "<td>3</td>" in html
    assert ProductionOrder.get_or_none(ProductionOrder.number == "WO-20") is None
    good = "number,product,qty,start,due\nWO-20,WIDGET,5,2026-01-05,2026-01-09\n"
    resp = s.post(
        "/schedule/import",
        data={"file": (io.BytesIO(good.encode()), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    assert ProductionOrder.get(ProductionOrder.number == "WO-20").status == "planned"
