"""The dispatcher (server/dispatch.py) against a real HTTP receiver: order per sink,
retries with backoff through an outage, every attempt recorded, signatures, `kill -9` of a
`python -m server dispatch` process mid-stream, two dispatchers on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import peewee as pw
import pytest

from server.core import events
from server.core.scans import writing
from server.dispatch import (
    SIGNATURE_HEADER,
    Dispatcher,
    DispatchSettings,
    add_sink,
    dispatch_mqtt_url,
    sign,
    verify,
)
from server.models import DeliveryAttempt, Event, Sink, utcnow
from tests.support.dispatch_process import dispatch_process
from tests.support.receiver import Receiver
from tests.test_scans import _in_stock

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-for-tests"
FAST = DispatchSettings(
    poll_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=0.4, flags=False
)


def _write(db, n: int, type_: str = "scan.accepted", start: int = 0) -> None:
    with writing(db):
        events.write([(type_, f"IT-{start + i}", {"n": start + i}) for i in range(n)], utcnow())


def _until(check, timeout: float = 20.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return check()


def _drain(dispatcher: Dispatcher, check, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, (
            "not delivered in time",
            [(a.event_id, a.attempt, a.ok, a.detail) for a in DeliveryAttempt.select()],
            list(Sink.select().dicts()),
        )
        if not dispatcher.run_once():
            time.sleep(0.02)


def read_request(conn, data: bytes = b"") -> tuple[bytes, bytes] | None:
    """One HTTP request read off `conn` (`data`: what was read already) as its body and
    what came after it; None when the peer closed first."""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, data = data.partition(b"\r\n\r\n")
    length = int(next(
        line.split(b":")[1] for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    ))  # fmt: skip
    while len(data) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data[:length], data[length:]


def test_a_webhook_gets_every_event_in_order_through_an_outage(plant, db):
    """The receiver fails twice, times out once, then accepts: every event arrives, in
    order, signed; each attempt is recorded and the failed event is retried first."""
    with Receiver(["fail", "fail", "timeout"]) as rx:
        sink = add_sink("erp", "webhook", {"url": rx.url(), "secret": SECRET}, ["scan.accepted"])
        codes = [_in_stock(plant, "GLOVES") for _ in range(3)]
        expected = [e.id for e in Event.select().where(Event.type == "scan.accepted")]
        assert len(expected) == 3
        dispatcher = Dispatcher(db, FAST)
        started = time.monotonic()
        _drain(dispatcher, lambda: len(rx.ids()) == 3)
        # 3 failures then success: 0.05 + 0.1 + 0.2 s of backoff plus the 0.4 s timeout
        assert time.monotonic() - started >= 0.7

        assert rx.ids() == expected
        modes = [(mode, eid) for _p, mode, eid, _h, _b in rx.requests]
        assert modes[:4] == [("fail", expected[0]), ("fail", expected[0])] + [
            ("timeout", expected[0]),
            ("ok", expected[0]),
        ]
        attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
        assert [(a.event_id, a.attempt, a.ok) for a in attempts] == [
            (expected[0], 1, False),
            (expected[0], 2, False),
            (expected[0], 3, False),
            (expected[0], 4, True),
            (expected[1], 1, True),
            (expected[2], 1, True),
        ]
        assert attempts[0].detail == "HTTP 500"
        assert "timed out" in attempts[2].detail
        sink = Sink.get_by_id(sink.id)
        assert (sink.cursor, sink.failures, sink.retry_at) == (expected[-1], 0, None)

        _path, _mode, eid, headers, body = rx.requests[-1]
        assert verify(SECRET, headers[SIGNATURE_HEADER], body)
        sent = json.loads(body)
        assert sent["id"] == eid and sent["type"] == "scan.accepted"
        assert sent["subject"] == codes[-1] and sent["payload"]["action"] == "receive"
        assert headers["X-Koordinator-Event-Id"] == str(eid)


def test_a_webhook_keeps_its_connection_open(plant, db):
    """Forty events over one kept connection (a connection a delivery held a sink to about
    1,000 events/s, bench/bench_events.py). http.server, as werkzeug's server closes every
    connection."""
    import http.server
    import threading

    ports: list[int] = []
    ids: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ports.append(self.client_address[1])
            ids.append(json.loads(body)["id"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        add_sink("erp", "webhook", {"url": url, "secret": SECRET}, ["scan.accepted"])
        _write(db, 40)
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(ids) == 40)
        dispatcher.close()
    finally:
        server.shutdown()
        server.server_close()
    assert ids == sorted(ids) and len(set(ports)) == 1, ports


def test_a_connection_the_receiver_closed_is_opened_again(plant, db):
    """A receiver that drops a kept connection while it is idle (as servers do after their
    keep-alive timeout): the next event goes over a new one, and no attempt fails."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def serve():
        for _ in range(2):
            conn, _addr = listener.accept()
            with conn:
                body, _rest = read_request(conn)
                got.append(body)
                # answered as if the connection stays open, then dropped while idle
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    add_sink("erp", "webhook", {"url": url, "secret": SECRET}, ["scan.accepted"])
    dispatcher = Dispatcher(db, FAST)
    _write(db, 1)
    _drain(dispatcher, lambda: len(got) == 1)
    time.sleep(0.5)  # the receiver has closed the kept connection by now
    _write(db, 1, start=1)
    _drain(dispatcher, lambda: len(got) == 2)
    dispatcher.close()
    thread.join(5)
    listener.close()
    assert [json.loads(b)["subject"] for b in got] == ["IT-0", "IT-1"]
    assert [a.ok for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)] == [True, True]


