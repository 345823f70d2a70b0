"""Badge guessing over MQTT: the ingest's batches count unknown badges per scanner and
lock that scanner's badge labels (`badge_locked`), known badges too; other scanners go on."""

from __future__ import annotations

from server.models import LoginThrottle
from tests.ingest.conftest import wait_for

OK_TIME = "2026-11-26T08:00:00Z"


def test_guessed_badges_over_mqtt_lock_the_scanner(plant, broker, make_ingest, peer):
    ingest = make_ingest(broker).start()
    guesses = [f"CMD-OP-B-{n:04d}" for n in range(1, 11)]
    scans = [("sc-recv", f"guess-{n}", code) for n, code in enumerate(guesses)]
    scans += [("sc-recv", "boss-recv", "CMD-OP-B-SUPERVISOR")]
    scans += [("sc-line", "boss-line", "CMD-OP-B-SUPERVISOR")]
    for scanner, scan_id, code in scans:  # without waiting: they arrive as batches
        peer.publish(scanner, {"scan_id": scan_id, "code": code, "scanned_at": OK_TIME}, False)
    assert wait_for(lambda: len(peer.results) == len(scans), 30), ingest.log()[-3000:]
    reasons = {sid: peer.results[sid][0]["reason"] for _sc, sid, _c in scans}
    assert reasons == {
        **{f"guess-{n}": "unknown_operator" for n in range(10)},
        "boss-recv": "badge_locked",
        "boss-line": None,
    }
    assert peer.results["boss-line"][0]["status"] == "accepted"
    row = LoginThrottle.get(LoginThrottle.key == "badge:sc-recv")
    assert (row.failures, row.locked_until is not None) == (10, True)
