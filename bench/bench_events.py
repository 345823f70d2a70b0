"""Events out (issue 14): how long a `scan.accepted` event takes from its commit to its
sinks, an MQTT events sink and a local webhook, at 1,000 scans/s offered.

Target (issue 14): "Event reaches MQTT and a local webhook <= 1 s p99 after its commit at
1,000 scans/s".

The whole real path: 4 agent-like publishers (bench_ingest's `CPublisher`: Mosquitto's C
clients on the wire) -> Mosquitto -> `python -m server ingest` -> SQLite (the event rows
commit with the scans' batch) -> `python -m server dispatch` -> its two sinks, added with
`server.dispatch.add_sink` before the dispatcher starts and taking `scan.accepted` only:

- `mqtt`: publishes each event on `koordinator/events/scan.accepted` through the same
  Mosquitto; a paho subscriber in this process on `koordinator/events/#` takes them;
- `webhook`: POSTs each event to an `http.server` receiver in a process of its own
  (threaded, answers 200, keeps the connection open as a production receiver does;
  `--receiver-closes`: HTTP/1.0, a new connection each). Before 2026-11-30 13:00 it was a
  werkzeug server in this process closing every connection.

Every scan receives a new item (`new` -> `raw`), as in bench_ingest.py.

**When the commit happened.** The envelope's `created_at` is the clock reading the
ingest's batch takes before it writes its rows, to the microsecond: a few ms *before* the
commit. The scan's result is published *after* the commit, so the time it reached the
publisher is a little after it. The bench records both per `scan_id` and reports

- `p50_ms` ... `max_ms`: arrival at the sink (`time.time()` on receipt) minus `created_at`,
  an upper bound of commit-to-sink (it includes the batch's own work);
- `from_result_p99_ms`: arrival minus the time the scan's result reached the publisher, a
  lower bound (it leaves out the result's trip back);

and every sent scan's event must arrive: `lost` = accepted scans - events received (by
their `scan_id`, first arrival; a repeat, at-least-once, is counted in `repeats`).

**The ceiling, in the same run** (docs/benchmarks.md: every figure beside one measured in
the same run, as a ratio): just before and just after the project's phase, with the
ingest and the dispatcher running idle, this process sends at the same rate

- raw MQTT: QoS 1 publishes (paho, as the dispatcher's MQTT sink) through the same
  Mosquitto to the same subscriber;
- raw HTTP: a `urllib` POST each (a new connection each, as the webhook sink does) to the
  same receiver;

each carrying its `time.time()` at sending. `mqtt_ratio` and `webhook_ratio` are a sink's
p99 over the mean of its ceiling's two p99s; the ceiling's own figures are printed as
`ceiling_...: [before, after]`. The gap between the two is the ingest's batch and commit,
the dispatcher's poll (`DISPATCH_POLL_S`, printed) and its one-event-at-a-time delivery.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_events.py [--quick] [--rate N]` (`--quick`:
10 s of scans instead of 30; `--rate`: another offered rate, to find the one the dispatcher
keeps up with). The dispatcher takes its settings from the environment as in production
(`DISPATCH_POLL_S`, `DISPATCH_BATCH`; the figures print the two in force).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import http.server
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from bench_ingest import (
    PREFIX,
    REPO,
    TUNED,
    CPublisher,
    cpu_seconds,
    require_mosquitto_tools,
    scan_payload,
    seed,
    start_ingest,
    with_baseline,
)
from paho.mqtt.enums import CallbackAPIVersion

from server.db import init_db
from server.dispatch import DispatchSettings, add_sink
from tests.support.broker import start_mosquitto

RATE = 1000  # scans/s offered (issue 14)
PUBLISHERS = 4
WARM_UP = 40  # scans through the whole path before the clock: connections, caches
CEILING_TOPIC = "bench/ceiling"


def wall_of(perf: float) -> float:
    """A `time.perf_counter()` reading as `time.time()` (the publishers keep perf times)."""
    return perf + _PERF_TO_WALL


_PERF_TO_WALL = time.time() - time.perf_counter()


class Arrivals:
    """What reached one sink: per key (a scan_id, or a ceiling message's number) the first
    (arrival, sent-or-created time), and how many came again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first: dict[str, tuple[float, float]] = {}
        self.repeats = 0

    def add(self, key: str, arrived: float, origin: float) -> None:
        with self.lock:
            if key in self.first:
                self.repeats += 1
            else:
                self.first[key] = (arrived, origin)

    def count(self, keys) -> int:
        with self.lock:
            return sum(1 for k in keys if k in self.first)

    def clear(self) -> None:
        with self.lock:
            self.first.clear()
            self.repeats = 0

    def snapshot(self) -> tuple[dict[str, tuple[float, float]], int]:
        with self.lock:
            return dict(self.first), self.repeats


class RemoteArrivals:
    """An `Arrivals` kept in the receiver's process (`ReceiverProcess`), asked over its
    pipe."""

    def __init__(self, process: ReceiverProcess, which: str) -> None:
        self.process, self.which = process, which

    def count(self, keys) -> int:
        return self.process.ask("count", self.which, list(keys))

    def clear(self) -> None:
        self.process.ask("clear", self.which)

    def snapshot(self) -> tuple[dict[str, tuple[float, float]], int]:
        return self.process.ask("snapshot", self.which)


def _receiver_main(conn, closes: bool) -> None:
    """The receiver's process: a `WebhookReceiver`, answering the bench's questions about
    its arrivals until "stop"."""
    receiver = WebhookReceiver(closes=closes)
    conn.send(receiver.server.server_port)
    while True:
        command, *args = conn.recv()
        if command == "stop":
            break
        arrivals = getattr(receiver, args[0])
        if command == "count":
            conn.send(arrivals.count(args[1]))
        elif command == "clear":
            arrivals.clear()
            conn.send(None)
        else:
            conn.send(arrivals.snapshot())
    receiver.close()


class ReceiverProcess:
    """The local webhook in a process of its own (a receiver is a service of its own; in
    the bench process it shared one interpreter lock with the subscriber and the
    publishers' readers and answered a few hundred POSTs a second)."""

    def __init__(self, closes: bool = False) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.lock = threading.Lock()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_receiver_main, args=(child, closes), daemon=True
        )
        self.process.start()
        self.port = self.conn.recv()
        self.events = RemoteArrivals(self, "events")
        self.ceiling = RemoteArrivals(self, "ceiling")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ask(self, *command):
        with self.lock:
            self.conn.send(command)
            return self.conn.recv()

    def close(self) -> None:
        with self.lock:
            self.conn.send(("stop",))
        self.process.join(10)


