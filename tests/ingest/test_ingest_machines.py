"""A machine publishes its own state through a real broker to the ingest process: down
with a downtime reason opens the downtime log and the station's scans (a real scanner
peer over MQTT) warn or are refused; running again closes it. Bad messages are answered
on the machine's results topic and change nothing."""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.models import Downtime, Machine, Station
from tests.ingest.conftest import wait_for

OK_TIME = "2026-11-26T08:00:00Z"


class MachinePeer:
    """A machine's controller: publishes its state, collects its results."""

    def __init__(self, broker, code: str) -> None:
        self.code = code
        self.results: list[dict] = []
        ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"m-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"koordinator/machines/{code}/results", 1
        )
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = lambda c, u, m: self.results.append(json.loads(m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(10)

    def publish(self, payload, code: str | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        topic = f"koordinator/machines/{code or self.code}/state"
        self.client.publish(topic, body, qos=1).wait_for_publish(10)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_machine_state_over_mqtt_stops_its_station(plant, broker, make_ingest, peer):
    plant.api.post(
        "/api/machines", {"code": "PRESS1", "name": "Press", "station": "A2"}, expected=201
    )
    plant.order("WO-1", "WIDGET", 5)
    units = plant.items("WIDGET", count=3)
    for u in units:
        plant.scan("sc-a1", u, expected=201)
    ingest = make_ingest(broker).start()
    machine = MachinePeer(broker, "PRESS1")
    try:
        machine.publish({"state": "down", "reason": "breakdown"})
        assert wait_for(lambda: len(machine.results) == 1, 30), ingest.log()[-3000:]
        assert machine.results[0]["status"] == "accepted"
        assert (Machine.get().state, Machine.get().state_why) == ("down", "BREAKDOWN")
        (log,) = Downtime.select()
        assert (log.why, log.source, log.ended_at) == ("BREAKDOWN", "mqtt", None)

        peer.publish("sc-a2", {"scan_id": "m-1", "code": units[0], "scanned_at": OK_TIME})
        warned = peer.wait_result("m-1", 30)
        assert warned["status"] == "accepted"
        assert [w["code"] for w in warned["warnings"]] == ["machine_down"]
        Station.update(policy={"machine_down": "reject"}).where(Station.code == "A2").execute()
        peer.publish("sc-a2", {"scan_id": "m-2", "code": units[1], "scanned_at": OK_TIME})
        assert peer.wait_result("m-2", 30)["reason"] == "machine_down"

        # refused messages: a reason that is not a downtime reason, an unknown machine,
        # not JSON; none changes the state
        machine.publish({"state": "down", "reason": "DAMAGED"})
        machine.publish({"state": "down", "reason": "BREAKDOWN"}, code="NOPE")
        machine.publish(b"not json")
        assert wait_for(lambda: len(machine.results) == 3, 30)  # NOPE answers on its topic
        assert [r["reason"] for r in machine.results[1:]] == [
            "reason_not_applicable",
            "bad_payload",
        ]

        machine.publish({"state": "running"})
        assert wait_for(lambda: len(machine.results) == 4, 30)
        assert Machine.get().state == "running"
        assert Downtime.get_by_id(log.id).ended_source == "mqtt"
        peer.publish("sc-a2", {"scan_id": "m-3", "code": units[2], "scanned_at": OK_TIME})
        assert peer.wait_result("m-3", 30)["warnings"] == []
    finally:
        machine.stop()
