"""A scan batch on PostgreSQL in few round trips (server/core/pgbatch.py): the same answers
and rows as one statement at a time, on both backends where the behaviour is shared."""

from __future__ import annotations

import threading
import time

import pytest

from server.core import pgbatch, stock
from server.core.scans import ScanIn, apply_scans, writing
from server.models import Item, LedgerEntry
from tests.conftest import GTIN_BOLT, new_scan_id
from tests.test_scans import _in_stock, _started


def _postgres_only(db):
    if not pgbatch.available(db):
        pytest.skip("PostgreSQL: SQLite has no round trips to save")


def _sent(db, monkeypatch) -> list[str]:
    """The text of every statement sent to the server from here on."""
    sent: list[str] = []
    real = db._execute_cursor

    def spy(sql, params=None):
        sent.append(sql)
        return real(sql, params)

    monkeypatch.setattr(db, "_execute_cursor", spy)
    return sent


def test_a_batch_of_receives_costs_about_one_round_trip_a_scan(plant, db, monkeypatch):
    _postgres_only(db)
    codes = plant.items("STEEL", count=50, qty=5)
    scans = [ScanIn(new_scan_id(), "sc-recv", c) for c in codes]
    sent = _sent(db, monkeypatch)
    with writing(db):
        results = apply_scans(db, scans)
    assert all(r.accepted for r in results), results[0]
    # a scan of its own: nothing (its item read ahead, its update and ledger row kept);
    # the batch: ~17 (known scan ids, the items, scanner, station, product, the counters,
    # the kept rows, the events...); was five a scan
    assert len(sent) <= 20, "\n".join(s[:120] for s in sent)
    assert sum(s.count('INSERT INTO "ledger_entry"') for s in sent) == 1
    assert sum(s.count('UPDATE "item"') for s in sent) == 50
    # a scan savepoint only where a scan first reads the batch's scanner, station,
    # product or place; the others send nothing inside theirs
    assert sum(s.count('SAVEPOINT "scan"; ') for s in sent) <= 3
    assert (
        LedgerEntry.select().where(LedgerEntry.scan_id.in_([s.scan_id for s in scans])).count()
        == 50
    )
    assert {i.stage for i in Item.select().where(Item.code.in_(codes))} == {"raw"}


def test_a_rejected_scan_undoes_its_writes_and_keeps_the_batch_rows(plant, db):
    """A scan that wrote and was then refused (here: a reason-less scrap of a held...) rolls
    back only itself; ledger rows of the scans before and after it are all there, in
    scan order."""
    a, b, c = plant.items("STEEL", count=3, qty=5)
    scans = [
        ScanIn(new_scan_id(), "sc-recv", a),
        ScanIn(new_scan_id(), "sc-recv", "no such code"),
        ScanIn(new_scan_id(), "sc-recv", b),
        ScanIn(new_scan_id(), "sc-recv", b),  # the same item twice: received already
        ScanIn(new_scan_id(), "sc-recv", c),
    ]
    results = apply_scans(db, scans)
    assert [(r.status, r.reason) for r in results] == [
        ("accepted", None),
        ("rejected", "unknown_code"),
        ("accepted", None),
        ("rejected", "illegal_transition"),
        ("accepted", None),
    ]
    rows = list(
        LedgerEntry.select()
        .where(LedgerEntry.scan_id.in_([s.scan_id for s in scans]))
        .order_by(LedgerEntry.id)
    )
    assert [r.scan_id for r in rows] == [s.scan_id for s in scans]
    assert stock.counters() == stock.recount_from_items()


def test_a_later_scan_sees_what_an_earlier_one_changed_in_another_item(plant, api, db):
    """Completing a unit consumes 2 kg of the 3 issued to its order; a scan of that steel
    later in the same batch sees the 1 kg left (on PostgreSQL the batch's items are read
    ahead, and one written by another scan is read again)."""
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-2\x1d3720", expected=201)
    w = _started(plant, qty=2)
    issued = plant.scan("sc-line", steel, qty=3, expected=201)["item"]
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-2", qty=8, expected=201)
    for sc in ("sc-a2", "sc-qa"):
        plant.scan(sc, w, expected=201)
    done, moved = apply_scans(
        db, [ScanIn(new_scan_id(), "sc-end", w), ScanIn(new_scan_id(), "sc-a2", issued)]
    )
    assert done.accepted and moved.accepted, (done, moved)
    row = LedgerEntry.get(LedgerEntry.scan_id == moved.scan_id)
    assert row.qty == 1
    assert Item.get(Item.code == issued).qty == 1
    assert stock.counters() == stock.recount_from_items()


def test_a_scan_id_committed_meanwhile_by_another_worker_gets_the_first_answer(plant, app, db):
    """Two workers, the same scan: the second finds the first's ledger row only when it
    writes its own (its known-id check ran before the first committed). Its batch is done
    again with each ledger row in its scan: that scan answers the first answer, once."""
    _postgres_only(db)
    code, other = plant.items("STEEL", count=2, qty=5)
    twice = ScanIn(new_scan_id(), "sc-recv", code)
    first: list = []
    applied = threading.Event()

    def worker_one():
        with db.connection_context(), writing(db):
            first.extend(apply_scans(db, [twice]))
            applied.set()
            # commit only once the other worker waits for this one's row lock
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                waiting = db.execute_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()[0]
                if waiting:
                    break
                time.sleep(0.02)

    one = threading.Thread(target=worker_one)
    one.start()
    assert applied.wait(10)
    real_undo = pgbatch.undo
    undone: list = []

    def undo(*a):
        undone.append(a)
        real_undo(*a)

    pgbatch.undo, saved = undo, pgbatch.undo
    try:
        then = ScanIn(new_scan_id(), "sc-recv", other)
        again, after = apply_scans(db, [twice, then])
    finally:
        pgbatch.undo = saved
    one.join(10)
    assert first[0].accepted
    assert undone, "the batch was not done again"
    assert again.duplicate and again.status == "accepted" and again.message == first[0].message
    assert after.accepted
    assert LedgerEntry.select().where(LedgerEntry.scan_id == twice.scan_id).count() == 1
    assert LedgerEntry.select().where(LedgerEntry.scan_id == then.scan_id).count() == 1
    assert stock.counters() == stock.recount_from_items()


def test_each_scanner_names_its_last_ledger_row_after_a_batch(plant, db):
    """The floor reads a scanner's last answer by `last_ledger_id`. On PostgreSQL the
    batch's ledger rows go in one INSERT at its end, with no id known per scan: the
    scanner is then stamped by its last row's scan id, after that INSERT."""
    from server.models import Scanner

    steel = plant.items("STEEL", count=3, qty=1)
    scans = [
        ScanIn(scan_id=new_scan_id(), scanner_id="sc-recv", code=steel[0]),
        ScanIn(scan_id=new_scan_id(), scanner_id="sc-line", code="nonsense"),
        ScanIn(scan_id=new_scan_id(), scanner_id="sc-recv", code=steel[1]),
        ScanIn(scan_id=new_scan_id(), scanner_id="sc-recv", code=steel[2]),
    ]
    results = apply_scans(db, scans)
    assert [r.accepted for r in results] == [True, False, True, True]
    for scanner, scan in (("sc-recv", scans[3]), ("sc-line", scans[1])):
        row = LedgerEntry.get(LedgerEntry.scan_id == scan.scan_id)
        assert Scanner.get_by_id(scanner).last_ledger_id == row.id, scanner