def created_time(body: dict) -> float:
    """The envelope's `created_at` (UTC, `...Z`) as a unix time."""
    at = dt.datetime.fromisoformat(body["created_at"].removesuffix("Z"))
    return at.replace(tzinfo=dt.UTC).timestamp()


class WebhookReceiver:
    """A local webhook: `http.server` on a free port, a thread per connection, answers 200
    to every POST, keeping the connection open (HTTP/1.1) unless `closes` (HTTP/1.0).
    `/hook` takes the dispatcher's events, `/ceiling` the bench's raw POSTs, `/burst` the
    receiver's own pace. (werkzeug's development server, used before, answered 370-640
    POSTs a second one at a time on the loaded 2-core machine: the receiver, not the
    dispatcher, was then the webhook's bound.)"""

    def __init__(self, closes: bool = False) -> None:
        self.events, self.ceiling = Arrivals(), Arrivals()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0" if closes else "HTTP/1.1"
            # the head and the body leave in two writes: without this the body waits for
            # the head's delayed ACK (40 ms an answer), as no production server lets it
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/ceiling":
                    outer.ceiling.add(str(body["n"]), arrived, body["sent_at"])
                elif self.path == "/hook" and body["type"] == "scan.accepted":
                    outer.events.add(body["payload"]["scan_id"], arrived, created_time(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


class EventSubscriber:
    """A paho subscriber on `koordinator/events/#` (the MQTT sink's events) and the
    ceiling's topic."""

    def __init__(self, port: int) -> None:
        self.events, self.ceiling = Arrivals(), Arrivals()
        ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-events-{uuid.uuid4().hex[:4]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(f"{PREFIX}/events/#", 1), (CEILING_TOPIC, 1)]
        )
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.on_socket_open = lambda c, u, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10), "the events subscriber did not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        arrived = time.time()
        body = json.loads(message.payload)
        if message.topic == CEILING_TOPIC:
            self.ceiling.add(str(body["n"]), arrived, body["sent_at"])
        elif body.get("type") == "scan.accepted":
            self.events.add(body["payload"]["scan_id"], arrived, created_time(body))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def figures(latencies_s: list[float]) -> dict:
    lat = sorted(v * 1000 for v in latencies_s)
    if len(lat) < 2:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    q = statistics.quantiles(lat, n=100)
    return {
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(lat[-1], 1),
    }


