"""Property: after any sequence of scans, the stock counters equal a recount, and every
item's stage and quantity equal what its last ledger entry says."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core import stock
from server.core.scans import ScanIn, apply_scan
from server.models import Item, LedgerEntry
from tests.conftest import new_scan_id

SCANNERS = ["sc-recv", "sc-line", "sc-a1", "sc-a2", "sc-qa", "sc-end", "sc-ship", "sc-stores"]
COMMANDS = ["CMD-ACT-SCRAP", "CMD-DONE", "CMD-OP-B-SUPERVISOR", "CMD-OUT", "CMD-ORD-WO-P1"]

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
    ledger = _ledger_state()
    for item in Item.select():
        assert ledger[item.id] == (item.stage, Decimal(item.qty)), item.code