def test_the_webhook_reads_every_shape_of_answer_and_keeps_the_connection_it_may(plant, db):
    """The sink's own HTTP/1.1 reader against a receiver answering in each shape the
    protocol allows: a 100 Continue before the answer, a chunked body with an extension
    and a trailer, 204 without a body, `Connection: close`, HTTP/1.0 with a body to the
    end of the connection, a refusal. Every event arrives once in order (the refused one
    again), each answer's body is read to its end (a byte left over would be taken for
    the next status line), and a connection is used again exactly when the answer allows
    it."""
    import socket
    import threading

    answers = [
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", False),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n",
            False,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", False),
        (b"HTTP/1.1 202 Accepted\r\nconnection: Close\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", True),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False),
    ]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    got: list[tuple[int, dict, bytes]] = []  # (connection, headers, body)
    done = threading.Event()

    def serve():
        n = 0
        while not done.is_set() and len(got) < len(answers):
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            n += 1
            with conn:
                conn.settimeout(5)
                data = b""
                while len(got) < len(answers):
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if b"\r\n\r\n" not in data:
                        break  # the sink closed this connection
                    head, _, data = data.partition(b"\r\n\r\n")
                    lines = head.decode().split("\r\n")
                    headers = dict(line.split(": ", 1) for line in lines[1:])
                    length = int(headers["Content-Length"])
                    while len(data) < length:
                        data += conn.recv(65536)
                    body, data = data[:length], data[length:]
                    answer, close = answers[len(got)]
                    got.append((n, {"request": lines[0], **headers}, body))
                    conn.sendall(answer)
                    if close:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    sink = add_sink("erp", "webhook", {"url": f"http://127.0.0.1:{port}/in?k=1", "secret": SECRET})
    _write(db, 7)
    expected = [e.id for e in Event.select().order_by(Event.id)]
    dispatcher = Dispatcher(db, FAST)
    try:
        _drain(dispatcher, lambda: Sink.get_by_id(sink.id).cursor == expected[-1])
    finally:
        dispatcher.close()
        done.set()
        thread.join(5)
        listener.close()
    # the refused one (the sixth request) went again; one connection per `close`
    assert [json.loads(b)["id"] for _n, _h, b in got] == expected[:6] + expected[5:]
    assert [n for n, _h, _b in got] == [1, 1, 1, 1, 2, 3, 3, 3]
    for _n, headers, body in got:
        event = json.loads(body)
        assert headers["request"] == "POST /in?k=1 HTTP/1.1"
        assert headers["Host"] == f"127.0.0.1:{port}"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Koordinator-Event"] == "scan.accepted"
        assert headers["X-Koordinator-Event-Id"] == str(event["id"])
        assert verify(SECRET, headers[SIGNATURE_HEADER], body)
    attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
    assert [(a.ok, a.detail) for a in attempts] == [(True, "HTTP 200"), (True, "HTTP 200")] + [
        (True, "HTTP 204"),
        (True, "HTTP 202"),
        (True, "HTTP 200"),
        (False, "HTTP 404"),
        (True, "HTTP 200"),
        (True, "HTTP 200"),
    ]


def test_the_body_built_from_the_stored_row_is_the_events_envelope(plant, db):
    """The dispatcher claims events as plain rows and puts the stored payload text into
    the body as it is: the body parses to exactly `event_body` of the model row (a whole
    second and a fraction, a subject and payload beyond ASCII, nesting, a quote), on both
    backends, and the payload a sink reads is the stored one."""
    from server.dispatch import event_body

    payloads = [{"n": 1, "why": 'a "quoted" word'}, {"nested": {"list": [1, 2.5, None, True]}}]
    with writing(db):
        events.write([("scan.accepted", "IT-1", payloads[0])], dt.datetime(2026, 11, 30, 9, 0, 0))
        events.write(
            [("item.held", "Ünit-ø/2", payloads[1])], dt.datetime(2026, 11, 30, 9, 0, 1, 500)
        )
    sink = add_sink("erp", "webhook", {"url": "http://127.0.0.1:9/x"})
    Sink.update(cursor=0).where(Sink.id == sink.id).execute()
    rows = Dispatcher(db, FAST)._claim(Sink.get_by_id(sink.id), 10)
    models = list(Event.select().order_by(Event.id))
    assert [json.loads(r.body) for r in rows] == [event_body(m) for m in models]
    assert [r.payload for r in rows] == payloads
    assert [r.created_at for r in rows] == [m.created_at for m in models]
    assert json.loads(rows[0].body)["created_at"] == "2026-11-30T09:00:00Z"
    assert json.loads(rows[1].body)["created_at"] == "2026-11-30T09:00:01.000500Z"


