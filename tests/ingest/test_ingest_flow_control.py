"""How the ingest keeps its broker connection: it keeps to the broker's Receive Maximum
(MQTT 5) when it publishes results, none lost on the way; a hanging commit does not cost
it the connection; an unexpected error in its loop does not end it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.ingest import IngestSettings, IngestWorker
from tests.ingest.conftest import HAVE_MOSQUITTO, Peer, assert_each_applied_once, wait_for
from tests.support.broker import start_mosquitto

OK_TIME = "2026-11-26T08:00:00Z"


def test_results_held_beyond_the_receive_maximum_all_arrive(plant, tmp_path, make_ingest):
    """Mosquitto with max_inflight_messages 2 tells MQTT 5 clients Receive Maximum 2; a
    burst of 60 scans is committed in few batches, so most results wait for PUBACKs."""
    if not HAVE_MOSQUITTO:
        pytest.skip("the embedded broker speaks MQTT 3.1.1 only; CI runs this on Mosquitto")
    broker = start_mosquitto(tmp_path / "mq", conf_extra="max_inflight_messages 2")
    peer = Peer(broker)
    try:
        codes = plant.items("STEEL", count=60, qty=5)
        # subscribe once, then stop: the broker keeps the scans for the worker's session
        # and hands it all 60 at once when it comes back, so they share one batch
        ingest = make_ingest(broker, "--mqtt5", "--batch", "500").start()
        ingest.stop()
        for n, code in enumerate(codes):
            body = {"scan_id": f"rm-{n}", "code": code, "scanned_at": OK_TIME}
            peer.publish("sc-recv", body)
        ingest.start()
        for n in range(len(codes)):
            assert peer.wait_result(f"rm-{n}", 30), ingest.log()[-3000:]
        assert all(len(peer.results[f"rm-{n}"]) == 1 for n in range(len(codes)))
        assert_each_applied_once(codes, "raw")
    finally:
        peer.stop()
        broker.kill()


def test_results_in_flight_never_exceed_the_brokers_receive_maximum(plant, db, tmp_path):
    """The same burst through a worker in this process: the Receive Maximum it keeps is the
    one Mosquitto announced, and no result is sent while that many are unacknowledged."""
    if not HAVE_MOSQUITTO:
        pytest.skip("the embedded broker speaks MQTT 3.1.1 only; CI runs this on Mosquitto")
    broker = start_mosquitto(tmp_path / "mq", conf_extra="max_inflight_messages 2")
    settings = IngestSettings(
        host=broker.host, port=broker.port, mqtt5=True, batch_size=500, client_id="quota"
    )
    peer = Peer(broker)
    first = IngestWorker(db, settings).start()  # subscribes the session, then goes
    assert first.wait_connected(10)
    first.stop()
    codes = plant.items("STEEL", count=60, qty=5)
    for n, code in enumerate(codes):
        peer.publish("sc-recv", {"scan_id": f"q-{n}", "code": code, "scanned_at": OK_TIME})
    worker = IngestWorker(db, settings)
    in_flight_at_send: list[int] = []
    real_send = worker._send_result

    def counted_send(topic: str, payload: str) -> None:
        in_flight_at_send.append(len(worker._results_in_flight))
        real_send(topic, payload)

    worker._send_result = counted_send
    try:
        worker.start()
        for n in range(len(codes)):
            assert peer.wait_result(f"q-{n}", 30)
        assert worker._quota == 2
        assert len(in_flight_at_send) == len(codes)
        assert max(in_flight_at_send) < 2, in_flight_at_send
    finally:
        worker.stop()
        peer.stop()
        broker.kill()
    assert_each_applied_once(codes, "raw")


@pytest.fixture
def worker(db, broker) -> Iterator[IngestWorker]:
    """An ingest worker in this process (built, not started), so a test can replace a
    step of it; stopped at the end."""
    w = IngestWorker(db, IngestSettings(host=broker.host, port=broker.port, keepalive=2))
    yield w
    w.stop()


def test_a_hanging_commit_does_not_lose_the_broker(plant, broker, peer, worker):
    """A database that neither answers nor fails for three keepalive periods (2 s): the
    guard thread keeps the connection, so the broker never publishes the worker's will."""
    if not HAVE_MOSQUITTO:
        pytest.skip("the embedded broker does not enforce keepalive; CI runs this on Mosquitto")
    statuses: list[str] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda c, u, m: statuses.append(json.loads(m.payload)["state"])
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("koordinator/server/#", 1)
    watcher.loop_start()
    real_commit = worker._commit

    def hanging_commit(batch):
        time.sleep(6)  # > 1.5 x keepalive: without pings the broker drops the worker
        real_commit(batch)

    worker._commit = hanging_commit
    try:
        (lot,) = plant.items("STEEL", qty=5)
        worker.start()
        assert worker.wait_connected(10)
        assert wait_for(lambda: statuses == ["online"], 10)
        peer.publish("sc-recv", {"scan_id": "slow-1", "code": lot, "scanned_at": OK_TIME})
        assert peer.wait_result("slow-1", 20)
        assert statuses == ["online"], statuses  # no "offline" will in between
        assert worker.connected
    finally:
        watcher.loop_stop()
    assert_each_applied_once([lot], "raw")


def test_an_unexpected_error_in_the_loop_is_survived(plant, peer, worker):
    """A bug that raises inside the loop (here: answering the first batch) is logged, the
    worker reconnects, the unacked scan comes again and is answered (as a duplicate)."""
    real_answer = worker._answer
    calls = []

    def answer_once_broken(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("a bug in answering")
        real_answer(batch)

    worker._answer = answer_once_broken
    (lot,) = plant.items("STEEL", qty=5)
    worker.start()
    # subscribed, not only connected: a scan published before the broker has the new
    # session's subscription is dropped (it failed ~1 run in 6 on waiting for the CONNACK)
    assert worker.wait_subscribed(10)
    peer.publish("sc-recv", {"scan_id": "bug-1", "code": lot, "scanned_at": OK_TIME})
    result = peer.wait_result("bug-1", 20)
    assert result is not None and result["status"] == "accepted"
    assert result["duplicate"] is True  # committed before the error, answered on redelivery
    assert len(calls) >= 2 and worker._thread.is_alive()
    assert_each_applied_once([lot], "raw")
