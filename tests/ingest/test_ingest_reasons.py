"""Reasons over MQTT, through a real broker and the ingest process: a supervisor's badge,
the scrap action, a reason label and a part scrap it, the reason recorded and used up; a
scan's own `"reason"` does the same; an unknown reason is answered `unknown_reason`."""

from __future__ import annotations

from server.models import Item, LedgerEntry, Scanner
from tests.ingest.conftest import wait_for

OK_TIME = "2026-11-26T08:00:00Z"


def test_reason_label_then_part_over_mqtt_scraps_it(plant, broker, make_ingest, peer):
    (steel,) = plant.items("STEEL", qty=3, lot="L-M")
    (other,) = plant.items("STEEL", qty=1, lot="L-N")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", other, expected=201)
    ingest = make_ingest(broker).start()
    scans = [
        ("badge", {"code": "CMD-OP-B-SUPERVISOR"}),
        ("act", {"code": "CMD-ACT-SCRAP"}),
        ("why", {"code": "CMD-WHY-DAMAGED"}),
        ("part", {"code": steel}),
        ("again", {"code": other}),  # the label was one shot: no reason now
        ("payload", {"code": other, "reason": "surface"}),
        ("unknown", {"code": "CMD-WHY-NOPE"}),
    ]
    for n, (scan_id, body) in enumerate(scans, 1):
        peer.publish("sc-line", {"scan_id": scan_id, "scanned_at": OK_TIME, **body}, False)
        assert wait_for(lambda n=n: len(peer.results) == n, 30), ingest.log()[-3000:]
    answers = {sid: peer.results[sid][0] for sid, _b in scans}
    assert {sid: a["reason"] for sid, a in answers.items()} == {
        "badge": None,
        "act": None,
        "why": None,
        "part": None,
        "again": "reason_required",
        "payload": None,
        "unknown": "unknown_reason",
    }
    assert answers["part"]["stage"] == "scrapped" and answers["payload"]["stage"] == "scrapped"
    assert Item.get(Item.code == steel).stage == "scrapped"
    whys = {sid: LedgerEntry.get(LedgerEntry.scan_id == sid).why for sid in ("part", "payload")}
    assert whys == {"part": "DAMAGED", "payload": "SURFACE"}
    assert Scanner.get_by_id("sc-line").why is None
