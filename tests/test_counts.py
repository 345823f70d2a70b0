"""Cycle counts over HTTP on both backends: a supervisor opens a count of A-01, a scanner in
count mode (`CMD-COUNT-<id>`) records what it sees, the close lists found, missing,
elsewhere and quantity variances without touching stock, and the approval writes one
`adjust` ledger row per variance that both items' histories show; the stock counters
follow."""

from __future__ import annotations

from decimal import Decimal

from server.core import stock
from server.models import Event, Item, LedgerEntry, Location, Scanner
from tests.test_locations import _counters_agree, _stores


def _where(code: str) -> str | None:
    item = Item.get(Item.code == code)
    return Location.get_by_id(item.location_id).code if item.location_id else None


def _received_at(plant, location: str, *codes: str) -> None:
    plant.scan("sc-recv", f"LOC-{location}", expected=201)
    for code in codes:
        plant.scan("sc-recv", code, expected=201)


def _setup(plant):
    """Three lots received into bin A-01-03, one at the line side LINE."""
    _stores(plant)
    lots = plant.items("STEEL", count=4, qty=50, lot="H-7")
    _received_at(plant, "A-01-03", *lots[:3])
    plant.scan("sc-put", "LOC-LINE", expected=201)
    _received_at(plant, "LINE", lots[3])
    return lots


def test_count_finds_one_missing_and_one_extra_and_the_adjustment_is_in_both_histories(plant, api):
    here1, here2, gone, extra = _setup(plant)
    assert _where(extra) == "LINE" and _where(gone) == "A-01-03"
    # operators may not open a count
    api.post("/api/counts", {"locations": ["A-01"]}, as_="operator", expected=403)
    opened = api.post("/api/counts", {"locations": ["A-01"]}, as_="supervisor", expected=201)
    count = opened.get_json()
    assert (count["status"], count["locations"], count["label"]) == (
        "open",
        ["A-01"],
        f"CMD-COUNT-{count['id']}",
    )
    cid = count["id"]
    # a scanner goes into count mode, then scans the bin and what it sees there
    mode = plant.scan("sc-put", count["label"], expected=201)
    assert (mode["status"], mode["action"]) == ("accepted", "command:count")
    plant.scan("sc-put", "LOC-A-01-03", expected=201)
    seen = plant.scan("sc-put", here1, expected=201)
    assert (seen["action"], seen["stage"], seen["location"]) == ("count", "raw", "A-01-03")
    # a lot counted with less than its label says; scanned twice is fine (the last counts)
    plant.scan("sc-put", here2, qty=45, expected=201)
    again = plant.scan("sc-put", here2, qty=48, expected=201)
    assert again["status"] == "accepted" and "again" in again["message"]
    # the extra lot, recorded at LINE, lies here
    plant.scan("sc-put", extra, expected=201)
    # nothing has changed yet: the lots are where and what they were
    assert _where(extra) == "LINE"
    assert Item.get(Item.code == here2).qty == Decimal(50)
    progress = api.get(f"/api/counts/{cid}", as_="operator", expected=200).get_json()
    assert progress["progress"] == {"seen": 3, "expected": 3, "seen_expected": 2}
    counters_before = stock.location_counters()

    closed = api.post(f"/api/counts/{cid}/close", as_="supervisor", expected=200).get_json()
    assert closed["status"] == "closed"
    lines = {ln["item"]: ln for ln in closed["lines"]}
    assert lines[here1]["outcome"] == "found"
    assert (lines[here2]["outcome"], lines[here2]["counted"], lines[here2]["recorded_qty"]) == (
        "variance",
        "48",
        "50",
    )
    assert (lines[gone]["outcome"], lines[gone]["counted"]) == ("missing", None)
    assert (lines[extra]["outcome"], lines[extra]["recorded_at"], lines[extra]["seen_at"]) == (
        "elsewhere",
        "LINE",
        "A-01-03",
    )
    assert closed["summary"]["variances"] == 3
    assert stock.location_counters() == counters_before  # closing changes no stock
    assert Event.select().where(Event.type == "count.variance").count() == 1
    # a closed count takes no more sightings, and cannot be closed again
    refused = plant.scan("sc-put", here1, expected=422)
    assert (refused["status"], refused["reason"]) == ("rejected", "count_not_open")
    api.post(f"/api/counts/{cid}/close", as_="supervisor", expected=409)

    api.post(f"/api/counts/{cid}/approve", {}, as_="operator", expected=403)
    api.post(f"/api/counts/{cid}/approve", {"why": "DAMAGED"}, as_="supervisor", expected=422)
    done = api.post(f"/api/counts/{cid}/approve", {}, as_="supervisor", expected=200).get_json()
    assert (done["status"], done["adjusted"], done["skipped"], done["why"]) == (
        "approved",
        3,
        0,
        "COUNT",
    )
    assert _where(extra) == "A-01-03"
    assert Item.get(Item.code == here2).qty == Decimal(48)
    assert Item.get(Item.code == gone).stage == "scrapped"
    _counters_agree()
    for code in (gone, extra):
        history = api.get(f"/api/items/{code}", as_="operator", expected=200).get_json()
        rows = [
            r
            for r in LedgerEntry.select().where(LedgerEntry.item == Item.get(Item.code == code).id)
            if r.action == "adjust"
        ]
        assert len(rows) == 1 and rows[0].why == "COUNT"
        assert "adjust" in str(history)
    assert Event.select().where(Event.type == "count.approved").count() == 1
    api.post(f"/api/counts/{cid}/approve", {}, as_="supervisor", expected=409)
    # CMD-DONE leaves count mode
    plant.scan("sc-put", "CMD-DONE", expected=201)
    assert Scanner.get_by_id("sc-put").count_id is None


