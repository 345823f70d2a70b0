"""The MQTT session class (server/mqtt_session.py) against a real Mosquitto, in both of its
modes: threaded (the dispatcher's sinks) and driven by its owner's loop (the ingest)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.mqtt_session import MqttConfigError, MqttSession, MqttSessionError, parse_mqtt_url
from tests.ingest.conftest import HAVE_MOSQUITTO, wait_for


class Watcher:
    """A plain paho client that collects what arrives on `topic` (retained included)."""

    def __init__(self, broker, topic: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_once(broker, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def threaded(broker) -> Iterator[MqttSession]:
    session = MqttSession.from_url(broker.url, client_id="t-session", name="test")
    received: list[bytes] = []
    session.on_message = lambda c, u, m: received.append(m.payload)
    session.received = received  # type: ignore[attr-defined]
    session.subscribe([("t/in", 1)])
    session.start()
    yield session
    session.close()


class Driven:
    """A driven session with the smallest owner loop: `step()` until stopped, acking
    what arrives (manual_ack), as the ingest does."""

    def __init__(self, broker, status_topic: str | None = None) -> None:
        self.stop_event = threading.Event()
        self.session = MqttSession(
            host=broker.host,
            port=broker.port,
            client_id="d-session",
            persistent=True,
            status_topic=status_topic,
            driven=True,
            manual_ack=True,
            name="driven",
            stopping=self.stop_event,
        )
        self.received: list[bytes] = []
        self.session.on_message = self._on_message
        self.session.subscribe([("d/in", 1)])
        self.session.connect_async()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _on_message(self, client, userdata, message) -> None:
        self.received.append(message.payload)
        self.session.ack(message.mid, message.qos, self.session.epoch)

    def _loop(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.session.step(0.05)
        finally:
            self.session.goodbye()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)


def test_url_with_credentials_and_tls():
    parts = parse_mqtt_url("mqtts://ana%40plant:s%3Acret@broker.example")
    assert parts == {
        "host": "broker.example",
        "port": 8883,
        "tls": True,
        "username": "ana@plant",
        "password": "s:cret",
    }
    session = MqttSession.from_url("mqtts://ana%40plant:s%3Acret@broker.example")
    assert session.url == "mqtts://ana@plant:***@broker.example:8883"  # no password in logs
    assert session.client._ssl_context is not None  # TLS set up
    assert session.client._password == b"s:cret"
    with pytest.raises(MqttConfigError, match="mqtt://host:1883"):
        parse_mqtt_url("http://broker:1883")
    from server.ingest import parse_mqtt_url as from_ingest  # still importable there

    assert from_ingest is parse_mqtt_url


def test_threaded_publish_returns_after_the_puback(broker, threaded):
    """publish_wait returns once the broker has the message: a subscriber that comes
    afterwards gets it retained."""
    assert threaded.wait_connected(10)
    threaded.publish_wait("t/state", b"green", timeout=5, retain=True)
    watcher = Watcher(broker, "t/state")
    try:
        assert wait_for(lambda: watcher.got == [("t/state", b"green")], 5), watcher.got
    finally:
        watcher.stop()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a broker process to pause")
def test_threaded_publish_without_puback_raises_after_the_timeout(broker, threaded):
    """A broker that takes the PUBLISH but never answers (paused): publish_wait waits the
    whole timeout, then raises; it does not return as if delivered."""
    assert threaded.wait_connected(10)
    os.kill(broker.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(MqttSessionError, match="no PUBACK from the broker for t/out"):
            threaded.publish_wait("t/out", b"x", timeout=1.0)
        assert time.monotonic() - started >= 1.0
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)


def test_threaded_not_connected_raises_and_nothing_is_queued(broker, threaded):
    assert threaded.wait_connected(10)
    broker.kill()
    assert wait_for(lambda: not threaded.connected, 10)
    started = time.monotonic()
    with pytest.raises(MqttSessionError, match="not connected to the broker"):
        threaded.publish_wait("t/out", b"lost", timeout=0.5)
    assert time.monotonic() - started >= 0.5
    assert threaded.client._out_messages == {}  # not sent later on reconnection either


def test_threaded_publish_many_puts_a_window_in_flight_in_order(broker, threaded):
    """publish_many: 300 messages published at once (above paho's default in-flight limit
    of 20), each acknowledged, and they reach a subscriber in the order given."""
    assert threaded.wait_connected(10)
    watcher = Watcher(broker, "t/many/#")
    try:
        messages = [(f"t/many/{i % 3}", b"%d" % i, False) for i in range(300)]
        acked, error = threaded.publish_many(messages, timeout=10)
        assert error is None and None not in acked and len(acked) == 300
        assert acked == sorted(acked)  # waited for in order
        assert wait_for(lambda: len(watcher.got) == 300, 10), len(watcher.got)
        assert [int(p) for _t, p in watcher.got] == list(range(300))
    finally:
        watcher.stop()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a broker process to pause")
def test_threaded_publish_many_without_pubacks_reports_none_after_the_timeout(broker, threaded):
    """A broker that takes the window but never answers (paused): publish_many waits the
    whole timeout once (not once a message), then reports every message unacknowledged."""
    assert threaded.wait_connected(10)
    os.kill(broker.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        acked, error = threaded.publish_many([("t/out", b"x", False)] * 5, timeout=1.0)
        took = time.monotonic() - started
        assert acked == [None] * 5 and error == "no PUBACK from the broker for t/out"
        assert 1.0 <= took < 2.5, took
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)


def test_threaded_publish_many_not_connected_sends_nothing(broker, threaded):
    assert threaded.wait_connected(10)
    broker.kill()
    assert wait_for(lambda: not threaded.connected, 10)
    acked, error = threaded.publish_many([("t/out", b"lost", False)] * 3, timeout=0.5)
    assert acked == [None] * 3 and error == "not connected to the broker"
    assert threaded.client._out_messages == {}  # not sent later on reconnection either


def test_threaded_reconnects_after_a_restart_with_its_subscriptions(broker, threaded):
    """Mosquitto here keeps nothing over a restart: the message below reaches the session
    only because it subscribed again on the new connection. Down for 5 s, it is back
    within the 2 s back-off ceiling after the broker returns."""
    assert threaded.wait_subscribed(10)
    first = threaded.epoch
    broker.kill()
    assert wait_for(lambda: not threaded.connected, 10)
    time.sleep(5)
    broker.start()
    started = time.monotonic()
    assert threaded.wait_subscribed(10)
    assert time.monotonic() - started < 3.5  # back-off at most 2 s (paho's default: 120 s)
    assert threaded.epoch == first + 1
    publish_once(broker, "t/in", b"after restart")
    assert wait_for(lambda: threaded.received == [b"after restart"], 5), threaded.received
    threaded.publish_wait("t/out", b"again", timeout=5)


def test_driven_reconnects_after_a_restart_with_its_subscriptions_and_status(broker):
    """The ingest's mode: the owner's loop calls step(). After a broker restart it
    connects again, subscribes again (a message reaches it), says online again, and its
    goodbye leaves offline retained."""
    watcher = Watcher(broker, "d/status")
    driven = Driven(broker, status_topic="d/status")
    try:
        assert driven.session.wait_subscribed(10)
        assert wait_for(lambda: [p for _t, p in watcher.got][-1:] != [], 5)
        assert json.loads(watcher.got[-1][1])["state"] == "online"
        publish_once(broker, "d/in", b"one")
        assert wait_for(lambda: driven.received == [b"one"], 5)

        watcher.stop()
        broker.kill()
        assert wait_for(lambda: not driven.session.connected, 10)
        broker.start()
        watcher = Watcher(broker, "d/status")
        assert driven.session.wait_subscribed(10)
        assert driven.session.epoch == 2
        assert wait_for(lambda: any(b"online" in p for _t, p in watcher.got), 5), watcher.got
        publish_once(broker, "d/in", b"two")
        assert wait_for(lambda: driven.received == [b"one", b"two"], 5), driven.received
    finally:
        driven.stop()
    assert not driven.session.connected
    assert wait_for(lambda: b"offline" in watcher.got[-1][1], 5), watcher.got
    watcher.stop()
