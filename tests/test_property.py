"""Property: after any sequence of scans, the stock counters (by station and by location)
equal a recount, and every item's stage and quantity equal what its last ledger entry
says; transfers (location labels, CMD-ACT-TRANSFER) are among the scans."""

from __future__ import annotations

from decimal import Decimal

import peewee as pw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core import stock
from server.core.scans import ScanIn, apply_scan
from server.models import Item, LedgerEntry, OrderMaterial, Product, ProductionOrder
from tests.conftest import new_scan_id

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
]
COMMANDS = [
    "CMD-ACT-SCRAP",
    "CMD-DONE",
    "CMD-OP-B-SUPERVISOR",
    "CMD-OUT",
    "CMD-ORD-WO-P1",
    "CMD-ACT-REWORK",
    "CMD-ACT-UNISSUE",
    "CMD-ACT-TRANSFER",
    "LOC-LINE",
    "LOC-A1",
]

step = st.tuples(
    st.sampled_from(SCANNERS),
    st.integers(min_value=0, max_value=40),  # index into the known codes (or a command)
    st.sampled_from([None, None, None, "0.5", "1", "3", "50"]),
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
def test_counters_equal_recount_after_random_scans(plant, db, steps):
    if not Item.select().exists():
        _rework_stations(plant)
        plant.order("WO-P1", "WIDGET", 30)
        plant.order("WO-P2", "BRACKET", 30)
        for sku, kw in [
            ("STEEL", {"qty": 40, "lot": "S"}),
            ("BOLT", {"qty": 100}),
            ("GLOVES", {"qty": 10}),
            ("NUT", {}),
            ("WIDGET", {}),
            ("BRACKET", {}),
        ]:
            plant.items(sku, count=4, **kw)
    codes = [c for (c,) in Item.select(Item.code).order_by(Item.id).tuples()]
    for scanner, idx, qty in steps:
        code = codes[idx] if idx < len(codes) else COMMANDS[idx % len(COMMANDS)]
        note = "property test" if idx % 3 == 0 else None
        apply_scan(
            db,
            ScanIn(
                scan_id=new_scan_id(),
                scanner_id=scanner,
                code=code,
                qty=Decimal(qty) if qty else None,
                note=note,
                user_id=None,
            ),
        )
    # the sequence must move things, or the property says little
    assert LedgerEntry.select().where(LedgerEntry.status == "accepted").count() > len(steps) // 4
    assert stock.counters() == stock.recount_from_items()
    _locations_follow_the_items()
    _orders_figures_follow_the_ledger()
    ledger = _ledger_state()
    for item in Item.select():
        assert ledger[item.id] == (item.stage, Decimal(item.qty)), item.code


def _locations_follow_the_items() -> None:
    """The location counters equal a recount; an item's last accepted scan row says where
    it went (a transfer changes nothing else)."""
    recount = stock.recount_locations_from_items()
    assert stock.location_counters() == {k: v for k, v in recount.items() if v != (0, 0)}
    last: dict[int, int | None] = {}
    for item_id, location_id in (
        LedgerEntry.select(LedgerEntry.item, LedgerEntry.location_id)
        .where(
            (LedgerEntry.status == "accepted")
            & (LedgerEntry.origin == "scan")
            & LedgerEntry.item.is_null(False)
        )
        .order_by(LedgerEntry.id)
        .tuples()
    ):
        last[item_id] = location_id
    for item in Item.select().where(Item.id.in_(list(last) or [0])):
        if item.split_from_id is None:  # a part split off is placed by its split row
            assert item.location_id == last[item.id], item.code


#: (scanner, product the scan takes) of the steps of a line's day with its exceptions
FLOOR = {
    "start": ("sc-a1", "WIDGET"),
    "move-a2": ("sc-a2", "WIDGET"),
    "move-qa": ("sc-qa", "WIDGET"),
    "complete": ("sc-end", "WIDGET"),
    "rework": ("sc-rw", "WIDGET"),
    "ship": ("sc-ship", "WIDGET"),
    "issue-steel": ("sc-line", "STEEL"),
    "issue-bolt": ("sc-line", "BOLT"),
    "unissue-steel": ("sc-ret", "STEEL"),
    "unissue-bolt": ("sc-ret", "BOLT"),
    "transfer-steel": ("sc-put", "STEEL"),
    "transfer-widget": ("sc-put", "WIDGET"),
}
floor_step = st.tuples(
    st.sampled_from(sorted(FLOOR)),
    st.integers(min_value=0, max_value=30),  # which item of that product
    st.sampled_from([None, None, "1", "2.5", "8"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(floor_step, min_size=20, max_size=80))
def test_rework_and_unissue_keep_counters_and_order_figures(plant, db, steps):
    """Scans drawn from a line's own moves (not random labels at random scanners), so
    rework and unissue meet units and lots in every state: counters, ledger and the
    orders' completed and issued figures stay in step."""
    if not Item.select().exists():
        _rework_stations(plant)
        plant.order("WO-F1", "WIDGET", 40)
        plant.items("WIDGET", count=8)
        plant.api.post(
            "/api/stations", {"code": "PUT", "name": "Put", "default_action": "transfer"},
            expected=201,
        )  # fmt: skip
        plant.api.post("/api/scanners", {"id": "sc-put", "station": "PUT"}, expected=201)
        plant.scan("sc-put", "LOC-A2", expected=201)
        for sku, qty in (("STEEL", 40), ("BOLT", 100)):
            for code in plant.items(sku, count=3, qty=qty):
                plant.scan("sc-recv", code, expected=201)
    for name, idx, qty in steps:
        scanner, sku = FLOOR[name]
        codes = [
            c
            for (c,) in Item.select(Item.code)
            .join(Product)
            .where(Product.sku == sku)
            .order_by(Item.id)
            .tuples()
        ]
        apply_scan(
            db,
            ScanIn(
                scan_id=new_scan_id(),
                scanner_id=scanner,
                code=codes[idx % len(codes)],
                qty=Decimal(qty) if qty and sku != "WIDGET" else None,
            ),
        )
    assert stock.counters() == stock.recount_from_items()
    _locations_follow_the_items()
    _orders_figures_follow_the_ledger()
    ledger = _ledger_state()
    for item in Item.select():
        assert ledger[item.id] == (item.stage, Decimal(item.qty)), item.code


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
