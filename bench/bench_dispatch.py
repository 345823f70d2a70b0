"""The dispatcher alone, in-process: how fast it drains the outbox to its sinks.

    PYTHONPATH=. .venv/bin/python bench/bench_dispatch.py [--events 5000] [--profile]
        [--broker-inflight N] [--mqtt-config '{"mqtt5": false}']

`bench_events.py` measures commit-to-sink latency under the whole path's load; this one
isolates the dispatcher's own pace, the figure that bounds that latency (an outbox filled
faster than it drains waits longer and longer). On a SQLite file it writes `--events`
`scan.accepted` events (receive scans through `apply_scans`, batches of 200), adds an
MQTT sink (a Mosquitto on a free port, a paho subscriber counting arrivals) and a webhook
sink (a keep-alive `http.server` answering 200), then runs `Dispatcher.run()` in a
thread until both sinks' cursors reach the last event.

**The ceiling, in the same run**: the same number of QoS 1 publishes, each waiting for its
PUBACK (paho, `loop_start`, as the MQTT sink), and of POSTs on one kept-alive
`http.client` connection, to the same broker and receiver, both from one thread. The
sinks' `events_per_s` are quoted beside `ceiling_per_s` as `ratio` (sink over ceiling).

`--broker-inflight N` sets the broker's `max_inflight_messages` (the Receive Maximum it
tells an MQTT 5 client, which the sink keeps; Mosquitto's default is 20, docs/deploy.md
sets 1000); `--mqtt-config` is merged into the MQTT sink's config (e.g. `{"mqtt5": false}`,
`{"max_in_flight": 50}`).

`--profile` runs the dispatcher's phase under cProfile, timed by the thread's CPU clock
(not the wall: waiting for a receiver or a PUBACK is not counted), and prints the top of
it by own time, to see where a delivery's CPU goes; cProfile sees one thread, so there the
sinks are served in turn in this one (`run_once()`), not each in its own as `run()` does,
and paho's network thread (writing the publishes, reading the PUBACKs) is not in it.

The receiver and the subscriber run in a child process, so `cpu_us_per_delivery` (the
bench process's CPU time over the deliveries) is the dispatcher's own, paho's network
thread included.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import http.server
import io
import json
import multiprocessing
import os
import platform
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bench_ingest import require_mosquitto_tools, seed  # noqa: E402
from support.broker import start_mosquitto  # noqa: E402


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        outer = self
        self.count = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Subscriber:
    def __init__(self, port: int) -> None:
        self.count = 0
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("koordinator/events/#", 1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _receivers(port: int, conn) -> None:
    """The child process holding the webhook's receiver and the MQTT subscriber, so the
    bench process's CPU time is the dispatcher's (and the ceiling's clients') alone.
    Answers "count" with (POSTs received, messages received) until "stop"."""
    receiver = Receiver()
    subscriber = Subscriber(port)
    conn.send(receiver.url)
    while conn.recv() == "count":
        conn.send((receiver.count, subscriber.count))
    subscriber.close()
    receiver.shutdown()


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's live threads since they started: the sinks' threads
    by name, and paho's network thread (the sink's session is the only one running while
    the dispatcher delivers; the ceiling's clients have stopped theirs)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        name = thread.name
        if name.startswith("paho-mqtt-client"):
            name = "paho network thread"
        elif not name.startswith("dispatcher-"):
            continue  # the main thread did the setup and the ceiling too
        out[name] = out.get(name, 0.0) + seconds
    return out


def ceiling(port: int, hook_url: str, n: int) -> dict:
    """n publishes-and-wait and n keep-alive POSTs from one thread, each a second rate."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ceiling")
    client.connect("127.0.0.1", port)
    client.loop_start()
    body = json.dumps({"id": 1, "type": "scan.accepted", "payload": {"x": "y" * 200}}).encode()
    start = time.perf_counter()
    for _ in range(n):
        info = client.publish("koordinator/bench/ceiling", body, qos=1)
        info.wait_for_publish(5)
    mqtt_s = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    host_port = hook_url.split("/")[2]
    conn = http.client.HTTPConnection(host_port, timeout=5)
    start = time.perf_counter()
    for _ in range(n):
        conn.request("POST", "/hook", body, {"Content-Type": "application/json"})
        conn.getresponse().read()
    http_s = time.perf_counter() - start
    conn.close()
    return {"mqtt": round(n / mqtt_s), "webhook": round(n / http_s)}


