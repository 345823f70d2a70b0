"""Fixtures: a database per test (SQLite file, and PostgreSQL when TEST_POSTGRES_URL is
set), an app, a client, an API helper with a token per role, and a seeded plant."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import shutil
import threading
import time
from pathlib import Path

import peewee as pw
import pytest

from server import create_app
from server.db import create_schema, init_db, seed_defaults
from server.models import MODELS, SchemaMigration

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
if POSTGRES_URL:
    # The test database's commits do not wait for the WAL to reach the disk: a test's data
    # need not outlive a crash of the PostgreSQL server, and each test's fixtures commit
    # dozens of times (the plant's set-up took 1.8-2.1 s a test with it on, 0.9-1.1 s
    # off). libpq reads PGOPTIONS on every connection: this session's, its app's, and the
    # servers and workers it starts as processes. Nothing else changes: the transactions,
    # locks and isolation a test sees are the same.
    os.environ["PGOPTIONS"] = (
        os.environ.get("PGOPTIONS", "") + " -c synchronous_commit=off"
    ).strip()
#: the half of the suite that runs the tests with no backend parameter when `make test`
#: runs one pytest process per backend (`--backend`, tests/run_backends.py): the SQLite
#: half, whose tests are the quicker ones (README.md "Install, run, test", docs/decisions.md
#: "The suite's two halves")
UNPARAMETRIZED_HALF = "sqlite"


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=["all", "sqlite", "postgres"],
        default="all",
        help="run only this backend's half of the suite: its db_url tests, and for "
        f"{UNPARAMETRIZED_HALF} the tests with no backend (make test runs both side by side)",
    )


def pytest_collection_modifyitems(config, items):
    """`--backend X` keeps X's half: the tests whose db_url is X and, in the half named by
    UNPARAMETRIZED_HALF, those with no db_url. The other half's tests are deselected (so a
    SQLite half never connects to TEST_POSTGRES_URL: pytest_collection_finish claims the
    database only for a selected PostgreSQL test)."""
    backend = config.getoption("backend")
    if backend == "all":
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("db_url") if callspec is not None else None
        (keep if (param or UNPARAMETRIZED_HALF) == backend else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "alters_schema: the test changes the PostgreSQL schema (drops a column or table); "
        "the next test gets it built again",
    )
    _compile_url_builders_once()


def pytest_collection_finish(session):
    """Claim the PostgreSQL test database before the first test when any selected test runs
    on it (`_Postgres.claim`): a second session stops here, before it writes."""
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgres":
            _Postgres.claim()
            return


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


#: the session-level advisory lock a test session holds on its PostgreSQL database for as
#: long as it runs (the two-key form: apart from the server's own one-key locks)
SESSION_LOCK = (0x4B5A, 0x5445)
#: how long a backend left running by a test may take to end before it is terminated
SETTLE_S = 5.0


class _Postgres:
    """The PostgreSQL test database, emptied between tests by truncating only the tables a
    test wrote (TRUNCATE of all 45 cost 80 ms a test; a sequence that has been read marks
    its table) and seeding the defaults again. The schema is built once a session, and
    again after a test marked `alters_schema`.

    The database is this session's alone: a second session on the same TEST_POSTGRES_URL
    (another checkout's run) would truncate this one's rows between its steps and write its
    own into them, and the failures (a TRUNCATE deadlocked with a writer, duplicate users,
    401s for tokens that were there) would point at whatever test ran then. `claim()` holds
    an advisory lock for the session and stops a second one at its first PostgreSQL test.
    After each test, `settle()` fails that test if it left a backend running (a worker it
    started and did not stop)."""

    ready = False
    claim_conn = None  # the session's own connection, holding SESSION_LOCK

    @classmethod
    def claim(cls) -> None:
        """Hold SESSION_LOCK on a connection of the session's own; taken again if that
        connection was ended (tests/ingest/test_ingest_db_outage.py terminates every other
        backend of the database)."""
        import psycopg2

        if cls.claim_conn is not None:
            try:
                with cls.claim_conn.cursor() as cur:
                    cur.execute("SELECT 1")
                return
            except psycopg2.Error:
                cls.claim_conn.close()
                cls.claim_conn = None
        name = f"koordinator-tests pid {os.getpid()} {Path.cwd()}"[:63]
        conn = psycopg2.connect(POSTGRES_URL, application_name=name)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", SESSION_LOCK)
            if not cur.fetchone()[0]:
                cur.execute(
                    "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted",
                    SESSION_LOCK,
                )
                holders = cur.fetchall()
                conn.close()
                pytest.exit(
                    f"{POSTGRES_URL} is in use by another test session {holders}: give this "
                    "one a database of its own (TEST_POSTGRES_URL)",
                    returncode=3,
                )
            # busy() reads each backend's state; with track_activities off it is 'disabled'
            # for all of them, and every test would wait SETTLE_S and fail for idle ones
            cur.execute("SHOW track_activities")
            if cur.fetchone()[0] != "on":
                conn.close()
                pytest.exit(
                    f"{POSTGRES_URL}: track_activities is off; the tests read "
                    "pg_stat_activity to find the backends a test left running",
                    returncode=3,
                )
        cls.claim_conn = conn

    @classmethod
    def busy(cls) -> list[tuple]:
        """The backends of the test database, other than the session's own, that are in a
        transaction or running a statement (an idle pooled connection holds no lock). Every
        backend of the database is this session's (the advisory lock keeps other sessions
        out, and a `--backend sqlite` half never connects), so unlike the worker threads
        there is none of an earlier test's to tell apart. A state that is NULL (a backend
        of a role whose activity this one may not read; the suite connects as the owner)
        or 'disabled' (track_activities off in that backend; claim() refuses a database
        where it is off) is counted as busy: unknown is not idle."""
        cls.claim()
        with cls.claim_conn.cursor() as cur:
            cur.execute(
                "SELECT pid, state, application_name, client_port, backend_start, xact_start, "
                "wait_event_type, wait_event, left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle'"
            )
            return cur.fetchall()

    @classmethod
    def settle(cls) -> list[tuple]:
        """Wait up to SETTLE_S for the busy backends to end (a killed worker's backend
        finishes the statement it was running); terminate those that do not and return
        them."""
        deadline = time.monotonic() + SETTLE_S
        busy = cls.busy()
        while busy and time.monotonic() < deadline:
            time.sleep(0.05)
            busy = cls.busy()
        if busy:
            with cls.claim_conn.cursor() as cur:
                for row in busy:
                    cur.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        return busy

    @classmethod
    def reset(cls) -> None:
        cls.claim()
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
                with db.atomic():
                    # a writer still at work fails the reset loudly instead of deadlocking it
                    db.execute_sql("SET LOCAL lock_timeout = '10s'")
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


#: the threads of server/ that write to the database (server/ingest.py, server/dispatch.py)
WORKER_THREADS = ("ingest", "ingest-guard", "dispatcher")


def _worker_threads() -> set[threading.Thread]:
    return {
        t
        for t in threading.enumerate()
        if t.name in WORKER_THREADS or t.name.startswith("dispatcher-")
    }


def _workers_alive(before: set[threading.Thread], settle_s: float = SETTLE_S) -> list[str]:
    """The worker threads started during the test (not in `before`, those alive when its
    database was set up) still running SETTLE_S after it (a stopped ingest's guard thread
    ends within half a second). A thread an earlier test left running was blamed on that
    test; it is not blamed again on each test after it."""
    deadline = time.monotonic() + settle_s
    while True:
        alive = sorted(t.name for t in _worker_threads() - before)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    workers_before = _worker_threads()
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/koordinator.db"
        busy = []
    else:
        _Postgres.reset()
        yield POSTGRES_URL
        if request.node.get_closest_marker("alters_schema"):
            _Postgres.ready = False
    # after every fixture that depends on the database (apps, workers, processes) is gone:
    # a worker still running would write into the next test's database
    threads = _workers_alive(workers_before)
    if request.param == "postgres":
        busy = _Postgres.settle()
    if threads or busy:
        pytest.fail(
            f"the test left database work running: threads {threads}, backends {busy} (terminated)",
            pytrace=False,
        )


@pytest.fixture
def postgres_guard(db_url):
    """The PostgreSQL test database's keeper (`_Postgres`) of this session."""
    if not db_url.startswith("postgres"):
        pytest.skip("the PostgreSQL test database's guard")
    return _Postgres


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
