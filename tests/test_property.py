"""Property: after any sequence of scans, the stock counters equal a recount, every item's
stage and quantity equal what its last ledger entry says, and the held stock GET /api/stock
reports is what the hold and release rows of the ledger left held.

The scans include the floor exceptions: hold and release (by label with a reason, and by
the API), scrap with a reason, good and scrap quantities completing a lot, FEFO picks by
bare GTIN over lots with different expiries (one expired), rework with a reason,
unissue, and transfers (location labels, CMD-ACT-TRANSFER); the stock counters by location
equal a recount too, and so do the subtree totals and site counters kept beside them
(migration 0019), also after places are moved in the tree and a product's unit changes
between the scans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import peewee as pw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core import stock
from server.core.scans import ScanIn, apply_scan
from server.models import (
    Item,
    LedgerEntry,
    OrderMaterial,
    Product,
    ProductionOrder,
    Scanner,
    Station,
)
from tests.conftest import GTIN_BOLT, new_scan_id

SCANNERS = [
    "sc-recv",
    "sc-line",
    "sc-a1",
    "sc-a2",
    "sc-qa",
    "sc-end",
    "sc-ship",
    "sc-stores",
    "sc-rw",  # rework, back to QA
    "sc-ret",  # unissue
    "api-hold",  # POST /api/items/{code}/hold (a supervisor at a desk)
    "api-release",
    "api-count",  # a supervisor opens, closes or approves a cycle count of LINE
    "api-move",  # an admin moves a place (a line side, an area) in the tree
    "api-unit",  # an admin changes BOLT's unit (ea <-> box); its lots are in stock
    "api-import",  # an admin's CSV imports: two places moved in one file, BOLT's unit
]
#: the places api-move moves, and where to: the site's top or one of two areas
MOVED = ["LINE", "A1", "QA", "RECV", "ZONE-2", "ZONE-1"]
MOVED_TO = [None, "ZONE-1", "ZONE-2"]
#: a bare GTIN: the pick takes the earliest-expiring lot of the bolts in stock
BARE_GTIN = f"]C101{GTIN_BOLT}"
COMMANDS = [
    "CMD-ACT-SCRAP",
    *["CMD-DONE"] * 5,  # an action label sticks until DONE: else every scanner is stuck in one
    "CMD-OP-B-SUPERVISOR",
    "CMD-OUT",
    "CMD-ORD-WO-P1",
    "CMD-ORD-WO-PASTE",
    "CMD-ACT-REWORK",
    "CMD-ACT-UNISSUE",
    "CMD-ACT-TRANSFER",
    "LOC-LINE",
    "LOC-A1",
    "CMD-ACT-HOLD",
    "CMD-ACT-RELEASE",
    "CMD-QC-FAIL",
    "CMD-QC-PASS",
    "CMD-WHY-SURFACE",
    "CMD-WHY-REPAIR",
    BARE_GTIN,
    BARE_GTIN,
]
#: the reason a scan's payload carries: mostly none, else one that fits the action the
#: scanner is set to (FITTING), one of another use, or one not on the list
REASONS = [None] * 6 + ["fit"] * 4 + ["QC_OK", "NOPE"]
FITTING = {"hold": "QC_CHECK", "release": "QC_OK", "scrap": "SURFACE", "rework": "REPAIR"}

step = st.tuples(
    st.sampled_from(SCANNERS),
    st.integers(min_value=0, max_value=60),  # index into the known codes (or a command)
    st.sampled_from([None, None, None, "0.5", "1", "3", "50"]),
    st.sampled_from(REASONS),
    st.sampled_from([None] * 6 + ["1", "2.5"]),  # scrap_qty
    st.sampled_from([None, "operator", "supervisor"]),  # who is signed in
)


def _ledger_state() -> dict[int, tuple[str, Decimal]]:
    """Per item, (stage, qty) after its last accepted ledger entry."""
    state: dict[int, tuple[str, Decimal]] = {}
    rows = (
        LedgerEntry.select(LedgerEntry.item, LedgerEntry.to_stage, LedgerEntry.qty)
        .where((LedgerEntry.status == "accepted") & LedgerEntry.item.is_null(False))
        .order_by(LedgerEntry.id)
        .tuples()
    )
    for item_id, to_stage, qty in rows:
        state[item_id] = (to_stage, Decimal(qty))
    return state


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=20, max_size=80))
def test_counters_equal_recount_after_random_scans(plant, db, users, steps):
    if not Item.select().exists():
        _rework_stations(plant)
        # a line where an operator may scrap with a reason (and report scrap completing a lot)
        Station.update(policy={"scrap_by": "operator"}).where(Station.code == "END").execute()
        plant.api.post(
            "/api/products",
            {"sku": "PASTE", "name": "Paste", "kind": "finished", "tracking": "lot"},
            expected=201,
        )
        for zone in ("ZONE-1", "ZONE-2"):
            plant.api.post("/api/locations", {"code": zone, "kind": "area"}, expected=201)
        plant.order("WO-P1", "WIDGET", 30)
        plant.order("WO-P2", "BRACKET", 30)
        plant.order("WO-PASTE", "PASTE", 500)
        for sku, kw in [
            ("STEEL", {"qty": 40, "lot": "S"}),
            ("BOLT", {"qty": 100}),
            ("GLOVES", {"qty": 10}),
            ("NUT", {}),
            ("WIDGET", {}),
            ("BRACKET", {}),
            ("PASTE", {"qty": 10, "lot": "P"}),
        ]:
            plant.items(sku, count=4, **kw)
        _receive_bolt_lots(db)
    codes = [c for (c,) in Item.select(Item.code).order_by(Item.id).tuples()]
    who = {role: users[role][0].id for role in ("operator", "supervisor")}
    for scanner, idx, qty, reason, scrap_qty, user in steps:
        code = codes[idx] if idx < len(codes) else COMMANDS[idx % len(COMMANDS)]
        if scanner == "api-count":
            _count_step(plant, db, idx)
            continue
        if scanner == "api-move":
            parent = MOVED_TO[idx // len(MOVED) % len(MOVED_TO)]
            resp = plant.api.call(
                "PATCH", f"/api/locations/{MOVED[idx % len(MOVED)]}", {"parent": parent}
            )
            assert resp.status_code in (200, 400), resp.get_json()  # 400: inside itself
            continue
        if scanner == "api-unit":
            unit = "box" if Product.get(Product.sku == "BOLT").unit == "ea" else "ea"
            plant.api.call("PATCH", "/api/products/BOLT", {"unit": unit}, expected=200)
            continue
        if scanner == "api-import":
            _import_step(plant, idx)
            continue
        if scanner.startswith("api-"):
            body = {"reason": reason} if reason else {}
            path = f"/api/items/{code}/{scanner[4:]}"
            resp = plant.api.call("POST", path, body, as_="supervisor")
            assert resp.status_code < 500, resp.get_json()
            continue
        note = "property test" if idx % 3 == 0 else None
        if reason == "fit":
            reason = _fitting_reason(scanner, scrap_qty)
        result = apply_scan(
            db,
            ScanIn(
                scan_id=new_scan_id(),
                scanner_id=scanner,
                code=code,
                qty=Decimal(qty) if qty else None,
                note=note,
                reason=reason,
                scrap_qty=Decimal(scrap_qty) if scrap_qty else None,
                user_id=who.get(user),
            ),
        )
        if code == BARE_GTIN:
            _picked_first_to_expire(result)
    # the sequence must move things, or the property says little
    assert LedgerEntry.select().where(LedgerEntry.status == "accepted").count() > len(steps) // 4
    assert stock.counters() == stock.recount_from_items()
    _locations_follow_the_items()
    _orders_figures_follow_the_ledger()
    ledger = _ledger_state()
    for item in Item.select():
        assert ledger[item.id] == (item.stage, Decimal(item.qty)), item.code
    _held_stock_is_what_the_ledger_held(plant)


def _import_step(plant, idx: int) -> None:
    """The locations export with two places given other parents, imported back (each move
    made after the file's transaction, in one of its own); every other time the products
    export with BOLT's unit changed too."""
    from server.core import imports

    moves = {
        MOVED[(idx + k) % len(MOVED)]: MOVED_TO[(idx // len(MOVED) + k) % len(MOVED_TO)]
        for k in (0, 1)
    }
    rows = imports.export_rows("locations")
    for row in rows[1:]:
        if row[0] in moves:
            row[4] = moves[row[0]] or ""
    resp = plant.api.call(
        "POST", "/api/import/locations", None, data=_csv(rows), content_type="text/csv"
    )
    assert resp.status_code in (200, 400), resp.get_json()  # 400: a place inside itself
    if idx % 2:
        rows = imports.export_rows("products")
        for row in rows[1:]:
            if row[0] == "BOLT":
                row[5] = "box" if row[5] == "ea" else "ea"
        out = plant.api.call(
            "POST", "/api/import/products", None, data=_csv(rows), content_type="text/csv",
            expected=200,
        ).get_json()  # fmt: skip
        assert [u["sku"] for u in out["unit_changes"]] == ["BOLT"], out


def _csv(rows: list[list[str]]) -> bytes:
    import csv
    import io

    from server.core.imports import neutralise

    buf = io.StringIO()
    csv.writer(buf).writerows([neutralise(c) for c in row] for row in rows)
    return buf.getvalue().encode()


def _locations_follow_the_items() -> None:
    """The location counters equal a recount; an item's last accepted scan row says where
    it went (a transfer changes nothing else)."""
    recount = stock.recount_locations_from_items()
    assert stock.location_counters() == {k: v for k, v in recount.items() if v != (0, 0)}
    assert stock.stored_totals() == stock.recount_totals_from_items()
    last: dict[int, int | None] = {}
    for item_id, location_id in (
        LedgerEntry.select(LedgerEntry.item, LedgerEntry.location_id)
        .where(
            (LedgerEntry.status == "accepted")
            & ((LedgerEntry.origin == "scan") | (LedgerEntry.action == "adjust"))
            & LedgerEntry.item.is_null(False)
        )
        .order_by(LedgerEntry.id)
        .tuples()
    ):
        last[item_id] = location_id
    for item in Item.select().where(Item.id.in_(list(last) or [0])):
        if item.split_from_id is None:  # a part split off is placed by its split row
            assert item.location_id == last[item.id], item.code


def _count_step(plant, db, idx: int) -> None:
    """A cycle count of the line side LINE in steps: open it and put sc-line in count mode
    (its next item scans are sightings, some with a quantity, until a CMD-DONE), close the
    open one, approve the closed one (adjustments the counters must follow)."""
    from server.models import CycleCount

    api = plant.api
    step = idx % 3
    if step == 0:
        resp = api.call("POST", "/api/counts", {"locations": ["LINE"]}, as_="supervisor")
        assert resp.status_code == 201, resp.get_json()
        label = resp.get_json()["label"]
        apply_scan(db, ScanIn(scan_id=new_scan_id(), scanner_id="sc-line", code=label))
        return
    status = "open" if step == 1 else "closed"
    count = CycleCount.select().where(CycleCount.status == status).order_by(CycleCount.id).first()
    if count is None:
        return
    what = "close" if step == 1 else "approve"
    resp = api.call("POST", f"/api/counts/{count.id}/{what}", {}, as_="supervisor")
    assert resp.status_code == 200, resp.get_json()


def _fitting_reason(scanner_id: str, scrap_qty) -> str | None:
    """A reason that applies to what `scanner_id` does next (its action label, else its
    station's default action); None when that takes no reason."""
    scanner = Scanner.get_by_id(scanner_id)
    action = scanner.action or Station.get_by_id(scanner.station_id).default_action
    return FITTING["scrap" if scrap_qty else action] if scrap_qty or action in FITTING else None


def _receive_bolt_lots(db) -> None:
    """Bolt lots received by their GS1 labels, each with its expiry: one expired, two
    expiring at different dates (the later received first) and one without an expiry."""
    today = dt.date.today()
    for lot, days in (("B-LATE", 60), ("B-SOON", 5), ("B-OLD", -3), ("B-NONE", None)):
        exp = f"17{today + dt.timedelta(days=days):%y%m%d}" if days is not None else ""
        label = f"]C101{GTIN_BOLT}{exp}10{lot}\x1d3720"
        scan = ScanIn(scan_id=new_scan_id(), scanner_id="sc-recv", code=label)
        # received ten days ago, when the expired lot was still good
        assert apply_scan(db, scan, now=dt.datetime.utcnow() - dt.timedelta(days=10)).accepted


def _picked_first_to_expire(result) -> None:
    """A bare-GTIN issue or use took a lot none of the others it could have taken expires before:
    the same product and stage, not held, not expired."""
    row = LedgerEntry.get(LedgerEntry.scan_id == result.scan_id)
    if result.status != "accepted" or row.action not in ("issue", "use"):
        return  # a release picks among held lots, a scrap among all: not a pick from stock
    picked = Item.get(Item.code == result.item)
    others = Item.select().where(
        (Item.product == picked.product_id)
        & (Item.stage == row.from_stage)
        & (Item.held == False)  # noqa: E712
        & (Item.expiry.is_null(False))
        & (Item.expiry >= dt.date.today())
    )
    if picked.expiry is None:
        assert not others.exists(), "a lot without expiry picked before one with an expiry"
    else:
        assert not others.where(Item.expiry < picked.expiry).exists(), picked.lot


def _held_stock_is_what_the_ledger_held(plant) -> None:
    """Per stage, the held count and quantity of GET /api/stock are those of the items the
    accepted rows of the ledger left held: held by a hold, until a release or a scrap."""
    held: dict[int, bool] = {}
    rows = (
        LedgerEntry.select(LedgerEntry.item, LedgerEntry.action)
        .where(
            (LedgerEntry.status == "accepted")
            & LedgerEntry.item.is_null(False)
            & LedgerEntry.action.in_(["hold", "release", "scrap"])
        )
        .order_by(LedgerEntry.id)
        .tuples()
    )
    for item_id, action in rows:
        held[item_id] = action == "hold"
    expected: dict[str, list] = {}
    for item in Item.select().where(Item.id.in_([i for i, h in held.items() if h] or [0])):
        count, qty = expected.setdefault(item.stage, [0, Decimal(0)])
        expected[item.stage] = [count + 1, qty + Decimal(item.qty)]
    reported = plant.api.get("/api/stock", expected=200).get_json()["held"]
    assert {h["stage"]: [h["count"], Decimal(str(h["qty"]))] for h in reported} == expected


#: (scanner, product the scan takes, labels scanned before the part, payload) of the steps
#: of a line's day with its exceptions; the scanner is set back (CMD-DONE) after each
FLOOR = {
    "start": ("sc-a1", "WIDGET", [], {}),
    "move-a2": ("sc-a2", "WIDGET", [], {}),
    "move-qa": ("sc-qa", "WIDGET", [], {}),
    "complete": ("sc-end", "WIDGET", [], {}),
    "rework": ("sc-rw", "WIDGET", [], {"reason": "REPAIR"}),
    "rework-by-label": ("sc-rw", "WIDGET", ["CMD-WHY-DIMENSION"], {}),
    "rework-no-reason": ("sc-rw", "WIDGET", [], {}),
    "ship": ("sc-ship", "WIDGET", [], {}),
    "qc-fail": ("sc-qa", "WIDGET", ["CMD-QC-FAIL", "CMD-WHY-QC_CHECK"], {}),
    "release": ("sc-qa", "WIDGET", ["CMD-ACT-RELEASE"], {"reason": "QC_OK", "user": "supervisor"}),
    "hold-lot": ("sc-stores", "BOLT", ["CMD-ACT-HOLD"], {"reason": "DAMAGED"}),
    "release-lot": (
        "sc-stores",
        "BOLT",
        ["CMD-ACT-RELEASE", "CMD-WHY-QC_OK"],
        {"user": "supervisor"},
    ),
    "api-hold": ("api", "STEEL", [], {"reason": "MATERIAL"}),
    "api-release": ("api", "STEEL", [], {"reason": "QC_OK"}),
    "scrap": ("sc-a2", "WIDGET", ["CMD-ACT-SCRAP"], {"reason": "SURFACE", "user": "supervisor"}),
    "scrap-steel": (
        "sc-line",
        "STEEL",
        ["CMD-ACT-SCRAP", "CMD-WHY-DAMAGED"],
        {"user": "supervisor"},
    ),
    "start-paste": ("sc-a1", "PASTE", [], {}),
    "complete-paste": ("sc-end", "PASTE", [], {"scrap": True, "user": "operator"}),
    "issue-steel": ("sc-line", "STEEL", [], {}),
    "issue-bolt": ("sc-line", "BOLT", [], {}),
    "issue-bolt-gtin": ("sc-line", None, [], {}),  # bare GTIN: FEFO
    "unissue-steel": ("sc-ret", "STEEL", [], {}),
    "unissue-bolt": ("sc-ret", "BOLT", [], {}),
    "transfer-steel": ("sc-put", "STEEL", [], {}),
    "transfer-widget": ("sc-put", "WIDGET", [], {}),
}
#: stages nothing comes back from but a supervisor's return: the floor steps pick among the rest
GONE = ["shipped", "scrapped", "consumed"]
floor_step = st.tuples(
    st.sampled_from(sorted(FLOOR)),
    st.integers(min_value=0, max_value=30),  # which item of that product
    st.sampled_from([None, None, "1", "2.5", "8"]),
)


@pytest.mark.timeout(600)  # a few scans per step, slower on PostgreSQL
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(floor_step, min_size=20, max_size=80))
def test_floor_exceptions_keep_counters_and_order_figures(plant, db, users, steps):
    """Scans drawn from a line's own moves (not random labels at random scanners), so
    holds, scrap, good and scrap completing a lot, FEFO picks, rework and unissue meet units
    and lots in every state: counters, ledger, held stock and the orders' completed and
    issued figures stay in step."""
    if not Item.select().exists():
        _rework_stations(plant)
        Station.update(policy={"scrap_by": "operator"}).where(Station.code == "END").execute()
        plant.api.post(
            "/api/products",
            {"sku": "PASTE", "name": "Paste", "kind": "finished", "tracking": "lot"},
            expected=201,
        )
        plant.order("WO-F1", "WIDGET", 1000)
        plant.order("WO-PASTE", "PASTE", 5000)
        plant.api.post(
            "/api/stations", {"code": "PUT", "name": "Put", "default_action": "transfer"},
            expected=201,
        )  # fmt: skip
        plant.api.post("/api/scanners", {"id": "sc-put", "station": "PUT"}, expected=201)
        plant.scan("sc-put", "LOC-A2", expected=201)
    # each example gets fresh units, lots and material beside what earlier ones left
    plant.items("WIDGET", count=4)
    plant.items("PASTE", count=2, qty=10, lot="P")
    for sku, qty in (("STEEL", 40), ("BOLT", 100)):
        for code in plant.items(sku, count=2, qty=qty):
            plant.scan("sc-recv", code, expected=201)
    _receive_bolt_lots(db)
    who = {role: users[role][0].id for role in ("operator", "supervisor")}
    for name, idx, qty in steps:
        scanner, sku, labels, extra = FLOOR[name]
        if sku is None:
            code = BARE_GTIN
        else:
            codes = [
                c
                for (c,) in Item.select(Item.code)
                .join(Product)
                .where((Product.sku == sku) & Item.stage.not_in(GONE))
                .order_by(Item.id)
                .tuples()
            ]
            if not codes:  # all of it shipped, scrapped or consumed in this example
                continue
            code = codes[idx % len(codes)]
        if scanner == "api":
            resp = plant.api.call(
                "POST", f"/api/items/{code}/{name[4:]}", {"reason": extra["reason"]}
            )
            assert resp.status_code < 500, resp.get_json()
            continue
        scrap_qty = None
        if extra.get("scrap"):
            lot = Item.get(Item.code == code)
            scrap_qty = min(Decimal(qty or 1), Decimal(lot.qty))
            qty = str(Decimal(lot.qty) - scrap_qty) if scrap_qty < Decimal(lot.qty) else None
        user = who.get(extra.get("user"))
        for label in labels:
            apply_scan(db, ScanIn(scan_id=new_scan_id(), scanner_id=scanner, code=label))
        result = apply_scan(
            db,
            ScanIn(
                scan_id=new_scan_id(),
                scanner_id=scanner,
                code=code,
                qty=Decimal(qty) if qty and sku != "WIDGET" else None,
                reason=extra.get("reason") or ("SURFACE" if scrap_qty else None),
                scrap_qty=scrap_qty,
                user_id=user,
            ),
        )
        if sku is None:
            _picked_first_to_expire(result)
        if name == "rework-no-reason":
            assert result.reason in ("reason_required", "on_hold"), result
        apply_scan(db, ScanIn(scan_id=new_scan_id(), scanner_id=scanner, code="CMD-DONE"))
    assert stock.counters() == stock.recount_from_items()
    _locations_follow_the_items()
    _orders_figures_follow_the_ledger()
    ledger = _ledger_state()
    for item in Item.select():
        assert ledger[item.id] == (item.stage, Decimal(item.qty)), item.code
    _held_stock_is_what_the_ledger_held(plant)


def _rework_stations(plant) -> None:
    for code, action, extra in [("RW", "rework", {"rework_to": "QA"}), ("RET", "unissue", {})]:
        body = {"code": code, "name": code, "default_action": action, **extra}
        plant.api.post("/api/stations", body, expected=201)
        plant.api.post("/api/scanners", {"id": f"sc-{code.lower()}", "station": code}, expected=201)


def _ledger_sum(action: str, order_id: int, product_id: int, **where) -> Decimal:
    """The quantity the accepted `action` rows of the order moved of the product."""
    query = (
        LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.qty), 0))
        .join(Item)
        .where(
            (LedgerEntry.status == "accepted")
            & (LedgerEntry.action == action)
            & (LedgerEntry.order == order_id)
            & (Item.product == product_id)
        )
    )
    for name, value in where.items():
        query = query.where(getattr(LedgerEntry, name) == value)
    return Decimal(query.scalar())


def _orders_figures_follow_the_ledger() -> None:
    """An order's completed count is its completes less the reworks of its finished units;
    its issued figure is its issues less its unissues, and what is issued and not consumed
    is still in work (or was scrapped there)."""
    for order in ProductionOrder.select():
        completed = _ledger_sum("complete", order.id, order.product_id) - _ledger_sum(
            "rework", order.id, order.product_id, from_stage="finished"
        )
        assert Decimal(order.completed) == completed, order.number
        for mat in OrderMaterial.select().where(OrderMaterial.order == order.id):
            issued = _ledger_sum("issue", order.id, mat.product_id) - _ledger_sum(
                "unissue", order.id, mat.product_id
            )
            assert Decimal(mat.issued) == issued, (order.number, mat.product_id)
            out = Item.select(pw.fn.COALESCE(pw.fn.SUM(Item.qty), 0)).where(
                (Item.order == order.id)
                & (Item.product == mat.product_id)
                & (Item.stage.in_(["wip", "scrapped"]))
            )
            assert issued - Decimal(mat.consumed) == Decimal(out.scalar()), (
                order.number,
                mat.product_id,
            )
