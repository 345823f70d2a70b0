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
from tests.support.broker import start_mosquitto


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


@pytest.fixture
def small_window_broker(tmp_path):
    """A Mosquitto that tells MQTT 5 clients a Receive Maximum of 10 (its
    max_inflight_messages); Mosquitto 2.0 does not enforce it, so only the client keeps it."""
    if not HAVE_MOSQUITTO:
        pytest.skip("needs a broker process to pause")
    proc = start_mosquitto(tmp_path / "mq", conf_extra="max_inflight_messages 10")
    yield proc
    proc.kill()


def test_threaded_publish_many_keeps_the_brokers_receive_maximum(small_window_broker):
    """A paused broker (it reads nothing, answers nothing) and 50 messages: no more than
    the broker's Receive Maximum (10) leave the session before a PUBACK, so once the
    broker runs again it has 10 of them, not 50. The 50 are reported unacknowledged and
    none is left in paho's store to be sent again on the next connection."""
    broker = small_window_broker
    session = MqttSession.from_url(broker.url, client_id="rm", name="test", mqtt5=True).start()
    watcher = Watcher(broker, "t/rm/#")
    try:
        assert session.wait_connected(10)
        assert session.broker_receive_maximum == 10 and session.window == 10
        os.kill(broker.proc.pid, signal.SIGSTOP)
        try:
            messages = [(f"t/rm/{i}", b"%d" % i, False) for i in range(50)]
            acked, error = session.publish_many(messages, timeout=1.0)
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        assert acked == [None] * 50 and error == "no PUBACK from the broker for t/rm/0"
        assert session.client._out_messages == {}  # neither kept nor sent again
        time.sleep(1.0)
        assert [int(p) for _t, p in watcher.got] == list(range(10))
        # the session goes on: the next window is acknowledged
        acked, error = session.publish_many([("t/rm/x", b"x", False)] * 25, timeout=5)
        assert error is None and None not in acked
    finally:
        watcher.stop()
        session.close()


def test_threaded_publish_many_keeps_its_own_limit_below_the_brokers(broker):
    """max_in_flight 7 against a broker that allows more: 7 leave before a PUBACK."""
    if not HAVE_MOSQUITTO:
        pytest.skip("needs a broker process to pause")
    session = MqttSession.from_url(broker.url, name="test", max_in_flight=7).start()
    watcher = Watcher(broker, "t/own/#")
    try:
        assert session.wait_connected(10) and session.window == 7
        os.kill(broker.proc.pid, signal.SIGSTOP)
        try:
            acked, _error = session.publish_many([("t/own/a", b"a", False)] * 30, timeout=0.5)
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        assert acked == [None] * 30
        time.sleep(1.0)
        assert len(watcher.got) == 7
    finally:
        watcher.stop()
        session.close()


def test_threaded_publish_many_gives_up_at_once_when_the_connection_goes(broker):
    """The broker dies with a window in flight: publish_many returns as soon as the
    session notices (not after its whole timeout), every message unacknowledged, and
    nothing is left in paho to go out again, a second time, on the next connection."""
    if not HAVE_MOSQUITTO:
        pytest.skip("needs a broker process to pause")
    session = MqttSession.from_url(broker.url, name="test").start()
    try:
        assert session.wait_connected(10)
        os.kill(broker.proc.pid, signal.SIGSTOP)
        threading.Timer(0.3, broker.kill).start()
        started = time.monotonic()
        acked, error = session.publish_many([("t/gone", b"x", False)] * 20, timeout=10)
        assert time.monotonic() - started < 5
        assert acked == [None] * 20 and error == "lost the connection to the broker"
        assert session.client._out_messages == {}
        watcher_broker = broker
        watcher_broker.start()
        assert session.wait_connected(10)
        watcher = Watcher(broker, "t/gone")
        time.sleep(0.5)
        assert watcher.got == []  # paho sent nothing again on the new connection
        watcher.stop()
    finally:
        session.close()


def test_threaded_a_puback_refusing_a_message_is_not_a_delivery(tmp_path):
    """MQTT 5: a broker whose ACL forbids a topic answers its PUBLISH with a PUBACK
    carrying 0x87 (not authorized). publish_many stops there and reports it as not
    delivered, with the reason; publish_wait raises."""
    if not HAVE_MOSQUITTO:
        pytest.skip("needs mosquitto's ACL")
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite t/ok/#\ntopic read t/no/#\n")
    broker = start_mosquitto(tmp_path / "mq", conf_extra=f"acl_file {acl}")
    session = MqttSession.from_url(broker.url, name="test", mqtt5=True).start()
    try:
        assert session.wait_connected(10)
        messages = [("t/ok/1", b"1", False), ("t/no/2", b"2", False), ("t/ok/3", b"3", False)]
        acked, error = session.publish_many(messages, timeout=5)
        assert acked[0] is not None and acked[1:] == [None, None]
        assert error == "the broker refused t/no/2: Not authorized (0x87)"
        assert session.client._out_messages == {}
        with pytest.raises(MqttSessionError, match="Not authorized"):
            session.publish_wait("t/no/x", b"x", timeout=5)
        session.publish_wait("t/ok/x", b"x", timeout=5)
    finally:
        session.close()
        broker.kill()


def test_threaded_falls_back_to_mqtt_311_for_a_broker_without_mqtt5(tmp_path):
    """The embedded broker (amqtt) answers an MQTT 5 CONNECT "unsupported protocol
    version": a session allowed to fall back connects again with MQTT 3.1.1 and
    publishes; one that is not keeps being refused."""
    from server.broker import EmbeddedBroker
    from tests.support.broker import free_port

    port = free_port()
    embedded = EmbeddedBroker("127.0.0.1", port).start(5)
    url = f"mqtt://127.0.0.1:{port}"
    strict = MqttSession.from_url(url, name="strict", mqtt5=True).start()
    session = MqttSession.from_url(url, name="t", mqtt5=True, fall_back_to_311=True).start()
    try:
        assert session.wait_connected(10)
        assert session.protocol == mqtt.MQTTv311
        session.publish_wait("t/fallback", b"x", timeout=5)
        assert not strict.wait_connected(1)
    finally:
        session.close()
        strict.close()
        embedded.stop()


def test_threaded_publish_many_gives_back_the_place_of_a_topic_paho_refuses(broker):
    """A topic paho refuses to publish (a wildcard in it: a sink's bad prefix) is an error
    of that call, and its place in the window is given back: the sinks sharing the
    session's window go on publishing (it once leaked a place a call, until none was left)."""
    session = MqttSession.from_url(broker.url, name="test", max_in_flight=3).start()
    try:
        assert session.wait_connected(10)
        for _ in range(5):
            acked, error = session.publish_many(
                [("t/ok/a", b"a", False), ("t/#/x", b"x", False)], timeout=5
            )
            assert acked[0] is not None and acked[1] is None
            assert error and "cannot publish t/#/x" in error
        assert session._in_flight == 0
        acked, error = session.publish_many([("t/ok/b", b"b", False)] * 5, timeout=5)
        assert error is None and None not in acked
    finally:
        session.close()
