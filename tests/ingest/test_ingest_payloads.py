"""What the ingest answers to payloads it cannot apply, and that it survives them."""

from __future__ import annotations

import json

import pytest

from server.models import LedgerEntry
from tests.ingest.conftest import assert_each_applied_once, wait_for

OK_TIME = "2026-11-26T08:00:00Z"

# (name, payload, scan_id the worker can read or None)
GARBAGE = [
    ("truncated json", b'{"scan_id": "g-trunc", "code": "IT-', "g-trunc"),
    ("not json", b"hello scanner", None),
    ("empty", b"", None),
    ("binary", bytes(range(256)) * 4, None),
    ("not utf-8 with id", b'{"scan_id":"g-latin","code":"\xff\xfe"}', "g-latin"),
    ("array", b'[{"scan_id": "g-array", "code": "X"}]', None),
    ("string", b'"g-string"', None),
    ("number", b"42", None),
    ("null", b"null", None),
    ("code wrong type", {"scan_id": "g-type", "code": 12345}, "g-type"),
    ("code missing", {"scan_id": "g-nocode"}, "g-nocode"),
    ("code empty", {"scan_id": "g-empty", "code": ""}, "g-empty"),
    ("scan_id too long", {"scan_id": "x" * 65, "code": "A"}, None),
    ("scan_id a number", {"scan_id": 7, "code": "A"}, None),
    ("qty negative", {"scan_id": "g-qty", "code": "A", "qty": -3}, "g-qty"),
    ("qty nan", b'{"scan_id": "g-nan", "code": "A", "qty": NaN}', "g-nan"),
    ("source unknown", {"scan_id": "g-src", "code": "A", "source": "laser"}, "g-src"),
    ("bad time", {"scan_id": "g-time", "code": "A", "scanned_at": "yesterday"}, "g-time"),
    ("NUL escaped in code", {"scan_id": "g-nul", "code": "A\u0000B"}, "g-nul"),
    ("raw NUL", b'{"scan_id": "g-nul2", "code": "A\x00B"}', "g-nul2"),
    ("huge", b'{"scan_id": "g-huge", "code": "' + b"A" * 200_000 + b'"}', "g-huge"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, None),
    ("deep object with id", b'{"scan_id": "g-deep", "x": ' + b"[" * 50_000, "g-deep"),
]


def _bytes(payload) -> bytes:
    return json.dumps(payload).encode() if isinstance(payload, dict) else payload


@pytest.fixture
def ingest(broker, make_ingest, plant):
    return make_ingest(broker).start()


def test_garbage_is_answered_when_a_scan_id_is_readable_and_the_worker_survives(
    plant, broker, ingest, peer
):
    for _name, payload, _sid in GARBAGE:
        peer.publish("sc-recv", _bytes(payload))
    (lot,) = plant.items("STEEL", qty=5)
    peer.publish("sc-recv", {"scan_id": "after-garbage", "code": lot, "scanned_at": OK_TIME})
    assert peer.wait_result("after-garbage", 20), ingest.log()[-3000:]
    assert peer.results["after-garbage"][0]["status"] == "accepted"
    for name, _payload, sid in GARBAGE:
        if sid is None:
            continue
        result = peer.wait_result(sid, 5)
        assert result is not None, name
        assert (result["status"], result["reason"], result["duplicate"]) == (
            "rejected",
            "bad_payload",
            False,
        ), name
        assert result["message"], name
    # nothing answered with an id the payload did not carry, nothing unreadable sent
    expected = {sid for _n, _p, sid in GARBAGE if sid} | {"after-garbage"}
    assert set(peer.results) == expected
    assert peer.unreadable == []
    assert ingest.alive()
    # every payload left a rejected ledger row that does not claim the scan_id
    rows = list(LedgerEntry.select().where(LedgerEntry.reason == "bad_payload"))
    assert len(rows) == len(GARBAGE)
    assert all(r.scan_id is None and r.status == "rejected" for r in rows)
    assert {r.note for r in rows if r.note} == {sid for _n, _p, sid in GARBAGE if sid}


def test_a_rejected_payload_does_not_block_a_correct_resend(plant, broker, ingest, peer):
    (lot,) = plant.items("STEEL", qty=5)
    peer.publish("sc-recv", {"scan_id": "fix-me", "code": lot, "qty": "lots"})
    assert peer.wait_result("fix-me")["reason"] == "bad_payload"
    peer.publish("sc-recv", {"scan_id": "fix-me", "code": lot, "scanned_at": OK_TIME})
    assert wait_for(lambda: len(peer.results.get("fix-me", [])) == 2)
    second = peer.results["fix-me"][1]
    assert (second["status"], second["duplicate"], second["stage"]) == ("accepted", False, "raw")


def test_payload_for_another_scanners_topic_is_rejected(plant, broker, ingest, peer):
    (lot,) = plant.items("STEEL", qty=5)
    # sc-line's agent (or someone) publishes on sc-recv's topic, naming sc-line
    body = {"scan_id": "spoof-1", "scanner_id": "sc-line", "code": lot, "scanned_at": OK_TIME}
    peer.publish("sc-recv", body)
    result = peer.wait_result("spoof-1")
    assert (result["status"], result["reason"], result["_scanner"]) == (
        "rejected",
        "unknown_scanner",
        "sc-recv",
    )
    row = LedgerEntry.get(LedgerEntry.note == "spoof-1")
    assert (row.scan_id, row.reason, row.scanner_id) == (None, "unknown_scanner", "sc-recv")
    # the item did not move, and the right scanner can still send that scan_id
    body.pop("scanner_id")
    peer.publish("sc-recv", body)
    assert wait_for(lambda: len(peer.results.get("spoof-1", [])) == 2)
    assert peer.results["spoof-1"][1]["status"] == "accepted"
    assert_each_applied_once([lot])


def test_unknown_scanner_topic_is_answered_on_its_results_topic(plant, broker, ingest, peer):
    peer.publish("sc-nobody", {"scan_id": "ghost-1", "code": "X", "scanned_at": OK_TIME})
    result = peer.wait_result("ghost-1")
    assert (result["reason"], result["_scanner"]) == ("unknown_scanner", "sc-nobody")


def test_payload_naming_its_own_scanner_is_fine(plant, broker, ingest, peer):
    (lot,) = plant.items("STEEL", qty=5)
    body = {"scan_id": "own-1", "scanner_id": "sc-recv", "code": lot, "scanned_at": OK_TIME}
    peer.publish("sc-recv", body)
    assert peer.wait_result("own-1")["status"] == "accepted"