def paced(seconds: float, rate: int, send) -> int:
    """Call `send(i)` `rate` times a second for `seconds`; how many were sent."""
    n = int(rate * seconds)
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(i)
    return n


def wait_for(arrivals: list[Arrivals], keys, timeout: float) -> bool:
    keys = list(keys)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(a.count(keys) == len(keys) for a in arrivals):
            return True
        time.sleep(0.05)
    return False


def phase_ceiling(
    port: int, subscriber: EventSubscriber, receiver, seconds: float, rate: int
) -> dict:
    """Raw MQTT publish -> subscriber and raw HTTP POST -> receiver at the same rate."""
    subscriber.ceiling.clear()
    receiver.ceiling.clear()
    publisher = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-ceiling-{uuid.uuid4().hex[:4]}"
    )
    publisher.max_inflight_messages_set(100)
    publisher.on_socket_open = lambda c, u, sock: sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:

        def publish(i: int) -> None:
            body = json.dumps({"n": i, "sent_at": time.time()}).encode()
            publisher.publish(CEILING_TOPIC, body, qos=1)

        sent = paced(seconds, rate, publish)
        wait_for([subscriber.ceiling], map(str, range(sent)), 30)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    url = receiver.url("/ceiling")

    def post(i: int) -> None:
        body = json.dumps({"n": i, "sent_at": time.time()}).encode()
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            response.read()

    posted = paced(seconds, rate, post)
    wait_for([receiver.ceiling], map(str, range(posted)), 30)
    out = {"receiver_serial_per_s": receiver_pace(receiver)}
    sinks = (("mqtt", subscriber.ceiling, sent), ("webhook", receiver.ceiling, posted))
    for name, arrivals, n in sinks:
        first, _repeats = arrivals.snapshot()
        lat = [a - o for a, o in first.values()]
        out[name] = {**figures(lat), "sent": n, "received": len(lat)}
    return out


def receiver_pace(receiver, seconds: float = 2.0) -> int:
    """POSTs a second the receiver answers one at a time on one kept connection: the
    most a sink delivering one event per POST can reach here (the webhook sink's bound
    when this is lower than the offered rate)."""
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    body = json.dumps({"type": "burst", "payload": {}}).encode()
    headers = {"Content-Type": "application/json"}
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        conn.request("POST", "/burst", body, headers)
        conn.getresponse().read()
        n += 1
    conn.close()
    return round(n / (time.perf_counter() - start))


def start_dispatcher(url: str, broker, workdir: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        MQTT_URL=broker.url,
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
    )
    log_path = workdir / "dispatch.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "dispatch"],
        cwd=REPO,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while "dispatcher running" not in log_path.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"dispatcher did not start; see {log_path}")
        time.sleep(0.05)
    return proc


def add_sinks(url: str, hook_url: str) -> None:
    """The two sinks, `scan.accepted` only, before the dispatcher starts."""
    db = init_db(url)
    with db.connection_context():
        add_sink("bench-mqtt", "mqtt", {}, ["scan.accepted"])  # the dispatcher's MQTT_URL
        add_sink("bench-hook", "webhook", {"url": hook_url, "secret": "bench"}, ["scan.accepted"])
    db.close()


def send_scans(pubs: list[CPublisher], codes: list[str], rate: int) -> list[str]:
    """Offer receive scans of `codes` at `rate`/s round-robin; their scan_ids."""
    scans = [scan_payload(code) for code in codes]  # the load, made before the clock
    paced(len(scans) / rate, rate, lambda i: pubs[i % len(pubs)].send_many([scans[i]]))
    return [scan_id for scan_id, _payload in scans]


def result_wall_times(pubs: list[CPublisher]) -> dict[str, float]:
    """Per scan_id, the `time.time()` its result reached the publisher."""
    out = {}
    for pub in pubs:
        with pub.lock:
            for scan_id, latency in pub.latency.items():
                out[scan_id] = wall_of(pub.sent_at[scan_id] + latency)
    return out


