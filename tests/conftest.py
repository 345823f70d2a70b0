"""Fixtures: a database per test (SQLite file, and PostgreSQL when TEST_POSTGRES_URL is
set), an app, a client, an API helper with a token per role, and a seeded plant."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets

import peewee as pw
import pytest

from server import create_app
from server.db import create_schema, init_db
from server.models import MODELS, SchemaMigration

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
_pg_schema_ready = False


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    global _pg_schema_ready
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/koordinator.db"
    db = init_db(POSTGRES_URL)
    with db.connection_context():
        if not _pg_schema_ready:
            db.drop_tables(list(reversed(MODELS)), safe=True, cascade=True)
            _pg_schema_ready = True
        create_schema(db)
        names = ", ".join(f'"{m._meta.table_name}"' for m in MODELS if m is not SchemaMigration)
        db.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    db.close()
    return POSTGRES_URL


@pytest.fixture
def app(db_url):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key-0123456789"}
    )
    db = app.extensions["koordinator.db"]
    create_schema(db)
    yield app
    if not db.is_closed():
        db.close()
    if hasattr(db, "close_all"):
        db.close_all()  # pooled: give the connections back to the server, not to the pool


@pytest.fixture
def db(app) -> pw.Database:
    database = app.extensions["koordinator.db"]
    database.connect(reuse_if_open=True)
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """Calls the JSON API as a role and checks the status, InvenTree's expected_code way."""

    def __init__(self, client, tokens: dict[str, str]):
        self.client = client
        self.tokens = tokens

    def call(self, method, path, json=None, *, as_="admin", expected=None, **kw):
        headers = kw.pop("headers", {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        resp = self.client.open(path, method=method, json=json, headers=headers, **kw)
        if expected is not None:
            assert resp.status_code == expected, (resp.status_code, resp.get_data(as_text=True))
        assert resp.is_json, resp.get_data(as_text=True)[:300]
        return resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json, **kw)


@pytest.fixture
def users(db):
    from server import auth

    out = {}
    for role in auth.ROLES:
        user = auth.create_user(f"{role}1", role, None, badge=f"B-{role.upper()}")
        out[role] = (user, auth.create_token(user, "test"))
    return out


@pytest.fixture
def api(client, users) -> Api:
    return Api(client, {role: tok for role, (_u, tok) in users.items()})


_scan_ids = itertools.count(1)
#: tests import this module as `tests.conftest` while pytest loads it as `conftest`: two
#: copies, two counters; a token per copy keeps their ids apart (a repeated id would be
#: answered as a duplicate and the test would pass or fail for the wrong reason)
_scan_id_prefix = f"t-{os.getpid()}-{secrets.token_hex(3)}"


def new_scan_id() -> str:
    return f"{_scan_id_prefix}-{next(_scan_ids)}"


class Plant:
    """A small plant: steel (raw, lot), bolts (component, lot, GTIN), a bracket
    (component made here), widgets (finished, unit, BOM and a 3-station routing), gloves
    (supplies). Stations and one scanner per station."""

    def __init__(self, api: Api, db):
        self.api = api
        self.db = db

    def scan(self, scanner, code, *, expected=None, **extra):
        body = {
            "scan_id": extra.pop("scan_id", None) or new_scan_id(),
            "scanner_id": scanner,
            "code": code,
            "scanned_at": "2026-11-26T08:00:00Z",
            **extra,
        }
        return self.api.post(
            "/api/scans", body, as_=extra.pop("as_", "operator"), expected=expected
        ).get_json()

    def items(self, product, expected=201, **kw):
        resp = self.api.post(
            "/api/items", {"product": product, **kw}, as_="supervisor", expected=expected
        )
        return [i["code"] for i in resp.get_json()["items"]]

    def order(self, number, product, qty, *, release=True, station=None, due=None):
        today = dt.date.today()
        body = {
            "number": number,
            "product": product,
            "qty": qty,
            "start": (today - dt.timedelta(days=1)).isoformat(),
            "due": (due or today + dt.timedelta(days=5)).isoformat(),
        }
        if station:
            body["station"] = station
        self.api.post("/api/orders", body, as_="supervisor", expected=201)
        if release:
            self.api.post(f"/api/orders/{number}/release", as_="supervisor", expected=200)
        return number


STATIONS = [
    ("RECV", "Receiving dock", "receive"),
    ("LINE", "Line side", "issue"),
    ("A1", "Assembly 1", "start"),
    ("A2", "Assembly 2", "move"),
    ("QA", "Quality", "move"),
    ("END", "End of line", "complete"),
    ("SHIP", "Shipping dock", "ship"),
    ("STORES", "Stores", "use"),
]
GTIN_BOLT = "09506000134352"
GTIN_NUT = "09506000134369"


@pytest.fixture
def plant(api, db) -> Plant:
    for code, name, action in STATIONS:
        api.post(
            "/api/stations", {"code": code, "name": name, "default_action": action}, expected=201
        )
        api.post("/api/scanners", {"id": f"sc-{code.lower()}", "station": code}, expected=201)
    for body in [
        {"sku": "STEEL", "name": "Steel sheet", "kind": "raw", "tracking": "lot", "unit": "kg"},
        {
            "sku": "BOLT",
            "name": "Bolt M6",
            "kind": "component",
            "tracking": "lot",
            "gtin": GTIN_BOLT,
        },
        {"sku": "NUT", "name": "Nut M6", "kind": "component", "tracking": "unit", "gtin": GTIN_NUT},
        {"sku": "BRACKET", "name": "Bracket", "kind": "component", "tracking": "unit"},
        {"sku": "WIDGET", "name": "Widget", "kind": "finished", "tracking": "unit"},
        {
            "sku": "GLOVES",
            "name": "Gloves box",
            "kind": "supplies",
            "tracking": "lot",
            "reorder_point": 5,
        },
    ]:
        api.post("/api/products", body, expected=201)
    api.put(
        "/api/products/WIDGET/bom",
        {"lines": [{"component": "STEEL", "qty": 2}, {"component": "BOLT", "qty": 4}]},
        expected=200,
    )
    api.put("/api/products/WIDGET/routing", {"stations": ["A1", "A2", "QA"]}, expected=200)
    return Plant(api, db)
