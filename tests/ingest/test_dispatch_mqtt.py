"""The dispatcher's MQTT sink against a real Mosquitto: events on
`koordinator/events/<type>` QoS 1 in order, flags kept as retained state, a broker outage
retried without losing or reordering an event."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.core import events
from server.core.scans import writing
from server.dispatch import Dispatcher, DispatchSettings, MqttSink, add_sink
from server.models import DeliveryAttempt, Event, Sink, utcnow
from server.mqtt_session import MqttSession
from tests.ingest.conftest import HAVE_MOSQUITTO
from tests.support.broker import start_mosquitto

FAST = DispatchSettings(
    poll_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=2, flags=False
)
FLAG_TOPIC = "koordinator/events/flags/late/order/WO-LATE"


class Subscriber:
    def __init__(self, url_host: str, port: int, topic: str = "koordinator/events/#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect(url_host, port)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def got(self) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _drain(dispatcher, check, timeout=20.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, [(a.event_id, a.ok, a.detail) for a in DeliveryAttempt]
        if not dispatcher.run_once():
            time.sleep(0.02)


def _ids(messages, topic_prefix="koordinator/events/scan.") -> list[int]:
    """Event ids in arrival order, each once (at-least-once: a re-sent one may repeat)."""
    out: list[int] = []
    for topic, payload, _retained in messages:
        eid = json.loads(payload)["id"]
        if topic.startswith(topic_prefix) and eid not in out:
            out.append(eid)
    return out


def test_events_on_mqtt_in_order_through_a_broker_outage(broker, db, plant):
    add_sink("bus", "mqtt", {"url": broker.url})
    sub = Subscriber(broker.host, broker.port)
    dispatcher = Dispatcher(db, FAST)
    try:
        with writing(db):
            events.write([("scan.accepted", f"IT-{i}", {"n": i}) for i in range(20)], utcnow())
        _drain(dispatcher, lambda: len(_ids(sub.got())) == 20)
        first = [e.id for e in Event.select().order_by(Event.id)]
        assert _ids(sub.got()) == first
        topic, payload, retained = sub.got()[0]
        assert topic == "koordinator/events/scan.accepted" and not retained
        assert json.loads(payload)["payload"] == {"n": 0}
        sub.close()

        broker.stop()
        with writing(db):
            events.write([("scan.rejected", f"IT-{i}", {"n": i}) for i in range(5)], utcnow())
        dispatcher.run_once()
        failed = DeliveryAttempt.select().where(~DeliveryAttempt.ok).count()
        assert failed >= 1
        assert Sink.get(Sink.name == "bus").failures >= 1
        broker.start()
        sub = Subscriber(broker.host, broker.port)
        _drain(dispatcher, lambda: len(_ids(sub.got())) >= 5)
        later = [e.id for e in Event.select().where(Event.type == "scan.rejected")]
        assert _ids(sub.got()) == later
    finally:
        sub.close()
        dispatcher.close()


def test_a_flag_is_a_retained_state_until_it_clears(broker, db, plant):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    plant.order("WO-LATE", "WIDGET", 1, release=False, due=yesterday)  # late: due yesterday
    add_sink("bus", "mqtt", {"url": broker.url}, ["flag.raised", "flag.cleared"])
    dispatcher = Dispatcher(db, FAST)
    try:
        events.evaluate_flags(db, utcnow())
        _drain(dispatcher, lambda: Sink.get(Sink.name == "bus").cursor == events.last_id())
        # a stack light or dashboard connecting now still learns the order is late
        late = Subscriber(broker.host, broker.port, FLAG_TOPIC)
        assert _until(lambda: late.got())
        topic, payload, retained = late.got()[0]
        assert retained and json.loads(payload)["payload"]["flag"] == "late"
        late.close()

        plant.api.post("/api/orders/WO-LATE/close", {"reason": "x"}, as_="supervisor")
        events.evaluate_flags(db, utcnow())
        _drain(dispatcher, lambda: Sink.get(Sink.name == "bus").cursor == events.last_id())
        cleared = Subscriber(broker.host, broker.port, "koordinator/events/flags/#")
        time.sleep(0.5)
        assert FLAG_TOPIC not in [t for t, _p, _r in cleared.got()]
        cleared.close()
    finally:
        dispatcher.close()


def _until(check, timeout=5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def test_a_batch_in_flight_stops_at_an_event_it_cannot_publish(broker, db, plant):
    """The MQTT sink publishes its batch at once: an event in it that cannot be made into
    a message (a flag event without its key) ends the batch there. The events before it
    are delivered and logged, it is the failed attempt, the cursor stops before it, and
    nothing after it is published."""
    add_sink("bus", "mqtt", {"url": broker.url})
    sub = Subscriber(broker.host, broker.port)
    dispatcher = Dispatcher(db, FAST)
    try:
        with writing(db):
            rows = [("scan.accepted", f"IT-{i}", {"n": i}) for i in range(2)]
            rows.append(("flag.raised", "flag:x", {"no": "key"}))
            rows += [("scan.accepted", f"IT-{i}", {"n": i}) for i in range(2, 4)]
            events.write(rows, utcnow())
        ids = [e.id for e in Event.select().order_by(Event.id)]
        assert dispatcher.run_once() == 2
        assert _until(lambda: len(_ids(sub.got())) == 2)
        time.sleep(0.3)
        assert _ids(sub.got(), "koordinator/events/") == ids[:2]
        attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
        assert [(a.event_id, a.ok) for a in attempts] == [(ids[0], True), (ids[1], True)] + [
            (ids[2], False)
        ]
        assert "key" in attempts[-1].detail
        sink = Sink.get(Sink.name == "bus")
        assert (sink.cursor, sink.failures) == (ids[1], 1)
    finally:
        sub.close()
        dispatcher.close()


class RefusingSession(MqttSession):
    """A real session to the broker that leaves the messages on the topics in `refuse`
    unsent and reports them unacknowledged, as a broker that lost them would."""

    refuse: set[str] = set()

    def publish_many(self, messages, timeout, max_in_flight=None):
        sent = [m for m in messages if m[0] not in self.refuse]
        acked, error = super().publish_many(sent, timeout, max_in_flight)
        got = iter(acked)
        out = [None if m[0] in self.refuse else next(got) for m in messages]
        if error is None and None in out:
            error = f"no PUBACK from the broker for {messages[out.index(None)][0]}"
        return out, error


class RefusingSink(MqttSink):
    def __init__(self, config, settings) -> None:
        super().__init__(config, settings)
        self._sessions.release(self.session)  # the dispatcher's: closed, its only user
        self.session = RefusingSession.from_url(config["url"], name="sink").start()


def test_attempts_after_a_failure_in_a_batch_are_not_paired_with_the_wrong_event(broker, db, plant):
    """[A ok, B fails, C fails, D ok] in one window: the attempt rows are A delivered and B
    failed, each for its own event; C and D (D acknowledged, but after a failure) go again
    with the next batch, not C logged as delivered with D's topic."""
    RefusingSession.refuse = {"koordinator/events/item.held", "koordinator/events/item.released"}
    add_sink("bus", "mqtt", {"url": broker.url})
    dispatcher = Dispatcher(db, FAST, kinds={"mqtt": RefusingSink})
    try:
        with writing(db):
            types = ["scan.accepted", "item.held", "item.released", "scan.rejected"]
            events.write([(t, f"IT-{i}", {"n": i}) for i, t in enumerate(types)], utcnow())
        ids = [e.id for e in Event.select().order_by(Event.id)]
        dispatcher.run_once()
        attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
        assert [(a.event_id, a.ok) for a in attempts] == [(ids[0], True), (ids[1], False)]
        assert attempts[0].detail == "published koordinator/events/scan.accepted"
        assert "item.held" in attempts[1].detail
        assert Sink.get(Sink.name == "bus").cursor == ids[0]

        RefusingSession.refuse = set()  # the broker takes them now: each logged as itself
        sink = Sink.get(Sink.name == "bus")
        Sink.update(retry_at=None).where(Sink.id == sink.id).execute()
        _drain(dispatcher, lambda: Sink.get(Sink.name == "bus").cursor == ids[-1])
        by_id = {e.id: e.type for e in Event.select()}
        for a in DeliveryAttempt.select().where(DeliveryAttempt.ok):
            assert a.detail == f"published koordinator/events/{by_id[a.event_id]}", a.detail
    finally:
        RefusingSession.refuse = set()
        dispatcher.close()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs mosquitto's ACL")