def test_stop_while_a_slow_receiver_takes_a_batch_waits_for_one_delivery_only(plant, db):
    """stop() while a sink's thread is half-way through a batch to a slow receiver (0.3 s
    an event, 100 queued): the thread stops after the delivery under way, records what
    was delivered and keeps its cursor there; nothing is sent after stop() returned."""
    import threading

    with Receiver(delay=0.3) as rx:
        sink = add_sink("erp", "webhook", {"url": rx.url(), "secret": SECRET}, ["scan.accepted"])
        _write(db, 100)
        dispatcher = Dispatcher(db, FAST).start()
        assert _until(lambda: len(rx.ids()) >= 2, 10)
        started = time.monotonic()
        dispatcher.stop()
        took = time.monotonic() - started
        workers = [t for t in threading.enumerate() if t.name == "dispatcher-erp"]
        sent = len(rx.ids())
        time.sleep(0.7)  # a thread still delivering would send two more by now
        assert len(rx.ids()) == sent and not [t for t in workers if t.is_alive()], (took, sent)
        assert took < 2, took
    delivered = rx.ids()
    attempts = DeliveryAttempt.select().where(DeliveryAttempt.sink == sink.id)
    assert sorted(a.event_id for a in attempts if a.ok) == delivered
    assert Sink.get_by_id(sink.id).cursor == delivered[-1]