def run(seconds: int, tmp: Path, rate: int = RATE, receiver_closes: bool = False) -> dict:
    n = rate * seconds
    url = f"sqlite:///{tmp}/events.db"
    codes = seed(url, WARM_UP + n, PUBLISHERS)
    broker = start_mosquitto(tmp / "mq", conf_extra=TUNED)
    receiver = ReceiverProcess(closes=receiver_closes)
    subscriber = EventSubscriber(broker.port)
    add_sinks(url, receiver.url("/hook"))
    procs: list[subprocess.Popen] = []
    pubs: list[CPublisher] = []
    try:
        procs.append(start_ingest(url, broker, tmp, "--mqtt5"))
        procs.append(start_dispatcher(url, broker, tmp))
        ingest, dispatcher = procs
        pubs = [CPublisher(broker.port, f"sc-b{k}") for k in range(PUBLISHERS)]
        sinks = [subscriber.events, receiver.events]
        # warm-up: the dispatcher opens its MQTT session at its first event
        warm = send_scans(pubs, codes[:WARM_UP], 200)
        if not wait_for(sinks, warm, 60):
            raise RuntimeError("the warm-up scans' events did not reach both sinks")
        ceiling_s = min(seconds, 10)
        before = phase_ceiling(broker.port, subscriber, receiver, ceiling_s, rate)
        for arrivals in sinks:
            arrivals.clear()
        cpu = {"ingest": cpu_seconds(ingest.pid), "dispatch": cpu_seconds(dispatcher.pid)}
        start = time.perf_counter()
        sent = send_scans(pubs, codes[WARM_UP:], rate)
        offered_s = time.perf_counter() - start
        all_answered = all(p.drain(60) for p in pubs)
        results = result_wall_times(pubs)
        accepted = [s for s in sent if s in results]
        delivered = wait_for(sinks, accepted, max(60, 4 * seconds))
        drained_s = time.perf_counter() - start
        cpu = {
            f"{name}_cpu_s": round(cpu_seconds(p.pid) - cpu[name], 1)
            for name, p in (("ingest", ingest), ("dispatch", dispatcher))
        }
        after = phase_ceiling(broker.port, subscriber, receiver, ceiling_s, rate)
    finally:
        for pub in pubs:
            pub.close()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        final = {
            "mqtt": subscriber.events.snapshot(),
            "webhook": receiver.events.snapshot(),
        }
        subscriber.close()
        receiver.close()
        broker.stop()
    wanted = set(accepted)
    out: dict = {
        "offered_per_s": rate,
        "scans": n,
        "offered_s": round(offered_s, 2),
        "accepted": len(accepted),
        "all_answered": all_answered,
        "all_delivered": delivered,
        "last_event_after_s": round(drained_s, 2),
        "dispatch_poll_s": DispatchSettings.from_env(os.environ).poll_s,
        "dispatch_batch": DispatchSettings.from_env(os.environ).batch,
        "receiver_keeps_alive": not receiver_closes,
        **cpu,
    }
    for name in ("mqtt", "webhook"):
        first, repeats = final[name]
        got = {k: v for k, v in first.items() if k in wanted}
        arrived = sorted(a for a, _c in got.values())
        gaps = [b - a for a, b in zip(arrived, arrived[1:], strict=False)]
        sink = {
            **figures([a - created for a, created in got.values()]),
            "from_result_p99_ms": figures([a - results[k] for k, (a, _c) in got.items()])["p99_ms"],
            "sent": len(accepted),
            "received": len(got),
            "lost": len(accepted) - len(got),
            "repeats": repeats,
            # the sink's own pace: events a second from its first to its last, and the
            # median gap between two arrivals (within a batch: one delivery's time)
            "delivered_per_s": round(len(arrived) / (arrived[-1] - arrived[0])),
            "median_gap_ms": round(statistics.median(gaps) * 1000, 2),
        }
        sink = with_baseline(sink, [before[name], after[name]], "p99_ms", f"{name}_ratio")
        out[name] = {k.replace("null_", "ceiling_", 1): v for k, v in sink.items()}
    out["webhook"]["receiver_serial_per_s"] = [
        before["receiver_serial_per_s"],
        after["receiver_serial_per_s"],
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s of scans instead of 30")
    parser.add_argument("--seconds", type=int, help="this many seconds of scans")
    parser.add_argument("--rate", type=int, default=RATE, help="scans/s offered (1,000)")
    parser.add_argument(
        "--receiver-closes",
        action="store_true",
        help="the webhook's receiver closes every connection (HTTP/1.0)",
    )
    args = parser.parse_args()
    require_mosquitto_tools()
    seconds = args.seconds or (10 if args.quick else 30)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmpdir:
        result = run(seconds, Path(tmpdir), args.rate, args.receiver_closes)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
