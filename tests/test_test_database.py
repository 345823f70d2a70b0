"""The PostgreSQL test database is one session's (tests/conftest.py `_Postgres`): a second
session on the same TEST_POSTGRES_URL stops before it writes, and a backend a test leaves
in a transaction is found and ended after it. A second session once truncated the first
one's rows between its steps: deadlocked TRUNCATEs, duplicate users and 401s in tests that
had nothing to do with it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psycopg2
import pytest

from server.models import Station
from tests.support.agent_process import REPO_ROOT


def test_a_second_session_on_the_same_database_stops_before_it_writes(postgres_guard, db):
    Station.create(code="KEEP", name="Mine", default_action="move")
    other = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "postgres",
         "tests/test_pgbatch.py::test_a_batch_of_receives_costs_about_one_round_trip_a_scan"],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=100,
    )  # fmt: skip
    out = other.stdout + other.stderr
    assert other.returncode == 3, out[-3000:]
    assert "is in use by another test session" in out, out[-3000:]
    assert f"pid {os.getpid()}" in out, out[-3000:]  # names this session
    # nothing of this session's was dropped or truncated
    assert Station.get(Station.code == "KEEP").name == "Mine"


def test_a_backend_left_in_a_transaction_is_found_and_ended(postgres_guard, db_url):
    left = psycopg2.connect(db_url)  # not in autocommit: a transaction from the first query
    try:
        cur = left.cursor()
        cur.execute('SELECT count(*) FROM "station"')  # holds a lock the TRUNCATE would wait for
        busy = postgres_guard.settle()
        assert [row[0] for row in busy] == [left.get_backend_pid()], busy
        assert busy[0][1] == "idle in transaction"
        with pytest.raises(psycopg2.OperationalError):
            cur.execute("SELECT 1")  # terminated
        assert postgres_guard.busy() == []
    finally:
        left.close()


def test_only_the_worker_threads_a_test_started_are_blamed():
    """A worker thread alive when a test's database was set up was an earlier test's (and
    failed that test): the teardown blames only the ones started since."""
    from tests.conftest import _worker_threads, _workers_alive

    stop = threading.Event()
    earlier = threading.Thread(target=stop.wait, name="dispatcher", daemon=True)
    started = threading.Thread(target=stop.wait, name="ingest", daemon=True)
    earlier.start()
    try:
        before = _worker_threads()
        assert earlier in before
        assert _workers_alive(before, settle_s=0.2) == []
        started.start()
        assert _workers_alive(before, settle_s=0.2) == ["ingest"]
        stop.set()
        started.join(5)
        assert _workers_alive(before, settle_s=0.2) == []
    finally:
        stop.set()
        earlier.join(5)
