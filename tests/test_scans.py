"""apply_scan(): every reason code, the stage moves through real scans, deduplication
(also from two threads at once), commands, policies, splitting and genealogy."""

from __future__ import annotations

import threading
import uuid

import pytest

from server.core import codes, pgbatch
from server.core.reasons import REASONS
from server.core.scans import ScanIn, apply_scan, apply_scans, writing
from server.db import init_db
from server.models import Item, LedgerEntry, Station
from tests.conftest import GTIN_BOLT, GTIN_NUT, new_scan_id

UNKNOWN_GTIN = "00012345600012"


def _scan(db, scanner, code, **kw):
    return apply_scan(
        db,
        ScanIn(
            scan_id=kw.pop("scan_id", None) or new_scan_id(), scanner_id=scanner, code=code, **kw
        ),
    )


def _in_stock(plant, sku, **kw):
    """An item of `sku` received at the dock."""
    (code,) = plant.items(sku, **kw)
    plant.scan("sc-recv", code, expected=201)
    return code


def _started(plant, order="WO-1", qty=2):
    plant.order(order, "WIDGET", qty)
    (w,) = plant.items("WIDGET")
    plant.scan("sc-a1", w, expected=201)
    return w


# --- every reason code ---------------------------------------------------------------------


def r_unknown_code(p):
    return p.scan("sc-recv", "hello?")


def r_bad_check_digit(p):
    code = codes.make_item_code(99)
    return p.scan("sc-recv", code[:-1] + ("A" if code[-1] != "A" else "B"))


def r_unknown_item(p):
    return p.scan("sc-recv", codes.make_item_code(12345))


def r_unknown_product(p):
    return p.scan("sc-recv", f"]C101{UNKNOWN_GTIN}10L1")


def r_bad_quantity(p):
    steel = _in_stock(p, "STEEL", qty=10, lot="L")
    p.order("WO-9", "WIDGET", 10)
    return p.scan("sc-line", steel, qty=11)


def r_unknown_scanner(p):
    return p.scan("sc-nope", codes.make_item_code(1))


def r_unknown_station(p):
    return p.scan("sc-recv", codes.make_item_code(1), station="NOWHERE")


def r_unknown_operator(p):
    return p.scan("sc-recv", "CMD-OP-NOBODY")


def r_badge_locked(p):
    for n in range(10):  # unknown badges: the scanner's badge labels lock (test_badge_throttle)
        p.scan("sc-recv", f"CMD-OP-B-{n:04d}", expected=422)
    return p.scan("sc-recv", "CMD-OP-B-SUPERVISOR")


def r_unknown_order(p):
    return p.scan("sc-recv", "CMD-ORD-WO-404")


def r_unknown_action(p):
    return p.scan("sc-recv", "CMD-ACT-DANCE")


def r_operator_required(p):
    # an MQTT scan: nobody behind the request, nobody signed in at the station
    Station.update(operator_required=True).where(Station.code == "RECV").execute()
    (steel,) = p.items("STEEL", qty=1)
    return _scan(p.db, "sc-recv", steel).to_dict()