def run(
    n: int, tmp: Path, profile: bool, broker_inflight: int | None = None, mqtt_config=None
) -> dict:
    from server.core.scans import ScanIn, apply_scans
    from server.db import init_db
    from server.dispatch import Dispatcher, DispatchSettings, add_sink
    from server.models import Sink

    url = f"sqlite:///{tmp}/dispatch.db"
    codes = seed(url, n, 1)
    extra = f"max_inflight_messages {broker_inflight}" if broker_inflight else ""
    broker = start_mosquitto(tmp / "mq", conf_extra=extra)
    parent, child = multiprocessing.Pipe()
    others = multiprocessing.get_context("spawn").Process(
        target=_receivers, args=(broker.port, child), daemon=True
    )
    others.start()
    hook_url = parent.recv()
    db = init_db(url)
    load = [os.getloadavg()[0]]
    try:
        with db.connection_context():
            add_sink("bench-mqtt", "mqtt", dict(mqtt_config or {}), ["scan.accepted"])
            add_sink("bench-hook", "webhook", {"url": hook_url, "secret": "b"}, ["*"])
            scans = [
                ScanIn(scan_id=f"bd-{i}", scanner_id="sc-b0", code=c) for i, c in enumerate(codes)
            ]
            for k in range(0, n, 200):
                apply_scans(db, scans[k : k + 200])
            last = db.execute_sql("select max(id) from event").fetchone()[0]
        before = ceiling(broker.port, hook_url, min(n, 3000))
        settings = DispatchSettings(mqtt_url=broker.url, flags=False)
        dispatcher = Dispatcher(db, settings)
        stop = threading.Event()
        prof = cProfile.Profile(time.thread_time) if profile else None
        cpu0, start = time.process_time(), time.perf_counter()
        done_at: dict[str, float] = {}
        threads: dict[str, float] = {}

        def watch() -> None:
            while len(done_at) < 2 and time.perf_counter() - start < 600:
                with db.connection_context():
                    for sink in Sink.select():
                        if sink.cursor >= last and sink.name not in done_at:
                            done_at[sink.name] = time.perf_counter() - start
                time.sleep(0.02)
            threads.update(thread_cpu())  # before the sinks' threads end
            stop.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        if prof:  # cProfile sees one thread: the sinks served in turn, in this one
            prof.enable()
            with db.connection_context():
                while not stop.is_set():
                    dispatcher.run_once()
            prof.disable()
            dispatcher.close()
        else:
            dispatcher.run(stop)
        watcher.join()
        cpu = time.process_time() - cpu0
        after = ceiling(broker.port, hook_url, min(n, 3000))
        load.append(os.getloadavg()[0])
        parent.send("count")
        posts, messages = parent.recv()
    finally:
        parent.send("stop")
        others.join(10)
        broker.stop()
        db.close()
    out = {
        "events": n,
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": load,
        "broker_inflight": broker_inflight or "default (20)",
        "mqtt_config": mqtt_config or {},
        "cpu_s": round(cpu, 2),
        "cpu_us_per_delivery": round(cpu / (2 * n) * 1e6),
    }
    for name, kind in (("bench-mqtt", "mqtt"), ("bench-hook", "webhook")):
        rate = n / done_at[name] if name in done_at else 0.0
        ceil = (before[kind] + after[kind]) / 2
        out[kind] = {
            "events_per_s": round(rate),
            "ceiling_per_s": [before[kind], after[kind]],
            "ratio": round(rate / ceil, 2),
        }
    if not prof:
        out["cpu_us_per_delivery_by_thread"] = {
            name: round(seconds / n * 1e6) for name, seconds in sorted(threads.items())
        }
    out["mqtt"]["received"] = messages
    out["webhook"]["received"] = posts - 2 * min(n, 3000)
    if prof:
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(45)
        print(text.getvalue())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--broker-inflight", type=int, default=None)
    parser.add_argument("--mqtt-config", type=json.loads, default=None)
    args = parser.parse_args()
    require_mosquitto_tools()
    with tempfile.TemporaryDirectory(prefix="kz-bench-dispatch-") as tmp:
        result = run(args.events, Path(tmp), args.profile, args.broker_inflight, args.mqtt_config)
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