def test_scans_during_an_open_count_are_answered_normally_and_taken_into_account(plant, api):
    moved_out, not_seen, counted_then_moved, _line = _setup(plant)
    cid = api.post("/api/counts", {"locations": ["A-01-03"]}, as_="supervisor",
                   expected=201).get_json()["id"]  # fmt: skip
    plant.scan("sc-put", f"CMD-COUNT-{cid}", expected=201)
    plant.scan("sc-put", counted_then_moved, expected=201)
    # a worker moves two lots during the count: answered as always
    plant.scan("sc-recv", "CMD-DONE", expected=201)
    plant.scan("sc-put", "CMD-DONE", expected=201)
    plant.scan("sc-put", "LOC-LINE", expected=201)
    for code in (moved_out, counted_then_moved):
        moved = plant.scan("sc-put", code, expected=201)
        assert (moved["action"], moved["location"]) == ("transfer", "LINE")
    plant.scan("sc-put", "LOC-A-01-03", expected=201)
    assert plant.scan("sc-put", _line, expected=201)["location"] == "A-01-03"
    closed = api.post(f"/api/counts/{cid}/close", as_="supervisor", expected=200).get_json()
    lines = {ln["item"]: ln["outcome"] for ln in closed["lines"]}
    # moved out before being seen: not expected; moved in by a scan: confirmed, not missing;
    # not seen and not scanned: missing;
    # seen then moved: the later scan wins, no adjustment
    assert moved_out not in lines
    assert lines[_line] == "scanned"
    assert lines[counted_then_moved] == "moved"
    assert lines[not_seen] == "missing"
    assert closed["summary"]["variances"] == 1


def test_count_labels_and_requests_refused_with_reason_codes(plant, api):
    _setup(plant)
    unknown = plant.scan("sc-put", "CMD-COUNT-999", expected=422)
    assert (unknown["status"], unknown["reason"]) == ("rejected", "unknown_count")
    api.get("/api/counts/999", as_="operator", expected=404)
    api.get("/api/counts/x1", as_="operator", expected=404)
    api.get("/api/counts/\u00b2", as_="operator", expected=404)  # a digit to isdigit(), not int()
    sup = plant.scan("sc-put", "CMD-COUNT-\u00b2", expected=422)
    assert sup["reason"] == "unknown_count"
    api.post("/api/counts", {"locations": ["NOPE"]}, as_="supervisor", expected=404)
    cid = api.post("/api/counts", {"locations": ["A-01"]}, as_="supervisor",
                   expected=201).get_json()["id"]  # fmt: skip
    early = api.post(f"/api/counts/{cid}/approve", {}, as_="supervisor", expected=409)
    assert early.get_json()["error"] == "count_not_closed"
    assert LedgerEntry.select().where(LedgerEntry.reason == "unknown_count").count() == 2
