"""Fixtures: a database per test (SQLite file, and PostgreSQL when TEST_POSTGRES_URL is
set), an app, a client, an API helper with a token per role, and a seeded plant."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import shutil
from pathlib import Path

import peewee as pw
import pytest

from server import create_app
from server.db import create_schema, init_db, seed_defaults
from server.models import MODELS, SchemaMigration

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "alters_schema: the test changes the PostgreSQL schema (drops a column or table); "
        "the next test gets it built again",
    )
    _compile_url_builders_once()


def _compile_url_builders_once() -> None:
    """Every test builds its own app (create_app), and werkzeug compiles two URL builders
    per rule with ast and compile(): about 50 of the 60 ms an app of 176 rules takes. A
    builder is a function of the rule's text, its defaults and the map's domain settings
    (the rule is passed to it as an argument), so the session compiles each once."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "once", False):
        return
    built: dict = {}

    def once(self, append_unknown: bool = True):
        key = (
            self.rule,
            self.host,
            self.subdomain,
            self.merge_slashes,
            self.map.host_matching,
            repr(sorted((self.defaults or {}).items())),
            append_unknown,
        )
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    once.once = True
    Rule._compile_builder = once


class _Postgres:
    """The PostgreSQL test database, emptied between tests by truncating only the tables a
    test wrote (TRUNCATE of all 45 cost 80 ms a test; a sequence that has been read marks
    its table) and seeding the defaults again. The schema is built once a session, and
    again after a test marked `alters_schema`."""

    ready = False

    @classmethod
    def reset(cls) -> None:
        db = init_db(POSTGRES_URL)
        with db.connection_context():
            if not cls.ready:
                db.drop_tables(list(reversed(MODELS)), safe=True, cascade=True)
                create_schema(db)
                cls.ready = True
                return
            written = cls._written(db)
            if written:
                names = ", ".join(f'"{t}"' for t in sorted(written))
                db.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            seed_defaults()

    @staticmethod
    def _written(db) -> set[str]:
        tables = [m._meta.table_name for m in MODELS if m is not SchemaMigration]
        # a table whose id sequence was read (pg_sequences shows last_value null until then)
        read = {
            name
            for (name,) in db.execute_sql(
                "SELECT sequencename FROM pg_sequences "
                "WHERE schemaname = current_schema() AND last_value IS NOT NULL"
            )
        }
        written = {t for t in tables if f"{t}_id_seq" in read}
        # and any other table holding a row (no serial id, or a row given its id)
        probe = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables if t not in written
        )
        if probe:
            written |= {t for (t,) in db.execute_sql(probe)}
        return written


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/koordinator.db"
        return
    _Postgres.reset()
    yield POSTGRES_URL
    if request.node.get_closest_marker("alters_schema"):
        _Postgres.ready = False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A database file with the schema and the seeded defaults, copied for each test that
    builds an app (building them took 45 ms a test)."""
    path = tmp_path_factory.mktemp("template") / "koordinator.db"
    db = init_db(f"sqlite:///{path}")
    create_schema(db)
    with db.connection_context():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the file copied
    if hasattr(db, "close_all"):
        db.close_all()
    return path


@pytest.fixture
def app(db_url, sqlite_template):
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            shutil.copyfile(sqlite_template, path)
    app = create_app(
        {"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key-0123456789"}
    )
    db = app.extensions["koordinator.db"]
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