def test_an_event_the_brokers_acl_refuses_is_a_failed_attempt_retried(db, plant, tmp_path):
    """The broker's ACL lets the sink publish scan events but not item.held: its PUBACK
    for item.held carries 0x87 (MQTT 5). That event is a failed attempt with the reason,
    the cursor stops before it and the sink backs off; once the ACL allows it (reloaded
    with SIGHUP) it and the event after it are delivered again, in order."""
    acl = tmp_path / "acl"
    allowed = "".join(
        f"topic write koordinator/events/{t}\n" for t in ("scan.accepted", "scan.rejected")
    )
    acl.write_text(allowed + "topic read koordinator/events/#\n")
    broker = start_mosquitto(tmp_path / "mq", conf_extra=f"acl_file {acl}")
    add_sink("bus", "mqtt", {"url": broker.url})
    sub = Subscriber(broker.host, broker.port)
    dispatcher = Dispatcher(db, FAST)
    try:
        with writing(db):
            types = ["scan.accepted", "item.held", "scan.rejected"]
            events.write([(t, f"IT-{i}", {"n": i}) for i, t in enumerate(types)], utcnow())
        ids = [e.id for e in Event.select().order_by(Event.id)]
        assert dispatcher.run_once() == 1
        attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
        assert [(a.event_id, a.ok) for a in attempts] == [(ids[0], True), (ids[1], False)]
        assert attempts[1].detail == (
            "the broker refused koordinator/events/item.held: Not authorized (0x87)"
        )
        sink = Sink.get(Sink.name == "bus")
        assert (sink.cursor, sink.failures) == (ids[0], 1) and sink.retry_at is not None

        acl.write_text(allowed + "topic readwrite koordinator/events/#\n")
        broker.proc.send_signal(signal.SIGHUP)  # mosquitto reloads its ACL
        time.sleep(0.5)
        _drain(dispatcher, lambda: Sink.get(Sink.name == "bus").cursor == ids[-1])

        # every id in arrival order, repeats kept: scan.rejected, in flight behind the
        # refused item.held, reached the subscriber then, and again after it at the retry
        def arrived() -> list[int]:
            return [json.loads(p)["id"] for _t, p, _r in sub.got()]

        assert _until(lambda: arrived()[-2:] == ids[1:])
        assert arrived() == [ids[0], ids[2], ids[1], ids[2]]
        assert Sink.get(Sink.name == "bus").failures == 0
    finally:
        sub.close()
        dispatcher.close()
        broker.kill()


