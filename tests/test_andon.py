"""The andon rule (server/core/andon.py): red for a held unit at the station or a recent
rejection among its last answers, amber for a warning or a flag touching it, else green."""

from __future__ import annotations

import datetime as dt

from server.core import andon
from server.models import FlagState, LedgerEntry, Station, utcnow
from tests.test_scans import _in_stock, _started


def _colour(code: str, now=None) -> andon.Andon:
    return andon.colour_of(code, now or utcnow())


def test_a_held_unit_at_the_station_is_red_until_released(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    assert _colour("RECV").colour == "green"
    plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
    light = _colour("RECV")
    assert (light.colour, light.why) == ("red", ("held:1",))
    assert _colour("LINE").colour == "green"  # only where the unit is
    plant.api.post(f"/api/items/{steel}/release", {"reason": "QC_OK"}, as_="supervisor")
    assert _colour("RECV").colour == "green"


def test_a_recent_rejection_among_the_last_answers_is_red(plant, db):
    plant.scan("sc-recv", "nonsense", expected=422)
    light = _colour("RECV")
    assert (light.colour, light.why) == ("red", ("rejected:unknown_code",))
    # older than the window: green again
    later = utcnow() + dt.timedelta(minutes=andon.RECENT_MINUTES, seconds=5)
    assert _colour("RECV", later).colour == "green"
    # pushed out by LAST_ANSWERS good answers: green again
    for _ in range(andon.LAST_ANSWERS):
        _in_stock(plant, "STEEL", qty=1)
    assert _colour("RECV").colour == "green"


def test_a_warning_or_a_flag_is_amber(plant, db):
    Station.update(policy={"wrong_station": "warn"}).where(Station.code == "QA").execute()
    w = _started(plant)
    plant.scan("sc-qa", w, expected=201)
    assert _colour("QA").colour == "amber"
    assert _colour("QA").why == ("warning:wrong_station",)
    LedgerEntry.delete().where(LedgerEntry.warnings != "[]").execute()
    assert _colour("QA").colour == "green"
    FlagState.create(key="dwell:station:QA", flag="dwell", subject="station:QA", raised_at=utcnow())
    assert (_colour("QA").colour, _colour("QA").why) == ("amber", ("flag:dwell:station:QA",))


def test_an_order_flag_is_amber_on_its_line(plant, db):
    plant.order("WO-A", "WIDGET", 1, station="A2")
    FlagState.create(key="late:order:WO-A", flag="late", subject="order:WO-A", raised_at=utcnow())
    assert _colour("A2").colour == "amber" and _colour("A1").colour == "green"
    payload = {"flag": "late", "order": "WO-A", "key": "late:order:WO-A"}
    assert andon.stations_of("flag.raised", payload) == {"A2"}


def test_the_stations_an_event_touches(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)  # at RECV
    payload = {"item": steel, "station": "LINE"}  # held by a scan at the line
    assert andon.stations_of("item.held", payload) == {"LINE", "RECV"}
    assert andon.stations_of("scan.rejected", {"station": "QA"}) == {"QA"}
    assert andon.stations_of("order.done", {"order": "X"}) == set()


def test_the_floor_shows_each_scanner_its_own_last_answer(plant, db):
    """Two scanners answered within seconds of each other: each scanner's time range holds
    the other's rows too, and each tile still shows its own scanner's last answer."""
    from server.core import plantfloor
    from server.core.scans import ScanIn, apply_scan
    from tests.conftest import new_scan_id

    t0 = utcnow().replace(microsecond=0) - dt.timedelta(minutes=1)

    def at(scanner, code, seconds):
        when = t0 + dt.timedelta(seconds=seconds)
        return apply_scan(
            db, ScanIn(scan_id=new_scan_id(), scanner_id=scanner, code=code), now=when
        )

    (steel,) = plant.items("STEEL", qty=1)
    assert not at("sc-recv", "nonsense", 0).accepted  # RECV's first answer: refused
    assert not at("sc-line", "nonsense", 1).accepted  # LINE's last: refused
    assert at("sc-recv", steel, 2).accepted  # RECV's last: accepted, a second later
    tiles = {t["code"]: t for t in plantfloor.tiles(utcnow())}
    assert (tiles["RECV"].last.status, tiles["RECV"].last.scanner) == ("accepted", "sc-recv")
    assert (tiles["LINE"].last.status, tiles["LINE"].last.reason) == ("rejected", "unknown_code")
    assert tiles["LINE"]["andon"] == "red" and tiles["RECV"]["andon"] == "green"


def test_each_scanner_keeps_the_id_of_its_last_answer(plant, db):
    """The scan path writes each scanner's last ledger row id beside `last_scan_at`; the
    floor reads the answer by it, however old it is and whatever the ledger holds after."""
    from server.core import plantfloor
    from server.models import Scanner

    (steel,) = plant.items("STEEL", qty=1)
    plant.scan("sc-recv", "nonsense", expected=422)
    refused = LedgerEntry.select().order_by(LedgerEntry.id.desc()).get()
    assert Scanner.get_by_id("sc-recv").last_ledger_id == refused.id
    plant.scan("sc-recv", steel, expected=201)
    taken = LedgerEntry.get(
        (LedgerEntry.scanner_id == "sc-recv") & (LedgerEntry.status == "accepted")
    )
    assert Scanner.get_by_id("sc-recv").last_ledger_id == taken.id
    # an hour later, the scanner's answer still shows: read by id, not looked for in time
    LedgerEntry.update(received_at=utcnow() - dt.timedelta(hours=1)).where(
        LedgerEntry.id == taken.id
    ).execute()
    tiles = {t["code"]: t for t in plantfloor.tiles(utcnow())}
    assert (tiles["RECV"].last.status, tiles["RECV"].last.code) == ("accepted", steel)
    # a deactivated scanner's refusal is not its answer: the id stays
    Scanner.update(active=False).where(Scanner.id == "sc-recv").execute()
    plant.scan("sc-recv", steel, expected=422)
    assert Scanner.get_by_id("sc-recv").last_ledger_id == taken.id
    assert tiles["LINE"].last is None