def test_a_receiver_answering_garbage_with_a_nul_is_a_failed_attempt(plant, db):
    """A receiver whose status line carries a NUL byte: the attempt is recorded as failed
    and retried with backoff (PostgreSQL refuses a NUL in text: the sink's thread died on
    the attempt's INSERT, was started again every second and left its pooled connection
    checked out each time)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    answered: list[int] = []
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 2\x0000 OK\r\n\r\n")
                    answered.append(1)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = DispatchSettings(poll_s=0.02, backoff_base_s=1.0, timeout_s=0.4, flags=False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    sink = add_sink("erp", "webhook", {"url": url, "secret": SECRET}, ["scan.accepted"])
    _write(db, 1)
    in_use = len(getattr(db, "_in_use", ()))
    dispatcher = Dispatcher(db, settings).start()
    try:
        assert _until(lambda: DeliveryAttempt.select().count() >= 1, 10)
        time.sleep(2.5)  # backoff 1 s then 2 s: two or three attempts, not one a second
    finally:
        dispatcher.stop()
        done.set()
        thread.join(5)
        listener.close()
    attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
    assert 1 <= len(attempts) <= 3 and len(answered) == len(attempts), (attempts, answered)
    assert [a.ok for a in attempts] == [False] * len(attempts)
    assert "\x00" not in attempts[0].detail and "BadStatusLine" in attempts[0].detail
    assert Sink.get_by_id(sink.id).failures == len(attempts)
    # every connection the sink's threads took went back to the pool
    assert len(getattr(db, "_in_use", ())) <= in_use


def test_sink_threads_come_back_after_their_database_connections_are_killed(plant, db):
    """PostgreSQL ends every connection of the dispatcher (a restart, an admin's
    pg_terminate_backend): each sink's thread drops its connection, backs off and delivers
    the events written afterwards, in order, once each."""
    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("server-side connection kill: PostgreSQL")
    with Receiver() as rx:
        for path in ("/a", "/b"):
            add_sink(
                path[1:], "webhook", {"url": rx.url(path), "secret": SECRET}, ["scan.accepted"]
            )
        _write(db, 5)
        dispatcher = Dispatcher(db, FAST).start()
        try:
            assert _until(lambda: len(rx.ids("/a")) == 5 and len(rx.ids("/b")) == 5, 10)
            killed = db.execute_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            assert killed >= 2
            _write(db, 5, start=5)
            expected = [
                e.id for e in Event.select().where(Event.type == "scan.accepted").order_by(Event.id)
            ]
            assert _until(lambda: rx.ids("/a") == expected and rx.ids("/b") == expected, 15), (
                rx.ids("/a"),
                rx.ids("/b"),
                expected,
            )
        finally:
            dispatcher.stop()


def test_attempt_rows_read_back_through_the_model_as_written(plant, db):
    """The batch's hand-written INSERT (server/core/hot.py insert_attempts): read through
    the DeliveryAttempt model, `ok` is a bool and `at` the dispatcher's clock to the
    microsecond (and a whole second), on both backends."""
    times = iter([dt.datetime(2026, 11, 30, 9, 0, 0, 123456), dt.datetime(2026, 11, 30, 9, 0, 1)])
    now = {"t": next(times)}
    with Receiver(["ok", "fail"]) as rx:
        sink = add_sink("erp", "webhook", {"url": rx.url(), "secret": SECRET}, ["scan.accepted"])
        _write(db, 2)
        dispatcher = Dispatcher(db, FAST, clock=lambda: now["t"])
        assert dispatcher.run_once() == 1
        now["t"] = next(times)
        Sink.update(retry_at=None).where(Sink.id == sink.id).execute()
        dispatcher.run_once()
        dispatcher.close()
    rows = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
    got = [(type(a.ok), a.ok, a.at, a.attempt, a.detail) for a in rows]
    assert got[:2] == [
        (bool, True, dt.datetime(2026, 11, 30, 9, 0, 0, 123456), 1, "HTTP 200"),
        (bool, False, dt.datetime(2026, 11, 30, 9, 0, 0, 123456), 1, "HTTP 500"),
    ]
    assert got[2][:4] == (bool, True, dt.datetime(2026, 11, 30, 9, 0, 1), 2)


def test_more_sinks_than_the_connection_pool_all_deliver(plant, db):
    """70 sinks (a plant's printers are sinks) and a pool of 64 connections: every sink
    delivers, and an idle sink's thread holds no connection between its polls (each kept
    one for good: the sinks past the pool's size never got one, and a dispatcher in the
    web process (`serve --dispatch`) took the pool from the pages)."""
    import threading

    got: dict[str, list[int]] = {}
    lock = threading.Lock()

    class Note:
        def __init__(self, config, settings) -> None:
            self.name = config["name"]

        def deliver(self, event) -> str:
            with lock:
                got.setdefault(self.name, []).append(event.id)
            return "noted"

        def close(self) -> None:
            pass

    names = [f"n{i}" for i in range(70)]
    for name in names:
        add_sink(name, "note", {"name": name}, ["scan.accepted"])
    _write(db, 3)
    expected = [e.id for e in Event.select().where(Event.type == "scan.accepted")]
    before = len(getattr(db, "_in_use", ()))
    dispatcher = Dispatcher(db, FAST, kinds={"note": Note}).start()
    try:
        done = _until(lambda: all(got.get(n) == expected for n in names), 30)
        assert done, sorted(set(names) - {n for n, ids in got.items() if ids == expected})
    finally:
        dispatcher.stop()
    assert dispatcher._thread is not None and not dispatcher._thread.is_alive()
    assert len(getattr(db, "_in_use", ())) <= before  # every thread gave its connection back


def test_signature_refuses_a_changed_body_a_wrong_secret_and_an_old_timestamp():
    body = b'{"id":1}'
    now = int(time.time())
    header = sign(SECRET, now, body)
    assert verify(SECRET, header, body)
    assert not verify(SECRET, header, b'{"id":2}')
    assert not verify("other", header, body)
    old = sign(SECRET, now - 3600, body)
    assert not verify(SECRET, old, body)
    assert not verify(SECRET, "garbage", body)


def test_a_sink_takes_only_its_types_and_starts_after_the_history(db, plant):
    _write(db, 3, "scan.rejected")
    with Receiver() as rx:
        add_sink("holds", "webhook", {"url": rx.url("/holds"), "secret": SECRET}, ["item.held"])
        add_sink("all", "webhook", {"url": rx.url("/all"), "secret": SECRET})
        _write(db, 2, "scan.accepted")
        _write(db, 2, "item.held")
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(rx.ids("/all")) == 4 and len(rx.ids("/holds")) == 2)
        held = [e.id for e in Event.select().where(Event.type == "item.held").order_by(Event.id)]
        assert rx.ids("/holds") == held
        assert len(rx.ids("/all")) == 4  # not the 3 events from before it was added


def test_a_sink_failing_for_days_is_switched_off_with_an_event(db, plant):
    sink = add_sink("gone", "webhook", {"url": "http://127.0.0.1:9/nothing", "secret": SECRET})
    _write(db, 1)
    clock = [utcnow()]
    dispatcher = Dispatcher(
        db, DispatchSettings(disable_after_days=2, backoff_max_s=60), clock=lambda: clock[0]
    )
    dispatcher.run_once()
    sink = Sink.get_by_id(sink.id)
    assert sink.active and sink.failures == 1 and sink.failing_since == clock[0]
    dispatcher.run_once()  # not before its retry time
    assert DeliveryAttempt.select().count() == 1
    clock[0] += dt.timedelta(days=2, seconds=1)
    dispatcher.run_once()
    sink = Sink.get_by_id(sink.id)
    assert not sink.active
    (off,) = Event.select().where(Event.type == "sink.disabled")
    assert off.payload["sink"] == "gone" and off.subject == "gone"


def test_the_dispatcher_raises_and_clears_flags_once(db, plant, monkeypatch):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    plant.order("WO-LATE", "WIDGET", 1, release=False, due=yesterday)  # late: due yesterday
    settings = DispatchSettings(flag_interval_s=3600, flag_min_interval_s=0)
    dispatcher = Dispatcher(db, settings)
    assert "late:order:WO-LATE" in dispatcher.evaluate_flags_when_due()
    runs = []
    evaluate = events.evaluate_flags
    monkeypatch.setattr(events, "evaluate_flags", lambda *a: runs.append(1) or evaluate(*a))
    assert dispatcher.evaluate_flags_when_due() == [] and runs == []  # no event: not run
    _in_stock(plant, "GLOVES")  # an event that may change a flag: evaluated, none changed
    assert dispatcher.evaluate_flags_when_due() == [] and runs == [1]
    plant.api.post("/api/orders/WO-LATE/close", {"reason": "x"}, as_="supervisor", expected=200)
    assert "late:order:WO-LATE" in dispatcher.evaluate_flags_when_due()
    kinds = [
        (e.type, e.payload["key"])
        for e in Event.select().where(Event.type.startswith("flag.")).order_by(Event.id)
    ]
    assert kinds.count(("flag.raised", "late:order:WO-LATE")) == 1
    assert kinds.count(("flag.cleared", "late:order:WO-LATE")) == 1


# --- real processes ----------------------------------------------------------------------


def _dispatch_process(db_url: str, log: Path, **env) -> subprocess.Popen:
    """A real `python -m server dispatch` on `db_url` (tests/support/dispatch_process.py)."""
    return dispatch_process(db_url, log, **env)


def _in_order_once_each(received: list[int], expected: list[int]) -> None:
    """At-least-once, in order: the first arrival of each event is in id order, and every
    event arrived. A re-sent event (after a kill) may repeat."""
    first: list[int] = []
    seen: set[int] = set()
    for eid in received:
        if eid not in seen:
            seen.add(eid)
            first.append(eid)
    assert first == expected


def test_kill_9_mid_stream_loses_and_reorders_nothing(db, db_url, plant, tmp_path):
    with Receiver(delay=0.003) as rx:
        add_sink("erp", "webhook", {"url": rx.url(), "secret": SECRET}, ["scan.accepted"])
        _write(db, 150)
        log = tmp_path / "dispatch.log"
        kills = 0
        proc = _dispatch_process(db_url, log)
        try:
            for threshold in (30, 90):
                # events keep coming while it runs
                _write(db, 25, start=1000 + threshold)
                assert _until(lambda t=threshold: len(rx.ids()) >= t), log.read_text()[-2000:]
                proc.kill()  # SIGKILL: no cleanup, mid-batch
                proc.wait()
                kills += 1
                proc = _dispatch_process(db_url, log)
            expected = [e.id for e in Event.select().where(Event.type == "scan.accepted")]
            assert len(expected) == 200
            assert _until(lambda: set(rx.ids()) >= set(expected), 60), log.read_text()[-2000:]
            # the cursor is written after the delivery: it follows
            assert _until(lambda: Sink.get(Sink.name == "erp").cursor == expected[-1])
        finally:
            proc.kill()
            proc.wait()
        assert kills == 2
        _in_order_once_each(rx.ids(), expected)
        # ordered not only by first arrival: a re-send restarts from the cursor, it never
        # goes back past it, so the stream only steps back at a restart
        steps_back = sum(1 for a, b in zip(rx.ids(), rx.ids()[1:], strict=False) if b <= a)
        assert steps_back <= kills


def test_two_dispatchers_on_postgres_deliver_each_event_once_per_sink(db, db_url, plant, tmp_path):
    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("row locks and SKIP LOCKED: PostgreSQL (SQLite runs one dispatcher)")
    with Receiver(delay=0.002) as rx:
        paths = [f"/sink{i}" for i in range(4)]
        for path in paths:
            add_sink(
                path.strip("/"),
                "webhook",
                {"url": rx.url(path), "secret": SECRET},
                ["scan.accepted"],
            )
        _write(db, 120)
        procs = [_dispatch_process(db_url, tmp_path / f"d{i}.log") for i in range(2)]
        try:
            _write(db, 80, start=500)
            expected = [e.id for e in Event.select().where(Event.type == "scan.accepted")]
            assert _until(lambda: all(len(rx.ids(p)) >= len(expected) for p in paths), 60)
            time.sleep(0.3)  # a double delivery would arrive now
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        for path in paths:
            assert rx.ids(path) == expected, path
        # both processes did work (not one idle while the other held every sink)
        logs = [(tmp_path / f"d{i}.log").read_text() for i in range(2)]
        assert all("dispatcher running" in text for text in logs), logs
        per_sink = {
            s.name: DeliveryAttempt.select().where(DeliveryAttempt.sink == s.id).count()
            for s in Sink.select()
        }
        assert set(per_sink.values()) == {len(expected)}


def test_the_example_receiver_of_the_docs_accepts_a_delivery_and_refuses_a_forgery(
    db, plant, capsys, tmp_path
):
    """docs/events.md's receiver, run as written, behind a real server."""
    import threading

    import requests
    from werkzeug.serving import make_server

    text = (REPO_ROOT / "docs" / "events.md").read_text()
    start = text.index("```python\n", text.index("A receiver that checks")) + len("```python\n")
    source = text[start : text.index("```", start)]
    import importlib.util

    path = tmp_path / "example_receiver.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("example_receiver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/koordinator"
        add_sink("docs", "webhook", {"url": url, "secret": "the subscription's secret"})
        _write(db, 2, "item.held")
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: Sink.get(Sink.name == "docs").cursor == events.last_id())
        assert capsys.readouterr().out.count("item.held IT-") == 2
        body = b'{"id": 1, "type": "item.held"}'
        forged = requests.post(
            url, data=body, headers={SIGNATURE_HEADER: sign("guess", int(time.time()), body)}
        )
        assert forged.status_code == 401
    finally:
        server.shutdown()
        thread.join(5)