def test_the_sinks_of_a_dispatcher_share_one_session_per_broker_user(broker, db, plant):
    """An `mqtt` and an `andon` sink of one dispatcher on the same broker user publish on
    one connection (a second one of that user would throw the first off on a broker that
    pins client ids to user names), each within its own max_in_flight; it closes with the
    last of them. Another user has a session of its own; another dispatcher on the same
    users leaves their sinks to the first (server/dispatch_locks.py)."""
    from server.core import andon

    add_sink("bus", "mqtt", {"url": broker.url, "max_in_flight": 3})
    add_sink("light", "andon", {"url": broker.url}, andon.TYPES)
    add_sink("other", "mqtt", {"url": f"mqtt://someone@{broker.host}:{broker.port}"})
    sub = Subscriber(broker.host, broker.port)
    lights = Subscriber(broker.host, broker.port, "koordinator/stations/#")
    dispatcher = Dispatcher(db, FAST)
    other = Dispatcher(db, FAST)
    try:
        with writing(db):
            events.write([("scan.accepted", f"IT-{i}", {"n": i}) for i in range(10)], utcnow())
        _drain(dispatcher, lambda: len(_ids(sub.got())) >= 10)
        sessions = dispatcher.sessions.sessions()
        assert len(sessions) == 2, sessions  # anonymous on the broker, and "someone"
        assert sorted(s.username or "" for s in sessions) == ["", "someone"]
        shared = next(s for s in sessions if s.username is None)
        opened = {sink.name: dispatcher._sink(sink) for sink in Sink.select()}
        assert opened["bus"].session is opened["light"].session is shared
        assert opened["other"].session is not shared
        assert shared.epoch == 1 and shared.max_in_flight == 100  # the largest asked
        assert opened["bus"].max_in_flight == 3
        assert _until(lambda: any(t.endswith("/andon") for t, _p, _r in lights.got()))
        # another dispatcher on the same database and users: it leaves their sinks to the
        # first (a second connection of a user would throw the first off), no attempt
        attempts = DeliveryAttempt.select().count()
        with writing(db):
            events.write([("scan.accepted", "IT-X", {"n": 99})], utcnow())
        assert other.run_once() == 0
        assert other.sessions.sessions() == [] and DeliveryAttempt.select().count() == attempts

        dispatcher._close_sink(Sink.get(Sink.name == "bus").id)
        assert shared.connected and shared in dispatcher.sessions.sessions()
        dispatcher._close_sink(Sink.get(Sink.name == "light").id)
        assert not shared.connected and shared not in dispatcher.sessions.sessions()
    finally:
        sub.close()
        lights.close()
        dispatcher.close()
        other.close()
    assert dispatcher.sessions.sessions() == [] and other.sessions.sessions() == []


