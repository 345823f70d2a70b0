"""The event outbox (server/core/events.py): events written in the transaction of the
change that causes them, flags emitted once when they rise and once when they clear."""

from __future__ import annotations

import datetime as dt
import threading

import peewee as pw
import pytest

from server.core import events
from server.models import Event, FlagState, Item, LedgerEntry, Product, utcnow
from tests.test_scans import _in_stock, _started


def _events(type_: str | None = None) -> list[Event]:
    query = Event.select().order_by(Event.id)
    if type_ is not None:
        query = query.where(Event.type == type_)
    return list(query)


def _types() -> list[str]:
    return [e.type for e in _events()]


def test_an_accepted_and_a_rejected_scan_each_write_their_event(plant, db):
    (steel,) = plant.items("STEEL", qty=5, lot="E-1")
    accepted = plant.scan("sc-recv", steel, expected=201)
    refused = plant.scan("sc-recv", "hello?", expected=422)

    (ok,) = _events("scan.accepted")
    assert ok.subject == steel
    assert ok.payload["scan_id"] == accepted["scan_id"]
    assert (ok.payload["action"], ok.payload["stage"]) == ("receive", "raw")
    assert (ok.payload["scanner"], ok.payload["station"]) == ("sc-recv", "RECV")
    assert ok.payload["from_stage"] == "new"
    (bad,) = _events("scan.rejected")
    assert bad.payload["scan_id"] == refused["scan_id"]
    assert bad.payload["reason"] == "unknown_code"
    assert ok.id < bad.id
    # a duplicate is answered from the ledger and emits nothing
    plant.scan("sc-recv", steel, scan_id=accepted["scan_id"], expected=200)
    assert len(_events()) == 2


def test_scan_events_match_the_ledger_one_for_one(plant, db):
    """Each scan row of the ledger has its one scan event, accepted and rejected alike."""
    for sku in ("STEEL", "BOLT", "GLOVES"):
        _in_stock(plant, sku, qty=3)
    plant.scan("sc-recv", "CMD-OP-NOBODY", expected=422)
    rows = LedgerEntry.select().where(LedgerEntry.origin == "scan").order_by(LedgerEntry.id)
    scan_events = [e for e in _events() if e.type.startswith("scan.")]
    assert [(r.scan_id, r.status) for r in rows] == [
        (e.payload["scan_id"], e.type.removeprefix("scan.")) for e in scan_events
    ]


def test_hold_release_and_scrap_emit_item_events(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1, lot="H-9")
    plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
    plant.api.post(f"/api/items/{steel}/release", {"reason": "QC_OK"}, expected=200)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    plant.scan("sc-line", steel, as_="supervisor", reason="DAMAGED", expected=201)

    held, released, scrapped = (
        _events("item.held"),
        _events("item.released"),
        _events("item.scrapped"),
    )
    assert [e.subject for e in held + released + scrapped] == [steel] * 3
    assert held[0].payload["why"] == "DAMAGED" and held[0].payload["origin"] == "api"
    assert held[0].payload["operator"] == "admin1"
    assert released[0].payload["why"] == "QC_OK"
    assert scrapped[0].payload["why"] == "DAMAGED"
    assert held[0].id < released[0].id < scrapped[0].id


def test_a_hold_rolled_back_leaves_no_event(plant, db):
    from server.core import holds
    from server.core.stages import Action

    steel = _in_stock(plant, "STEEL", qty=1)
    before = len(_events())
    with pytest.raises(RuntimeError), db.atomic():
        item = Item.get(Item.code == steel)
        holds.hold_outside_a_scan(item, Action.HOLD, why="DAMAGED", user=None, now=utcnow())
        assert _events()[-1].type == "item.held"  # written, inside the transaction
        raise RuntimeError("the request failed after the hold")
    assert len(_events()) == before
    assert Item.get(Item.code == steel).held is False


def test_order_released_then_done_once(plant, db):
    w = _started(plant, order="WO-E", qty=1)
    (rel,) = _events("order.released")
    assert rel.subject == "WO-E" and rel.payload["product"] == "WIDGET"
    assert rel.payload["qty"] == "1"
    for sc in ("sc-a2", "sc-qa", "sc-end"):
        plant.scan(sc, w, expected=201)
    (done,) = _events("order.done")
    assert done.payload == {"order": "WO-E", "by": "scan"}
    # the complete scan's own event comes first, in the same transaction
    last_scan = _events("scan.accepted")[-1]
    assert last_scan.payload["action"] == "complete" and last_scan.id < done.id


def test_a_flag_is_emitted_once_when_it_rises_and_once_when_it_clears(plant, db):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    plant.order("WO-LATE", "WIDGET", 1, release=False, due=yesterday)  # late: due yesterday
    now = utcnow()
    changed = events.evaluate_flags(db, now)
    assert "late:order:WO-LATE" in changed
    (late,) = [e for e in _events("flag.raised") if e.payload["flag"] == "late"]
    assert late.subject == "flag:late:order:WO-LATE"
    assert late.payload["subject"] == "order:WO-LATE" and late.payload["state"] == "raised"
    assert late.payload["days"] == 1
    raised = len(_events("flag.raised"))
    assert FlagState.get_by_id("late:order:WO-LATE").flag == "late"

    # evaluated again (timer), nothing changed: no event
    assert events.evaluate_flags(db, now + dt.timedelta(minutes=1)) == []
    assert len(_events("flag.raised")) == raised

    plant.api.post(
        "/api/orders/WO-LATE/close", {"reason": "cancelled"}, as_="supervisor", expected=200
    )
    assert "late:order:WO-LATE" in events.evaluate_flags(db, now)
    (cleared,) = [e for e in _events("flag.cleared") if e.payload["flag"] == "late"]
    assert cleared.payload["state"] == "cleared"
    assert cleared.payload["raised_at"] == now.isoformat() + "Z"
    assert FlagState.get_or_none(FlagState.key == "late:order:WO-LATE") is None
    assert events.evaluate_flags(db, now) == []


def test_reorder_flag_rises_when_stock_falls_below_the_point(plant, db):
    Product.update(reorder_point=2).where(Product.sku == "GLOVES").execute()
    now = utcnow()
    assert "reorder:product:GLOVES" in events.evaluate_flags(db, now)
    for _ in range(2):
        _in_stock(plant, "GLOVES")
    assert events.flag_triggered_since(0) is not None
    assert events.evaluate_flags(db, now) == ["reorder:product:GLOVES"]
    assert _events()[-1].type == "flag.cleared"


def test_event_ids_grow_in_commit_order(db, plant):
    """Two writers at once: the second waits for the first's commit before its event id is
    taken (PostgreSQL's outbox lock; SQLite's one writer), so no id commits after a
    larger one and a sink's cursor may be an id."""
    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE")
    first_in = threading.Event()
    results: dict[str, int] = {}

    def slow_writer():
        with db.connection_context(), db.atomic():
            events.emit("order.released", "SLOW", {}, now=utcnow())
            first_in.set()
            threading.Event().wait(0.5)
        results["slow_committed"] = 1

    t = threading.Thread(target=slow_writer)
    t.start()
    assert first_in.wait(5)
    with db.atomic():
        events.emit("order.released", "FAST", {}, now=utcnow())
    assert results.get("slow_committed") == 1  # FAST waited for SLOW's commit
    t.join()
    slow, fast = _events("order.released")[-2:]
    assert (slow.subject, fast.subject) == ("SLOW", "FAST") and slow.id < fast.id