# --- a receiver that misbehaves (issue 14) ----------------------------------------------


class RawReceiver:
    """A webhook receiver on a real socket that answers each request (in arrival order,
    over every connection) by calling `answers[i](conn)`, which writes what it likes and
    returns True to close the connection; after the script, a plain 200. Records
    (connection number, event id) per request."""

    OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

    def __init__(self, answers=(), tls=None) -> None:
        import socket
        import threading

        self.answers = list(answers)
        self.got: list[tuple[int, int]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.tls = tls
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _accept(self) -> None:
        import threading

        n = 0
        while not self.done.is_set():
            try:
                conn, _addr = self.listener.accept()
            except TimeoutError:
                continue
            n += 1
            thread = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn, n: int) -> None:
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(10)
            data = b""
            while not self.done.is_set():
                request = read_request(conn, data)
                if request is None:
                    return
                body, data = request
                i = len(self.got)
                self.got.append((n, json.loads(body)["id"]))
                answer = self.answers[i] if i < len(self.answers) else None
                if answer is None:
                    conn.sendall(self.OK)
                elif answer(conn):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(10)
        self.listener.close()

    def __enter__(self) -> RawReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: as FAST, but a timeout no loaded machine reaches: the tests below are about answers
HARDY = DispatchSettings(
    poll_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=5, flags=False
)