def test_a_lost_broker_user_lets_each_sink_go_at_its_own_turn(broker, db, plant):
    """When a broker user's lock is lost (its database connection went away and another
    dispatcher took it), a sink's turn lets its own session go, not the others': another
    sink on the user may be in a delivery on its own thread, and closing its session under
    it would write a failed attempt and a retry to its row. Each lets go at its own turn
    (also within the retry's wait, when no lock is asked); the session closes with the
    last."""
    from server.core import andon

    add_sink("bus", "mqtt", {"url": broker.url})
    add_sink("light", "andon", {"url": broker.url}, andon.TYPES)
    dispatcher = Dispatcher(db, FAST)
    try:
        sinks = {s.name: s for s in Sink.select()}
        opened = {name: dispatcher._sink(s) for name, s in sinks.items()}
        session = opened["bus"].session
        assert opened["light"].session is session and session.wait_connected(5)
        dispatcher.sessions.locks.hold = lambda key: False  # lost: another's now
        assert not dispatcher._may_serve(sinks["bus"])
        assert sinks["bus"].id not in dispatcher._open
        assert dispatcher._open[sinks["light"].id][1] is opened["light"]
        assert session.connected  # the light's delivery under way goes on
        assert not dispatcher._may_serve(sinks["light"])
        assert sinks["light"].id not in dispatcher._open and not session.connected
        assert DeliveryAttempt.select().count() == 0
    finally:
        dispatcher.close()


def test_one_window_for_all_the_callers_of_a_session(broker):
    """Two threads publishing on one session at once never have more in flight together
    than its window (the broker's Receive Maximum is the connection's, not a caller's)."""
    session = MqttSession.from_url(
        broker.url, name="sink", mqtt5=True, fall_back_to_311=True, max_in_flight=4
    )
    session.start()
    peak = []
    original = session._take_room

    def counting(deadline):
        took = original(deadline)
        peak.append(session._in_flight)
        return took

    session._take_room = counting
    results = []
    try:
        assert session.wait_connected(5)

        def publish(name):
            msgs = [(f"koordinator/test/{name}", b"x" * 10, False)] * 200
            results.append(session.publish_many(msgs, 10, max_in_flight=4))

        threads = [threading.Thread(target=publish, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert [error for _acked, error in results] == [None, None]
        assert all(None not in acked for acked, _e in results)
        assert max(peak) <= 4 and max(peak) >= 2, max(peak)
        assert session._in_flight == 0
    finally:
        session.close()
