"""The ingest while its database refuses writes: every scan waits with the broker, and the
log says so once when it starts and once when it ends, not once per scan and retry."""

from __future__ import annotations

import logging
import re

import peewee as pw
import pytest

from server.core.scans import apply_scans
from server.ingest import IngestSettings, IngestWorker
from server.wire import ScanPayload
from tests.ingest.conftest import assert_each_applied_once, wait_for

OK_TIME = "2026-11-26T08:00:00Z"


def _set_read_only(db, on: bool) -> None:
    """Make the database refuse writes to the worker, or accept them again.

    SQLite: `PRAGMA query_only` on every pooled connection of the real file but this
    thread's ("attempt to write a readonly database", SQLITE_READONLY, as for a file
    opened read-only). PostgreSQL: the database's `default_transaction_read_only`, and
    the other sessions ended so that the worker's next one has it ("cannot execute
    INSERT in a read-only transaction")."""
    if isinstance(db, pw.PostgresqlDatabase):
        flag = "on" if on else "off"
        db.execute_sql(f'ALTER DATABASE "{db.database}" SET default_transaction_read_only = {flag}')
        db.execute_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return
    mine = db.connection()
    conns = [c.connection for c in db._in_use.values()] + [c[-1] for c in db._connections]
    for conn in conns:
        if conn is not mine:
            conn.execute(f"PRAGMA query_only = {int(on)}")


def test_a_read_only_database_is_logged_once_and_no_scan_is_lost(
    plant, db, db_url, broker, peer, caplog
):
    settings = IngestSettings(host=broker.host, port=broker.port, client_id="ro-ingest")
    worker = IngestWorker(db, settings).start()
    try:
        assert worker.wait_subscribed(10)
        codes = plant.items("STEEL", count=31, qty=5)
        peer.publish("sc-recv", {"scan_id": "ro-warm", "code": codes[0], "scanned_at": OK_TIME})
        assert peer.wait_result("ro-warm")  # the worker holds its connection now

        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="server")
        _set_read_only(db, True)
        for n, code in enumerate(codes[1:]):
            peer.publish("sc-recv", {"scan_id": f"ro-{n}", "code": code, "scanned_at": OK_TIME})
        # retried at 0.1, 0.2, 0.4, 0.8, 1.6 s: five or six failed commits
        assert wait_for(lambda: "database unavailable" in caplog.text, 10)
        assert not wait_for(lambda: peer.results.keys() - {"ro-warm"}, 3), peer.results
        _set_read_only(db, False)
        for n in range(len(codes) - 1):
            assert peer.wait_result(f"ro-{n}", 15), caplog.text[-3000:]
        assert_each_applied_once(codes, "raw")

        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        messages = [r.getMessage() for r in loud]
        assert len(loud) == 2, messages  # one line per change of state
        assert "database unavailable" in messages[0]  # PostgreSQL: first the session end
        assert "database back" in messages[1]
        assert not any(r.exc_info for r in loud)  # no traceback above DEBUG
        failed = [r for r in caplog.records if r.getMessage() == "ingest: commit failed"]
        assert len(failed) >= 3  # retried, and each retry failed, but quietly
        assert re.search(r"read-?only", str(failed[-1].exc_info[1]))
    finally:
        _set_read_only(db, False)
        worker.stop()


def test_apply_scans_raises_a_database_error_for_the_ingest_instead_of_each_scans_answer(
    plant, db, db_url, caplog
):
    """The per-scan half: BEGIN IMMEDIATE passed (as on a file opened read-only), the
    scan's write fails. For the ingest (`raise_db_errors`) the batch raises at once, so
    nothing is answered or acked and nothing is logged per scan."""
    (code,) = plant.items("STEEL", qty=5)
    scan = ScanPayload.model_validate(
        {"scan_id": "ro-one", "code": code, "scanned_at": OK_TIME}
    ).to_scan("sc-recv")
    caplog.clear()
    sqlite = db_url.startswith("sqlite")
    with db.atomic():
        # the transaction may read but not write: SQLite's query_only, PostgreSQL's
        # read-only transaction (its first statement)
        db.execute_sql("PRAGMA query_only = 1" if sqlite else "SET TRANSACTION READ ONLY")
        try:
            with pytest.raises(pw.DatabaseError, match="readonly|read-only"):
                apply_scans(db, [scan, scan], raise_db_errors=True)
        finally:
            if sqlite:
                db.execute_sql("PRAGMA query_only = 0")
            else:
                db.rollback()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    (result,) = apply_scans(db, [scan], raise_db_errors=True)
    assert result.accepted