def _attempts() -> list[tuple[int, bool, str, int]]:
    return [
        (a.event_id, a.ok, a.detail, a.duration_ms)
        for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)
    ]


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(plant, db):
    """A receiver that sends its answer's head a byte every 50 ms, for 6 s: each read
    gets a byte long before the 0.4 s timeout, yet the delivery ends at the whole
    exchange's deadline (0.4 s) as a failed attempt, not when the receiver is done."""

    def trickle(conn) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(120):
            conn.sendall(b"X")
            time.sleep(0.05)
        return True

    with RawReceiver([trickle]) as rx:
        add_sink("erp", "webhook", {"url": rx.url, "secret": SECRET}, ["scan.accepted"])
        _write(db, 1)
        dispatcher = Dispatcher(db, FAST)
        started = time.monotonic()
        dispatcher.run_once()
        took = time.monotonic() - started
        dispatcher.close()
        rx.done.set()
    ((_eid, ok, detail, ms),) = _attempts()
    assert not ok and "timed out" in detail, detail
    assert ms < 3000 and took < 3000, (ms, took)  # the trickle went on for 6 s


def test_an_answer_body_past_the_cap_is_left_unread_and_its_connection_closed(plant, db):
    """200 with a 50 MB Content-Length, then a chunked 200 that never ends, each followed
    by silence on a connection left open: both are deliveries (the status is in), their
    bodies are read no further than the cap, and each connection is closed instead of
    used again (the third event arrives on a third connection)."""

    def huge(conn) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 100_000)
        time.sleep(3)
        return True

    def endless(conn) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
        time.sleep(3)
        return True

    with RawReceiver([huge, endless]) as rx:
        add_sink("erp", "webhook", {"url": rx.url, "secret": SECRET}, ["scan.accepted"])
        _write(db, 3)
        dispatcher = Dispatcher(db, HARDY)
        _drain(dispatcher, lambda: len(_attempts()) >= 3)
        dispatcher.close()
        rx.done.set()
    assert [(ok, detail) for _e, ok, detail, _ms in _attempts()] == [(True, "HTTP 200")] * 3
    assert [n for n, _eid in rx.got] == [1, 2, 3]


def test_a_kept_connection_the_receiver_spoke_on_while_idle_is_not_used(plant, db):
    """A receiver that, after its keep-alive timeout, writes `408 Request Timeout` on the
    idle connection and closes it (as some servers do): the next event goes at once on a
    new connection and is delivered; the stale 408 is not taken for its answer (a failed
    attempt and a backoff)."""

    def then_408(conn) -> bool:
        conn.sendall(RawReceiver.OK)
        time.sleep(0.2)
        conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
        return True

    with RawReceiver([then_408]) as rx:
        add_sink("erp", "webhook", {"url": rx.url, "secret": SECRET}, ["scan.accepted"])
        dispatcher = Dispatcher(db, HARDY)
        _write(db, 1)
        _drain(dispatcher, lambda: len(_attempts()) == 1)
        time.sleep(0.6)  # the 408 is on the idle connection, and the receiver closed it
        _write(db, 1, start=1)
        _drain(dispatcher, lambda: len(_attempts()) == 2)
        dispatcher.close()
        rx.done.set()
    assert [(ok, detail) for _e, ok, detail, _ms in _attempts()] == [(True, "HTTP 200")] * 2
    assert [n for n, _eid in rx.got] == [1, 2]  # each event once, the second afresh