def r_supervisor_required(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    return p.scan("sc-line", steel, note="dented")  # operator's token, no badge


def r_reason_required(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    return p.scan("sc-line", steel, as_="supervisor")


def r_unknown_reason(p):
    return p.scan("sc-line", "CMD-WHY-NO_SUCH_REASON")


def r_reason_not_applicable(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    p.scan("sc-line", "CMD-WHY-QC_OK", expected=201)  # a reason to release, not to scrap
    return p.scan("sc-line", steel, as_="supervisor")


def r_on_hold(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.api.post(f"/api/items/{steel}/hold", {"reason": "QC_CHECK"}, expected=200)
    p.order("WO-H", "WIDGET", 1)
    return p.scan("sc-line", steel)  # an issue of a held lot


def r_not_held(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.scan("sc-line", "CMD-ACT-RELEASE", expected=201)
    p.scan("sc-line", "CMD-WHY-QC_OK", expected=201)
    return p.scan("sc-line", steel, as_="supervisor")


def r_illegal_transition(p):
    steel = _in_stock(p, "STEEL", qty=1)
    return p.scan("sc-ship", steel)


def r_not_scheduled(p):
    (w,) = p.items("WIDGET")
    return p.scan("sc-a1", w)


def r_not_in_bom(p):
    nut = _in_stock(p, "NUT")
    p.order("WO-2", "WIDGET", 1)
    p.scan("sc-line", "CMD-ORD-WO-2", expected=201)
    return p.scan("sc-line", nut)


def r_over_issue(p):
    steel = _in_stock(p, "STEEL", qty=100, lot="L")
    p.order("WO-3", "WIDGET", 2)  # needs 2 x 2 kg
    return p.scan("sc-line", steel, qty=5)


def r_over_unissue(p):
    steel = _in_stock(p, "STEEL", qty=10, lot="L")
    p.order("WO-5", "WIDGET", 2)
    p.order("WO-6", "WIDGET", 2)
    issued = p.scan("sc-line", steel, qty=3, expected=201)["item"]  # to WO-5, due first
    p.scan("sc-line", "CMD-ACT-UNISSUE", expected=201)
    p.scan("sc-line", "CMD-ORD-WO-6", expected=201)
    return p.scan("sc-line", issued)  # returned from WO-6, which never had it


def r_over_plan(p):
    Station.update(policy={"over_plan": "warn"}).where(Station.code == "A1").execute()
    p.order("WO-4", "WIDGET", 1)
    units = p.items("WIDGET", count=2)
    for u in units:
        r = p.scan("sc-a1", u, expected=201)
    assert r["warnings"][0]["code"] == "over_plan"  # warned at start, stopped at complete
    for u in units:
        for sc in ("sc-a2", "sc-qa"):
            p.scan(sc, u, expected=201)
    p.scan("sc-end", units[0], expected=201)
    return p.scan("sc-end", units[1])


def r_wrong_station(p):
    w = _started(p)
    return p.scan("sc-qa", w)  # skips A2


def r_routing_incomplete(p):
    w = _started(p)
    return p.scan("sc-end", w)


def r_short_material(p):
    Station.update(policy={"short_material": "reject"}).where(Station.code == "END").execute()
    w = _started(p)
    p.scan("sc-a2", w, expected=201)
    p.scan("sc-qa", w, expected=201)
    return p.scan("sc-end", w)


def r_expired(p):
    p.order("WO-9", "WIDGET", 10)
    Station.update(policy={"expired": "warn"}).where(Station.code == "RECV").execute()
    p.scan("sc-recv", f"]C101{GTIN_BOLT}17200101" + "10OLD\x1d3710", expected=201)
    return p.scan("sc-line", f"]C101{GTIN_BOLT}10OLD")


def r_unknown_location(p):
    return p.scan("sc-recv", "LOC-NOWHERE")


def r_no_location(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.scan("sc-stores", "CMD-ACT-TRANSFER", expected=201)
    return p.scan("sc-stores", steel)


def r_wrong_location(p):
    steel = _in_stock(p, "STEEL", qty=1)
    p.api.post(
        "/api/locations",
        {"code": "BOLTS", "kind": "area", "allow": {"products": ["BOLT"]}},
        expected=201,
    )
    p.scan("sc-stores", "CMD-ACT-TRANSFER", expected=201)
    p.scan("sc-stores", "LOC-BOLTS", expected=201)
    return p.scan("sc-stores", steel)


def r_machine_down(p):
    p.api.post("/api/machines", {"code": "PRESS", "name": "Press", "station": "A2"}, expected=201)
    Station.update(policy={"machine_down": "reject"}).where(Station.code == "A2").execute()
    p.scan("sc-a2", "CMD-DOWN-BREAKDOWN", expected=201)
    (w,) = p.items("WIDGET")
    return p.scan("sc-a2", w)


def r_unknown_machine(p):
    return p.scan("sc-a2", "CMD-DOWN-BREAKDOWN")  # A2 has no machine


def r_unknown_shipment(p):
    return p.scan("sc-ship", "SHP-NOPE")


def r_unknown_count(p):
    return p.scan("sc-stores", "CMD-COUNT-42")


def r_count_not_open(p):
    count = p.api.post("/api/counts", {"locations": ["LINE"]}, as_="supervisor", expected=201)
    label = count.get_json()["label"]
    p.scan("sc-stores", label, expected=201)
    p.api.post(f"/api/counts/{count.get_json()['id']}/close", as_="supervisor", expected=200)
    return p.scan("sc-stores", label)


REASON_CASES = {name[2:]: fn for name, fn in globals().items() if name.startswith("r_")}
TRANSPORT_ONLY = {"bad_payload", "server_error"}  # tested in test_api.py / below
#: refusals of an API request, never of a scan (tested in tests/test_counts.py, and
#: other_site, an HTTP scan refused for its sender, in tests/test_site_limits.py)
API_ONLY = {"count_not_closed", "other_site"}


def test_every_reason_code_has_a_case():
    assert set(REASONS) - TRANSPORT_ONLY - API_ONLY == set(REASON_CASES)


@pytest.mark.parametrize("reason", sorted(REASON_CASES))
def test_reason_code(reason, plant, db):
    result = REASON_CASES[reason](plant)
    assert result["status"] == "rejected", result
    assert result["reason"] == reason, result
    assert result["message"]
    row = LedgerEntry.get(LedgerEntry.scan_id == result["scan_id"])
    assert (row.status, row.reason) == ("rejected", reason)


def test_rejected_scan_changes_nothing(plant, db):
    steel = _in_stock(plant, "STEEL", qty=3)
    before = Item.get(Item.code == steel)
    r = plant.scan("sc-ship", steel, expected=422)
    after = Item.get(Item.code == steel)
    assert r["reason"] == "illegal_transition"
    assert (after.stage, after.station_id, after.qty) == (
        before.stage,
        before.station_id,
        before.qty,
    )


def _shipped(p):
    w = _started(p, qty=1)
    for sc in ("sc-a2", "sc-qa", "sc-end", "sc-ship"):
        p.scan(sc, w, expected=201)
    return w


# (how the item is made, the scanner that is refused, the worker message)
ILLEGAL_SCANS = [
    (
        lambda p: p.items("STEEL")[0],
        "sc-ship",
        "This item is new (never received): receive it first",
    ),
    (
        lambda p: p.items("WIDGET")[0],
        "sc-recv",
        "This item is new (not started yet): start it at its first station",
    ),
    (
        lambda p: _in_stock(p, "STEEL", qty=1),
        "sc-ship",
        "This item is raw material in stock: issue it to an order",
    ),
    (
        _started,
        "sc-ship",
        "This item is in work (WIP): move it to its next station or complete it",
    ),
    (_shipped, "sc-ship", "This item is already shipped: only a supervisor can return it"),
    (
        lambda p: _in_stock(p, "GLOVES", qty=1),
        "sc-line",
        "This item is in supplies: use it at stores",
    ),
]


@pytest.mark.parametrize(("make", "scanner", "message"), ILLEGAL_SCANS)
def test_illegal_transition_says_the_stage_and_what_next(plant, make, scanner, message):
    code = make(plant)
    stage = plant.api.get(f"/api/items/{code}").get_json()["stage"]
    r = plant.scan(scanner, code, expected=422)
    assert (r["reason"], r["message"], r["stage"]) == ("illegal_transition", message, stage)


# --- allowed moves through real scans -------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "scanners", "stages"),
    [
        ("STEEL", ["sc-recv"], ["raw"]),
        ("BOLT", ["sc-recv"], ["component"]),
        ("GLOVES", ["sc-recv", "sc-stores"], ["supplies", "consumed"]),
        ("WIDGET", ["sc-recv"], [None]),  # finished goods are made, not received
    ],
)
def test_receive_and_use(plant, sku, scanners, stages):
    (code,) = plant.items(sku)
    for scanner, stage in zip(scanners, stages, strict=True):
        r = plant.scan(scanner, code)
        assert r["stage"] == stage if stage else r["reason"] == "illegal_transition"


def test_ship_and_return(plant, api):
    w = _started(plant, qty=1)
    for sc in ("sc-a2", "sc-qa", "sc-end", "sc-ship"):
        plant.scan(sc, w, expected=201)
    plant.scan("sc-ship", "CMD-ACT-RETURN", expected=201)
    r = plant.scan("sc-ship", w, as_="supervisor", note="customer refused", expected=201)
    assert r["stage"] == "finished"
    assert api.get("/api/orders/WO-1").get_json()["status"] == "done"


def test_scrap_by_badge_supervisor(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    for code in ("CMD-OP-B-SUPERVISOR", "CMD-ACT-SCRAP"):
        plant.scan("sc-line", code, expected=201)
    r = plant.scan("sc-line", steel, note="rust", expected=201)
    assert r["stage"] == "scrapped"
    row = LedgerEntry.get(LedgerEntry.scan_id == r["scan_id"])
    assert row.operator.username == "supervisor1" and row.note == "rust"


def test_commands_set_and_clear_context(plant, api):
    plant.order("WO-7", "WIDGET", 1)
    for code in ("CMD-OP-B-OPERATOR", "CMD-ORD-WO-7", "CMD-ACT-SCRAP"):
        plant.scan("sc-line", code, expected=201)
    sc = {s["id"]: s for s in api.get("/api/scanners").get_json()["scanners"]}["sc-line"]
    assert (sc["operator"], sc["order"], sc["action"]) == ("operator1", "WO-7", "scrap")
    plant.scan("sc-line", "CMD-DONE", expected=201)
    plant.scan("sc-line", "CMD-OP-B-OPERATOR", expected=201)  # same badge again: sign out
    sc = {s["id"]: s for s in api.get("/api/scanners").get_json()["scanners"]}["sc-line"]
    assert (sc["operator"], sc["order"], sc["action"]) == (None, None, None)


def test_policy_warn_accepts_with_warning(plant):
    Station.update(policy={"wrong_station": "warn"}).where(Station.code == "QA").execute()
    w = _started(plant)
    r = plant.scan("sc-qa", w, expected=201)
    assert r["warnings"][0]["code"] == "wrong_station"


# --- GS1 and EPC labels at receiving ------------------------------------------------------


def test_supplier_serial_label_creates_the_item_once(plant):
    label = f"]C101{GTIN_NUT}21SN-1"
    r = plant.scan("sc-recv", label, expected=201)
    assert r["stage"] == "component"
    again = plant.scan("sc-recv", label, expected=422)  # a new scan of the same unit
    assert again["reason"] == "illegal_transition" and again["item"] == r["item"]


def test_lot_labels_are_taken_oldest_first(plant):
    first = plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B1\x1d3710", expected=201)
    second = plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B1\x1d3710", expected=201)
    assert first["item"] != second["item"]
    plant.order("WO-5", "WIDGET", 5)
    r = plant.scan("sc-line", f"]C101{GTIN_BOLT}10B1", expected=201)
    assert r["item"] == first["item"]


def test_epc_serial_resolves_the_received_unit(plant, api, db):
    from server.models import Product

    Product.update(gtin="80614141123458").where(Product.sku == "NUT").execute()
    r = plant.scan("sc-recv", "3074257BF7194E4000001A85", source="rfid", expected=201)
    item = api.get(f"/api/items/{r['item']}").get_json()
    assert (item["product"], item["serial"]) == ("NUT", "6789")


# --- deduplication ---------------------------------------------------------------------------


def test_same_scan_id_twice(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.order("WO-6", "WIDGET", 1)
    first = plant.scan("sc-line", steel, scan_id="dup-1", expected=201)
    second = plant.scan("sc-line", steel, scan_id="dup-1", expected=200)
    assert second["duplicate"] is True
    assert {**second, "duplicate": False} == first
    assert LedgerEntry.select().where(LedgerEntry.scan_id == "dup-1").count() == 1


def test_same_rejected_scan_id_twice(plant, db):
    first = plant.scan("sc-recv", "nonsense", scan_id="dup-2", expected=422)
    second = plant.scan("sc-recv", "nonsense", scan_id="dup-2", expected=200)
    assert second["duplicate"] and second["reason"] == first["reason"] == "unknown_code"


def test_same_scan_id_from_two_threads(plant, app, db):
    plant.order("WO-8", "WIDGET", 10)
    steels = [_in_stock(plant, "STEEL", qty=1) for _ in range(5)]
    database = app.extensions["koordinator.db"]
    for n, steel in enumerate(steels):
        barrier = threading.Barrier(2)
        results = []

        def worker(steel=steel, n=n, barrier=barrier, results=results):
            with database.connection_context():
                barrier.wait()
                results.append(_scan(database, "sc-line", steel, scan_id=f"race-{n}"))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.duplicate for r in results) == [False, True], results
        assert {r.status for r in results} == {"accepted"}
        assert LedgerEntry.select().where(LedgerEntry.scan_id == f"race-{n}").count() == 1
    assert Item.select().where(Item.stage == "wip").count() == 5


def test_unexpected_error_is_not_stored(plant, db, monkeypatch):
    from server.core import schedule

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(schedule, "routing_of", boom)
    (w,) = plant.items("WIDGET")
    plant.order("WO-10", "WIDGET", 1)
    result = _scan(db, "sc-a1", w, scan_id="boom-1")
    assert (result.status, result.reason) == ("rejected", "server_error")
    assert not LedgerEntry.select().where(LedgerEntry.scan_id == "boom-1").exists()
    monkeypatch.undo()
    assert _scan(db, "sc-a1", w, scan_id="boom-1").status == "accepted"  # the resend works


# --- completing at the routing's last station (routing A1 -> A2 -> QA) ----------------------

# (QA's default action, move scanners after the start at A1, completing scanner,
#  station of the completed unit or None, the rejection message's next station)
COMPLETE_CASES = [
    # left A2 and scanned at QA, the completing last station: arrives and completes at once
    ("complete", ["sc-a2"], "sc-qa", "QA", None),
    # still at A1: skipping A2 is refused, the message says where it goes next
    ("complete", [], "sc-qa", None, "A2"),
    # left A2, scanned at END (not on the routing): it must reach QA first
    ("complete", ["sc-a2"], "sc-end", None, "QA"),
    # moved through QA, completed at END
    ("move", ["sc-a2", "sc-qa"], "sc-end", "END", None),
    ("move", ["sc-a2"], "sc-end", None, "QA"),
    ("move", [], "sc-end", None, "A2"),
]


@pytest.mark.parametrize("batch", [False, True], ids=["one-by-one", "one-batch"])
@pytest.mark.parametrize(
    ("qa_action", "moves", "completer", "done_at", "next_station"),
    COMPLETE_CASES,
    ids=[f"QA-{a}-{'-'.join(['sc-a1', *m])}-{c}" for a, m, c, _d, _n in COMPLETE_CASES],
)
def test_complete_at_the_last_station(
    plant, api, db, batch, qa_action, moves, completer, done_at, next_station
):
    Station.update(default_action=qa_action).where(Station.code == "QA").execute()
    w = _started(plant, qty=1)
    # own scan ids: tests.conftest's counter is a second copy of the one plant.scan uses
    scans = [ScanIn(f"route-{uuid.uuid4().hex}", sc, w) for sc in [*moves, completer]]
    if batch:  # the MQTT ingest's path: the moves and the complete in one transaction
        results = apply_scans(db, scans)
    else:
        results = [apply_scan(db, s) for s in scans]
    assert all(r.accepted for r in results[:-1]), results
    last = results[-1]
    row = LedgerEntry.get(LedgerEntry.scan_id == last.scan_id)
    unit = api.get(f"/api/items/{w}").get_json()
    if done_at:
        assert (last.status, last.stage, last.action) == ("accepted", "finished", "complete"), last
        assert unit["station"] == done_at and unit["stage"] == "finished"
        # the ledger shows it arrived there: the complete row is that station's
        assert (row.station.code, row.from_stage, row.to_stage) == (done_at, "wip", "finished")
        assert unit["history"][-1]["station"] == done_at
        assert api.get("/api/orders/WO-1").get_json()["status"] == "done"
    else:
        assert (last.status, last.reason) == ("rejected", "routing_incomplete")
        assert f"move it to {next_station} next" in last.message, last.message
        assert unit["stage"] == "wip" and unit["station"] == (
            {"A2": "A1"}.get(next_station) or "A2"
        )
        assert row.status == "rejected"


# --- genealogy, splitting and counters -------------------------------------------------------


def test_complete_consumes_issued_material_and_links_it(plant, api):
    steel = _in_stock(plant, "STEEL", qty=10, lot="S-9")
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-2\x1d3720", expected=201)
    w = _started(plant, qty=2)
    issued = plant.scan("sc-line", steel, qty=3, expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-2", qty=8, expected=201)
    for sc in ("sc-a2", "sc-qa", "sc-end"):
        r = plant.scan(sc, w, expected=201)
    assert r["warnings"] == []
    unit = api.get(f"/api/items/{w}").get_json()
    kids = {(c["product"], c["qty"], c["lot"]) for c in unit["children"]}
    assert kids == {("STEEL", 2, "S-9"), ("BOLT", 4, "B-2")}
    left = api.get(f"/api/items/{issued['item']}").get_json()  # 1 kg still at the line
    assert (left["stage"], left["qty"]) == ("wip", 1)
    order = api.get("/api/orders/WO-1").get_json()
    mats = {m["material"]: m for m in order["materials"]}
    assert mats["STEEL"] == {"material": "STEEL", "needed": 4, "issued": 3, "consumed": 2}


def test_stock_counters_follow_moves(plant, api, db):
    from server.core import stock

    steel = _in_stock(plant, "STEEL", qty=10)
    plant.order("WO-11", "WIDGET", 5)
    plant.scan("sc-line", steel, qty=2.5, expected=201)
    assert stock.counters() == stock.recount_from_items()
    by_stage = {r["stage"]: r for r in api.get("/api/stock").get_json()["by_stage"]}
    assert by_stage["raw"]["qty"] == 7.5 and by_stage["wip"]["qty"] == 2.5


def test_scanner_last_scan_is_recorded(plant, api):
    plant.scan("sc-recv", "garbage", expected=422)
    sc = {s["id"]: s for s in api.get("/api/scanners").get_json()["scanners"]}
    assert sc["sc-recv"]["last_scan_at"] is not None and sc["sc-ship"]["last_scan_at"] is None


def test_nul_in_a_code_is_recorded_not_crashed(plant, db):
    # the core must store whatever the adapters let through, on PostgreSQL too
    result = _scan(db, "sc-recv", "K\x00BAD", note="a\x00b")
    assert (result.status, result.reason) == ("rejected", "unknown_code")
    row = LedgerEntry.get(LedgerEntry.scan_id == result.scan_id)
    assert "\x00" not in row.raw_code


def test_nul_in_an_http_scan_is_400(plant):
    body = {"scan_id": "nul-1", "scanner_id": "sc-recv", "code": "K\x00X"}
    resp = plant.api.post("/api/scans", body, as_="operator", expected=400)
    assert resp.get_json()["error"] == "bad_payload"


def test_writer_lock_is_not_taken_twice_inside_a_transaction(app, db):
    """The ingest opens the transaction (holding the writer lock) and calls apply_scans in
    it: taking the lock again would deadlock its own thread."""
    done = threading.Event()

    def nested():
        with db.connection_context(), writing(db), writing(db):
            done.set()

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(10)
    assert done.is_set()


def test_apply_scans_inside_a_transaction_opens_no_batch_savepoint(plant):
    """The ingest's transaction is the batch's: a savepoint around the batch would keep
    every page it changes in SQLite's statement journal (a subtransaction on PostgreSQL).
    Each scan still has its own: a rejected scan undoes only itself."""
    db = plant.db
    (code,) = plant.items("BOLT")
    savepoints: list[str] = []
    real = db._execute_cursor

    def spy(sql, params=None):
        # what reaches the server (on PostgreSQL statements ride along with others)
        savepoints.extend(s for s in sql.split("; ") if s.upper().startswith("SAVEPOINT"))
        return real(sql, params)

    db._execute_cursor = spy
    try:
        with writing(db):
            with writing(db):
                pass
            results = apply_scans(
                db,
                [
                    ScanIn(new_scan_id(), "sc-recv", code),
                    ScanIn(new_scan_id(), "sc-recv", "no such code"),
                ],
            )
    finally:
        del db._execute_cursor
    assert [r.status for r in results] == ["accepted", "rejected"]
    if pgbatch.available(db):
        # the batch's own (server/core/pgbatch.py: a subtransaction, not a statement
        # journal) and the accepted scan's, sent with its first write; the rejected scan
        # wrote nothing, and its ledger row goes with the batch's others
        assert savepoints == ['SAVEPOINT "batch"', 'SAVEPOINT "scan"']
    else:
        # the accepted scan's, the rejected scan's and the one its ledger row is written in
        assert savepoints == ['SAVEPOINT "scan"'] * 3


def test_sqlite_keeps_statement_journals_in_memory(tmp_path):
    """Each scan's savepoint journal spilled to a temp file past 64 KiB: two pwrite() calls
    for every page a scan changed (docs/decisions.md)."""
    db = init_db(f"sqlite:///{tmp_path}/pragmas.db")
    with db.connection_context():
        assert db.execute_sql("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    db.close_all()
