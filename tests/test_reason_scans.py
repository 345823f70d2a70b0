"""Reason labels and the scan's "reason": `CMD-WHY-<code>` sets the reason of the next scan
at that scanner (one shot), the payload may carry it, the accepted ledger row records it
(`why`, beside the rejection code `reason`), and a listed reason is the "why" scrap needs."""

from __future__ import annotations

import pytest

from server.models import Item, LedgerEntry, Reason, Scanner
from tests.test_scans import _in_stock


def _why(scanner_id: str):
    return Scanner.get_by_id(scanner_id).why


def test_reason_label_then_part_scraps_it(plant, db):
    steel = _in_stock(plant, "STEEL", qty=2, lot="L-9")
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    answer = plant.scan("sc-line", "cmd-why-damaged", expected=201)
    assert answer["action"] == "command:why" and "DAMAGED" in answer["message"]
    assert _why("sc-line") == "DAMAGED"
    done = plant.scan("sc-line", steel, as_="supervisor", expected=201)
    assert done["stage"] == "scrapped"
    row = LedgerEntry.get(LedgerEntry.scan_id == done["scan_id"])
    assert (row.why, row.reason, row.note) == ("DAMAGED", None, None)
    assert _why("sc-line") is None  # one shot
    other = _in_stock(plant, "STEEL", qty=1)
    again = plant.scan("sc-line", other, as_="supervisor", expected=422)
    assert again["reason"] == "reason_required"


def test_payload_reason_over_http(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    done = plant.scan("sc-line", steel, as_="supervisor", reason="Surface", expected=201)
    assert LedgerEntry.get(LedgerEntry.scan_id == done["scan_id"]).why == "SURFACE"


def test_a_rejected_scan_keeps_the_reason_for_the_next_one(plant, db):
    steel = _in_stock(plant, "STEEL", qty=1)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    plant.scan("sc-line", "CMD-WHY-DAMAGED", expected=201)
    refused = plant.scan("sc-line", steel, expected=422)  # an operator: supervisor_required
    assert refused["reason"] == "supervisor_required"
    assert _why("sc-line") == "DAMAGED"
    plant.scan("sc-line", steel, as_="supervisor", expected=201)
    assert _why("sc-line") is None


def test_done_clears_the_reason(plant, db):
    plant.scan("sc-line", "CMD-WHY-DAMAGED", expected=201)
    plant.scan("sc-line", "CMD-DONE", expected=201)
    assert _why("sc-line") is None


@pytest.mark.parametrize(
    "setup, reason, expected",
    [
        # a move takes no reason: the worker learns it rather than the reason vanishing
        (None, "DAMAGED", "reason_not_applicable"),
        (None, "NOPE", "unknown_reason"),
        ("deactivate", "DAMAGED", "unknown_reason"),
        (None, "x" * 33, None),  # too long for the payload: bad_payload, below the domain
    ],
)
def test_reason_refusals_change_nothing(plant, db, setup, reason, expected):
    (w,) = plant.items("WIDGET")
    if setup == "deactivate":
        Reason.update(active=False).where(Reason.code == reason).execute()
    before = Item.get(Item.code == w)
    if expected is None:
        plant.scan("sc-a2", w, reason=reason, expected=400)
        return
    answer = plant.scan("sc-a2", w, reason=reason, expected=422)
    assert answer["reason"] == expected
    after = Item.get(Item.code == w)
    assert (after.stage, after.station_id) == (before.stage, before.station_id)
    row = LedgerEntry.get(LedgerEntry.scan_id == answer["scan_id"])
    assert (row.status, row.reason) == ("rejected", expected)


def test_an_ordinary_scan_reads_no_reason(plant, db, monkeypatch):
    """The hot path: a scan that gives no reason never looks the reason list up."""
    from server.core import scans

    looked = []
    monkeypatch.setattr(scans._Batch, "reason", lambda self, code: looked.append(code))
    (steel,) = plant.items("STEEL", qty=1)
    plant.scan("sc-recv", steel, expected=201)
    assert looked == []


def test_the_openapi_document_declares_the_scan_reason(api):
    doc = api.get("/api/openapi.json", as_=None, expected=200).get_json()
    schemas = doc["components"]["schemas"]
    scan = next(s for name, s in schemas.items() if name.startswith("HttpScan"))
    assert "reason" in scan["properties"], scan["properties"].keys()
    assert "/api/reasons" in doc["paths"] and "/api/reasons/{code}" in doc["paths"]