def test_a_length_or_chunk_size_that_is_not_digits_is_a_failed_attempt(plant, db):
    """Content-Length and chunk sizes must be digits: `1_0`, `+2`, `-1`, two lengths that
    differ, `0x5`, `-1`, `zz` (Python's int() takes the first and the fifth) are each a
    failed attempt saying so, the connection closed; the event then goes through."""
    bad = [
        b"Content-Length: 1_0\r\n\r\n0123456789",
        b"Content-Length: +2\r\n\r\n{}",
        b"Content-Length: -1\r\n\r\n{}",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nabcde\r\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n0\r\n\r\n",
    ]

    def answer(rest: bytes):
        def write(conn) -> bool:
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + rest)
            time.sleep(0.1)
            return True

        return write

    with RawReceiver([answer(b) for b in bad]) as rx:
        add_sink("erp", "webhook", {"url": rx.url, "secret": SECRET}, ["scan.accepted"])
        _write(db, 1)
        dispatcher = Dispatcher(db, HARDY)
        _drain(dispatcher, lambda: any(ok for _e, ok, _d, _ms in _attempts()), 30)
        dispatcher.close()
        rx.done.set()
    attempts = _attempts()
    assert [ok for _e, ok, _d, _ms in attempts] == [False] * len(bad) + [True]
    details = [d for _e, _ok, d, _ms in attempts[:-1]]
    assert all(d.startswith("BadAnswer: bad Content-Length") for d in details[:3]), details
    assert details[3] == "BadAnswer: two different Content-Length headers"
    assert all(d.startswith("BadAnswer: bad chunk size") for d in details[4:]), details
    assert len({n for n, _eid in rx.got}) == len(bad) + 1  # a new connection after each


def test_a_url_with_a_space_or_a_control_character_is_refused(plant, api, db):
    """At subscription: 400 bad_payload. At delivery (a sink row made some other way):
    a failed attempt naming the character, and nothing is sent."""
    with RawReceiver() as rx:
        for bad in (" x", "\tx", "\r\nX-Injected: 1", "\x7f", "\x00", "é"):
            made = api.post(
                "/api/webhooks", {"name": "erp", "url": rx.url + bad}, expected=400
            ).get_json()
            assert made["error"] == "bad_payload", made
        add_sink("erp", "webhook", {"url": rx.url + "/a b", "secret": SECRET}, ["scan.accepted"])
        _write(db, 1)
        Dispatcher(db, HARDY).run_once()
        time.sleep(0.3)
        rx.done.set()
    ((_eid, ok, detail, _ms),) = _attempts()
    assert not ok and detail == "the url holds ' ': only printable ASCII without spaces"
    assert rx.got == []


def test_an_https_sink_makes_its_tls_context_once(plant, db, tmp_path, monkeypatch):
    """HTTPS to a receiver with a certificate of its own CA (trusted through
    SSL_CERT_FILE): three events on three connections, each verified with the one
    context the sink made, not a context (and the CA file read) per connection."""
    import ssl
    import subprocess

    from server.dispatch import WebhookSink

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    _write(db, 3)
    with RawReceiver(tls=server_tls) as rx:
        sink = WebhookSink({"url": rx.url, "secret": SECRET}, HARDY)
        contexts = []
        for event in Event.select().order_by(Event.id):
            assert sink.deliver(event) == "HTTP 200"
            contexts.append(sink._conn.sock.context)
            sink.close()
        rx.done.set()
    assert sink.tls is not None and all(c is sink.tls for c in contexts)
    assert [n for n, _eid in rx.got] == [1, 2, 3]


def test_a_broker_users_lock_is_one_dispatchers_until_it_lets_go(db, monkeypatch):
    """server/dispatch_locks.py on the test's database: one holder per broker user name
    (however the broker's address is written), others refused until it closes; a closed
    one takes no lock again; on PostgreSQL a holder whose lock connection was killed finds
    out at its next check and does not think it still holds the user."""
    from server import dispatch_locks
    from server.dispatch_locks import BrokerUserLocks

    monkeypatch.setattr(dispatch_locks, "CHECK_EVERY_S", 0.05)
    user = (False, "10.0.0.5", 1883, "koordinator-dispatch")
    other_user = (False, "10.0.0.5", 1883, "koordinator-dispatch-2")
    # the same user on the same broker, written otherwise (a name, TLS's port)
    same_user = [(False, "localhost", 1883, user[3]), (True, "broker.plant", 8883, user[3])]
    first, second, third = BrokerUserLocks(db), BrokerUserLocks(db), BrokerUserLocks(db)
    try:
        assert first.hold(user) and first.hold(user)
        assert all(first.hold(k) for k in same_user)
        assert not second.hold(user)
        assert not any(second.hold(k) for k in same_user)
        assert second.hold(other_user)
        first.close()
        assert second.hold(same_user[0])
        assert not first.hold(user)  # closed: it takes no lock again
        second.close()
        assert not second.hold(user)
        assert third.hold(user)  # nobody held it after the two closed
        if isinstance(db, pw.PostgresqlDatabase):
            pid = third._conn.get_backend_pid()
            with db.connection_context():
                db.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
            fourth = BrokerUserLocks(db)
            try:
                assert _until(lambda: fourth.hold(user), 5)  # the lock went with its connection
                assert _until(lambda: not third.hold(user), 5)  # and the third one knows
            finally:
                fourth.close()
    finally:
        first.close()
        second.close()
        third.close()


def test_the_lock_connection_is_not_the_pools(db, monkeypatch):
    """PostgreSQL: the broker user's lock is on a connection opened apart from the pool
    and closed apart: lost lock connections (a restart, pg_terminate_backend) and a
    dispatcher's stop leave the pool's connections as they were (a checked-out one never
    given back took a pool slot each, until the pool refused and the lock was thought
    another dispatcher's)."""
    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("SQLite: a lock file, no connection")
    from server import dispatch_locks
    from server.dispatch_locks import BrokerUserLocks

    monkeypatch.setattr(dispatch_locks, "CHECK_EVERY_S", 0.05)
    user = (False, "localhost", 1883, "koordinator-dispatch")
    db.close()
    db.connect()
    db.close()  # an idle connection in the pool
    pool = (len(db._connections), len(db._in_use))
    assert pool[0] >= 1 and pool[1] == 0, pool
    locks = BrokerUserLocks(db)
    try:
        assert locks.hold(user)
        assert (len(db._connections), len(db._in_use)) == pool
        for _ in range(3):
            pid = locks._conn.get_backend_pid()
            with db.connection_context():
                db.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
            assert _until(lambda: locks._conn is None, 5)  # the heartbeat finds it gone
            assert locks.hold(user)
            assert locks._conn.get_backend_pid() != pid
        assert (len(db._connections), len(db._in_use)) == pool
    finally:
        locks.close()
    assert (len(db._connections), len(db._in_use)) == pool
    db.connect(reuse_if_open=True)


def _proxy_to(db) -> tuple[subprocess.Popen, pw.PostgresqlDatabase]:
    """A TCP proxy to the test's PostgreSQL (tests/support/tcp_proxy.py), and a database
    object that connects through it."""
    params = dict(db.connect_params)
    proxy = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "support" / "tcp_proxy.py"),
            params.get("host") or "127.0.0.1",
            str(params.get("port") or 5432),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proxy.stdout.readline())
    params.update(host="127.0.0.1", port=port)
    return proxy, pw.PostgresqlDatabase(db.database, **params)


def test_a_silent_lock_holder_lets_go_in_bounded_time(db, monkeypatch):
    """PostgreSQL: the link of a dispatcher holding a broker user's lock goes silent (no
    FIN, no reset: a crashed host, a cut network; here a frozen proxy). Its own sink
    threads' `hold()` calls return at once or within the round trip's bound (a check on the
    dead link held them all for as long as TCP took to give up), it gives the user up, and
    the server lets the lock go within GONE_AFTER_S, so another dispatcher takes over
    (it kept the lock for the server's tcp_keepalives_idle, 2 h). While the link is up,
    the heartbeat keeps the holder's session past that idle timeout."""
    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("SQLite: a lock file, the kernel lets it go with the process")
    import signal
    import threading

    from server import dispatch_locks
    from server.dispatch_locks import BrokerUserLocks

    monkeypatch.setattr(dispatch_locks, "CHECK_EVERY_S", 0.3)
    monkeypatch.setattr(dispatch_locks, "IO_TIMEOUT_S", 1.0, raising=False)
    monkeypatch.setattr(dispatch_locks, "GONE_AFTER_S", 2.0, raising=False)
    user = (False, "localhost", 1883, "koordinator-dispatch")
    proxy, far = _proxy_to(db)
    holder, other = BrokerUserLocks(far), BrokerUserLocks(db)
    try:
        assert holder.hold(user)
        time.sleep(3.0)  # past the idle timeout: the heartbeat keeps the session
        assert holder.hold(user) and not other.hold(user)
        os.kill(proxy.pid, signal.SIGSTOP)  # the link goes silent
        took: list[float] = []

        def sink_thread():
            started = time.monotonic()
            for _ in range(20):
                holder.hold(user)
                time.sleep(0.1)
            took.append(time.monotonic() - started)

        threads = [threading.Thread(target=sink_thread, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # 20 turns of 0.1 s, and a few bounded waits for a round trip under way
        assert len(took) == 3 and max(took) < 2 + 4 * 1.0 + 2, took
        assert _until(lambda: not holder.hold(user), 5)  # it gave the user up
        started = time.monotonic()
        assert _until(lambda: other.hold(user), 10)  # the server let the lock go
        assert time.monotonic() - started < 2.0 + 3
    finally:
        os.kill(proxy.pid, signal.SIGKILL)
        proxy.wait()
        proxy.stdout.close()
        holder.close()
        other.close()


def test_a_password_apart_for_an_anonymous_mqtt_url_is_ignored(caplog):
    """MQTT_URL with no user and MQTT_PASSWORD set: the ingest sends no password (it runs
    as before); the dispatcher's sinks do the same, with a warning, instead of the
    dispatcher (and `serve --dispatch`, `ingest --dispatch`) failing to start."""
    env = {"MQTT_URL": "mqtt://127.0.0.1:1883", "MQTT_PASSWORD": "secret"}
    assert dispatch_mqtt_url(env) == "mqtt://127.0.0.1:1883"
    assert "MQTT_PASSWORD is set but MQTT_URL names no user" in caplog.text
    assert DispatchSettings.from_env(env).mqtt_url == "mqtt://127.0.0.1:1883"
    with_user = {**env, "MQTT_URL": "mqtt://plant@127.0.0.1:1883"}
    assert dispatch_mqtt_url(with_user) == "mqtt://plant:secret@127.0.0.1:1883"
