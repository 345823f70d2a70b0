"""End-to-end ingest: agent-like publishers -> Mosquitto -> `python -m server ingest` ->
SQLite -> results back to the publishers.

The publishers of the throughput and latency phases put Mosquitto's C clients on the wire
(`mosquitto_pub -l`, `mosquitto_sub`; Debian package mosquitto-clients, `make bench`
installs it) and keep each scanner's pending table in Python; the burst phase uses paho,
as the agent does. `--database-url` runs the throughput phase on PostgreSQL, `--workers 2`
with a `$share` subscription.

Three measurements (docs/design.md "Figures to reach" and "Reliability"):

1. sustained throughput: publishers keep a window of unanswered scans full; scans/s from
   first publish to last result, nothing lost (target >= 5,000/s);
2. result latency at 1,000 scans/s offered: publish -> result p50/p99 (target p99 <= 25 ms);
3. a 10,000-scan burst through a Mosquitto at its default settings (1,000-message queue
   per session, 20 in flight), with the agent's resend of unanswered scans: nothing lost,
   nothing applied twice.

Every scan receives a new item (`new` -> `raw`), the real path of `apply_scan()`.

This machine's speed moves by 2x from one hour to the next, so phases 1 and 2 also run, in
the same run and with the same load generator, a **do-nothing ingest** (`NullIngestWorker`:
the same `IngestWorker` and MQTT client code, subscribing, decoding and answering each scan
with a fixed result, without `apply_scans()` or a database) just before and just after the
project's ingest, and report the project's figure as a ratio to the mean of the two beside
the absolute one: `throughput_ratio` (the project's scans/s over the do-nothing's),
`p99_ratio` (the project's p99 over the do-nothing's), and `cpu_ratio` (the ingest
process's CPU a scan while timed over the do-nothing's).
Run: `PYTHONPATH=. .venv/bin/python bench/bench_ingest.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from scanner_agent.outbox import new_scan_id
from server.core import locations
from server.core.codes import make_item_code
from server.core.scans import ScanResult
from server.core.stock import rebuild
from server.db import create_schema, drop_schema, init_db
from server.ingest import IngestWorker, decode
from server.models import Item, LedgerEntry, Product, Scanner, Station
from tests.support.broker import start_mosquitto

REPO = Path(__file__).resolve().parents[1]

PREFIX = "koordinator"
# the settings docs/deploy.md recommends; the burst phase runs on Mosquitto's defaults
TUNED = "max_queued_messages 100000\nmax_inflight_messages 1000\nset_tcp_nodelay true"


def seed(url: str, items: int, scanners: int) -> list[str]:
    db = init_db(url)
    if not url.startswith("sqlite"):
        drop_schema(db)  # a PostgreSQL database given with --database-url starts empty
    create_schema(db)
    with db.connection_context(), db.atomic():
        station = Station.create(code="RECV", name="Receiving", default_action="receive")
        # its line side, as every station has (0009): each receive places the item there
        locations.line_side(station)
        product = Product.create(sku="STEEL", name="Steel", kind="raw", tracking="lot")
        for n in range(scanners):
            Scanner.create(id=f"sc-b{n}", station=station)
        codes = [make_item_code(100_000 + n) for n in range(items)]
        rows = [{"code": c, "product": product.id, "stage": "new", "qty": 5} for c in codes]
        for i in range(0, len(rows), 500):
            Item.insert_many(rows[i : i + 500]).execute()
        rebuild(db)
    db.close()
    return codes


_SCAN_ID = re.compile(rb'"scan_id":\s*"([^"]+)"')


def scan_payload(code: str) -> tuple[str, bytes]:
    """(scan_id, payload) of a new scan of `code`, as an agent publishes it."""
    scan_id = new_scan_id()  # the agent's time-ordered ids
    body = {"scan_id": scan_id, "code": code, "scanned_at": "2026-11-26T08:00:00Z"}
    return scan_id, json.dumps(body).encode()


class Publisher:
    """An agent in miniature: a pending table, QoS 1 publishes, resend of the unanswered."""

    def __init__(self, port: int, scanner_id: str, resend_after: float = 5.0) -> None:
        self._pending_table(scanner_id, resend_after)
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{scanner_id}-{uuid.uuid4().hex[:4]}"
        )
        self.client.max_inflight_messages_set(100)  # as the agent
        self.client.max_queued_messages_set(0)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"{PREFIX}/scanners/{scanner_id}/results", 1
        )
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        # as the agent does (scanner_agent/link.py): no Nagle delay on small publishes
        self.client.on_socket_open = lambda c, u, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _pending_table(self, scanner_id: str, resend_after: float) -> None:
        self.scanner_id = scanner_id
        self.resend_after = resend_after
        self.pending: dict[str, tuple[bytes, float]] = {}
        self.sent_at: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        self.resends = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)

    def _answered(self, scan_ids, now: float) -> None:
        """Results arrived: their scans leave the pending table."""
        with self.cond:
            pending, latency, sent_at = self.pending, self.latency, self.sent_at
            for scan_id in scan_ids:
                if pending.pop(scan_id, None) is not None:
                    latency[scan_id] = now - sent_at[scan_id]
            self.cond.notify_all()

    def _on_message(self, client, userdata, message) -> None:
        self._answered((json.loads(message.payload)["scan_id"],), time.perf_counter())

    def _publish(self, payloads: list[bytes]) -> None:
        topic = f"{PREFIX}/scanners/{self.scanner_id}/scans"
        for payload in payloads:
            self.client.publish(topic, payload, qos=1)

    def send(self, code: str) -> None:
        self.send_many([scan_payload(code)])

    def send_many(self, scans: list[tuple[str, bytes]]) -> None:
        """Publish (scan_id, payload) pairs, all pending from now."""
        now = time.perf_counter()
        with self.lock:
            for scan_id, payload in scans:
                self.pending[scan_id] = (payload, now)
                self.sent_at[scan_id] = now
        self._publish([payload for _sid, payload in scans])

    def resend_due(self) -> None:
        now = time.perf_counter()
        with self.lock:
            due = [(sid, p) for sid, (p, t) in self.pending.items() if now - t > self.resend_after]
            for sid, p in due:
                self.pending[sid] = (p, now)
        if due:
            self.resends += len(due)
            self._publish([payload for _sid, payload in due])

    def wait_window(self, window: int) -> int:
        """Wait until fewer than `window` scans are pending; how many more fit."""
        with self.cond:
            while len(self.pending) >= window:
                self.cond.wait(0.5)
                if len(self.pending) >= window:
                    self.lock.release()
                    try:
                        self.resend_due()
                    finally:
                        self.lock.acquire()
            return window - len(self.pending)

    def drain(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return True
            self.resend_due()
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class CPublisher(Publisher):
    """The same miniature agent with Mosquitto's C clients on the wire: `mosquitto_pub -l`
    publishes each line written to it (QoS 1, 100 in flight as the agent), `mosquitto_sub`
    prints each result. The scanners of a plant run on their own PCs; on this 2-core
    machine paho publishers in Python would spend more CPU than the ingest they measure
    (230 us a scan), the C clients a fraction of it. The Python side only keeps the pending
    table, as the agent's outbox does."""

    def __init__(self, port: int, scanner_id: str, resend_after: float = 5.0) -> None:
        self._pending_table(scanner_id, resend_after)
        tag = uuid.uuid4().hex[:4]
        common = ["-h", "127.0.0.1", "-p", str(port), "-q", "1", "-V", "mqttv311"]
        results = f"{PREFIX}/scanners/{scanner_id}/results"
        self.sub = subprocess.Popen(
            ["mosquitto_sub", *common, "-t", results, "-i", f"bench-sub-{scanner_id}-{tag}"],
            stdout=subprocess.PIPE,
        )
        self.probe = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        while not self.probe.is_set():  # the subscription is live once a probe comes back
            subprocess.run(
                ["mosquitto_pub", *common, "-t", results, "-m", '{"scan_id":"probe"}'],
                check=True,
            )
            self.probe.wait(0.2)
        self.pub = subprocess.Popen(
            [
                "mosquitto_pub", *common, "-M", "100", "-l",
                "-t", f"{PREFIX}/scanners/{scanner_id}/scans",
                "-i", f"bench-pub-{scanner_id}-{tag}",
            ],
            stdin=subprocess.PIPE,
        )  # fmt: skip
        # mosquitto_pub connects after it starts: lines written before sit in the pipe.
        # A first scan through the whole path (rejected: no such code) shows it is ready,
        # so no measured scan waits for a client's start-up.
        self.probe.clear()
        probe = {"scan_id": f"probe-{scanner_id}-{tag}", "code": "NO-SUCH-CODE"}
        self._publish([json.dumps(probe).encode()])
        if not self.probe.wait(30):
            raise RuntimeError(f"no answer to the probe scan of {scanner_id}")

    def _read(self) -> None:
        """Take what mosquitto_sub printed, a chunk at a time: one result per line."""
        fd, tail = self.sub.stdout.fileno(), b""
        while chunk := os.read(fd, 1 << 16):
            now = time.perf_counter()
            lines, _, tail = (tail + chunk).rpartition(b"\n")
            ids = [m.decode() for m in _SCAN_ID.findall(lines)]
            if any(i.startswith("probe") for i in ids):
                self.probe.set()
            self._answered(ids, now)

    def _publish(self, payloads: list[bytes]) -> None:
        self.pub.stdin.write(b"".join(p + b"\n" for p in payloads))
        self.pub.stdin.flush()

    def close(self) -> None:
        self.pub.stdin.close()
        self.pub.wait(10)
        self.sub.terminate()
        self.sub.wait(10)


class NullIngestWorker(IngestWorker):
    """The ingest without its work: every message is taken, batched, decoded, answered
    and acked by `IngestWorker`'s own loop and `IngestClient`, but a batch's "commit" only
    makes a fixed accepted result per scan (`apply_scans()` and the database are what is
    missing). The baseline the bench divides by."""

    def _commit(self, batch) -> None:
        for msg in batch:
            if msg.scan is None and msg.rejection is None:
                decode(msg, self.settings.prefix)
            scan = msg.scan
            if scan is not None:
                msg.result = ScanResult(
                    scan_id=scan.scan_id,
                    status="accepted",
                    item=scan.code,
                    stage="raw",
                    action="receive",
                )
            elif msg.rejection is not None and msg.rejection[2]:
                msg.result = ScanResult(
                    scan_id=msg.rejection[2], status="rejected", reason=msg.rejection[0]
                )


def serve_null_ingest(argv: list[str]) -> int:
    """`bench_ingest.py --null-ingest [--mqtt5] [--batch N] [--shared-group G]`: the
    do-nothing ingest as a process of its own, started and stopped like `server ingest`."""
    import logging
    import signal

    import peewee as pw

    from server.ingest import IngestSettings
    from server.runtime import tune_gc

    parser = argparse.ArgumentParser()
    parser.add_argument("--null-ingest", action="store_true")
    parser.add_argument("--mqtt5", action="store_true")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--shared-group")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = IngestSettings.from_env(
        os.environ["MQTT_URL"],
        batch_size=args.batch,
        shared_group=args.shared_group,
        mqtt5=True if args.mqtt5 else None,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    tune_gc()
    NullIngestWorker(pw.SqliteDatabase(":memory:"), settings).run(stop)  # never opened
    return 0


def start_ingest(
    url: str, broker, workdir: Path, *args: str, null: bool = False
) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        MQTT_URL=broker.url,
        INGEST_CLIENT_ID=f"bench-ingest-{uuid.uuid4().hex[:6]}",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
    )
    log = open(workdir / "ingest.log", "ab")
    # BENCH_INGEST_PREFIX="valgrind --tool=callgrind" counts the ingest's instructions:
    # repeatable where wall-clock figures on a shared 2-core machine vary by 20 %
    prefix = os.environ.get("BENCH_INGEST_PREFIX", "").split()
    program = [__file__, "--null-ingest"] if null else ["-m", "server", "ingest"]
    proc = subprocess.Popen(
        [*prefix, sys.executable, *program, *args],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + (300 if prefix else 30)
    while "ingest connected" not in (workdir / "ingest.log").read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"ingest did not start; see {workdir / 'ingest.log'}")
        time.sleep(0.05)
    (workdir / "ingest.log").unlink()  # one log per phase
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_exactly_once(url: str, codes: list[str]) -> tuple[int, int]:
    """(scan ledger rows for these codes, items not raw) - want (len(codes), 0)."""
    db = init_db(url)
    with db.connection_context():
        rows = 0
        not_raw = 0
        for i in range(0, len(codes), 900):
            part = codes[i : i + 900]
            rows += (
                LedgerEntry.select()
                .where((LedgerEntry.origin == "scan") & LedgerEntry.raw_code.in_(part))
                .count()
            )
            not_raw += Item.select().where(Item.code.in_(part) & (Item.stage != "raw")).count()
    db.close()
    return rows, not_raw


def phase_throughput(
    tmp: Path,
    n: int,
    publishers: int,
    window: int,
    workers: int = 1,
    url: str | None = None,
    null: bool = False,
) -> dict:
    name = "throughput-null" if null else "throughput"
    url = url or f"sqlite:///{tmp}/{name}.db"
    if null:  # no database: the codes only fill the payloads
        codes = [make_item_code(100_000 + k) for k in range(n)]
    else:
        codes = seed(url, n, publishers)
    broker = start_mosquitto(tmp / f"mq-{name}", conf_extra=TUNED)
    shared = ("--shared-group", "bench") if workers > 1 else ()
    ingests = [
        start_ingest(url, broker, tmp, "--mqtt5", "--batch", "500", *shared, null=null)
        for _ in range(workers)
    ]
    pubs = [CPublisher(broker.port, f"sc-b{k}") for k in range(publishers)]
    payloads = [scan_payload(code) for code in codes]  # the load, made before the clock
    try:
        start, bench_cpu = time.perf_counter(), sum(os.times()[:2])
        ingest_cpu = sum(cpu_seconds(i.pid) for i in ingests)  # start-up not counted

        def feed(pub: Publisher, mine: list[tuple[str, bytes]]) -> None:
            # a whole window's room in one write: mosquitto_pub reads its lines in bulk
            i = 0
            while i < len(mine):
                room = pub.wait_window(window)
                pub.send_many(mine[i : i + room])
                i += room

        threads = [
            threading.Thread(target=feed, args=(p, payloads[k::publishers]))
            for k, p in enumerate(pubs)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = all(p.drain(120) for p in pubs)
        elapsed = time.perf_counter() - start
        bench_cpu = sum(os.times()[:2]) - bench_cpu
        ingest_cpu = sum(cpu_seconds(i.pid) for i in ingests) - ingest_cpu
    finally:
        cpu = {
            "broker_cpu_s": round(cpu_seconds(broker.proc.pid), 1),
            "mqtt_clients_cpu_s": round(
                sum(cpu_seconds(p.pub.pid) + cpu_seconds(p.sub.pid) for p in pubs), 1
            ),
        }
        for p in pubs:
            p.close()
        for k, ingest in enumerate(ingests):
            cpu[f"ingest{k}_cpu_s"] = round(cpu_seconds(ingest.pid), 1)
            ingest.terminate()
            ingest.wait(120)
        broker.stop()
    rows, not_raw = (None, None) if null else check_exactly_once(url, codes)
    return {
        **cpu,
        "bench_process_cpu_s": round(bench_cpu, 1),  # while timed: the load generator
        "workers": workers,
        "scans": n,
        "seconds": round(elapsed, 2),
        "scans_per_s": round(n / elapsed),
        "ingest_cpu_us_per_scan": round(ingest_cpu / n * 1e6),
        "all_answered": ok,
        "ledger_rows": rows,
        "not_applied": not_raw,
        "resends": sum(p.resends for p in pubs),
    }


def phase_latency(tmp: Path, rate: int, seconds: int, null: bool = False) -> dict:
    n = rate * seconds
    name = "latency-null" if null else "latency"
    url = f"sqlite:///{tmp}/{name}.db"
    codes = [make_item_code(100_000 + k) for k in range(n)] if null else seed(url, n, 4)
    broker = start_mosquitto(tmp / f"mq-{name}", conf_extra=TUNED)
    ingest = start_ingest(url, broker, tmp, "--mqtt5", null=null)
    pubs = [CPublisher(broker.port, f"sc-b{k}") for k in range(4)]
    try:
        start = time.perf_counter()
        for i, code in enumerate(codes):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pubs[i % 4].send(code)
        ok = all(p.drain(60) for p in pubs)
    finally:
        for p in pubs:
            p.close()
        ingest.terminate()
        ingest.wait(10)
        broker.stop()
    lat = sorted(v * 1000 for p in pubs for v in p.latency.values())
    q = statistics.quantiles(lat, n=100)
    return {
        "offered_per_s": rate,
        "scans": n,
        "all_answered": ok,
        "p50_ms": round(q[49], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(lat[-1], 1),
    }


def phase_burst(tmp: Path, n: int) -> dict:
    url = f"sqlite:///{tmp}/burst.db"
    codes = seed(url, n, 1)
    broker = start_mosquitto(tmp / "mq-burst")  # Mosquitto defaults
    ingest = start_ingest(url, broker, tmp)  # the worker's defaults (MQTT 3.1.1)
    pub = Publisher(broker.port, "sc-b0", resend_after=5.0)
    try:
        start = time.perf_counter()
        for code in codes:
            pub.send(code)
        ok = pub.drain(300)
        elapsed = time.perf_counter() - start
    finally:
        pub.close()
        ingest.terminate()
        ingest.wait(10)
        broker.stop()
    rows, not_raw = check_exactly_once(url, codes)
    return {
        "scans": n,
        "seconds": round(elapsed, 2),
        "all_answered": ok,
        "resends": pub.resends,
        "ledger_rows": rows,
        "not_applied": not_raw,
    }


def with_baseline(project: dict, baselines: list[dict], key: str, ratio: str) -> dict:
    """The project's figures, its `key` as a ratio to the do-nothing ingest's (the mean of
    its runs just before and just after the project's, so a change of the machine's speed
    in between shows as a spread of the two), and the do-nothing's figures as
    `null_<name>: [before, after]`."""
    out = dict(project)
    out[ratio] = round(project[key] / statistics.mean(b[key] for b in baselines), 2)
    for name, value in baselines[0].items():
        if value is not None and name not in ("workers", "offered_per_s", "scans"):
            out[f"null_{name}"] = [b[name] for b in baselines]
    return out


def require_mosquitto_tools() -> None:
    """Exit with the package to install when Mosquitto or its C clients are missing."""
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} not found: apt-get install mosquitto mosquitto-clients")


def main() -> int:
    if "--null-ingest" in sys.argv[1:]:
        return serve_null_ingest(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--workers", type=int, default=1, help="ingest workers ($share)")
    parser.add_argument("--only", choices=("throughput", "latency", "burst"))
    parser.add_argument("--scans", type=int, help="throughput phase: this many scans")
    parser.add_argument(
        "--database-url", help="throughput phase on this database (its tables are dropped)"
    )
    args = parser.parse_args()
    require_mosquitto_tools()
    n = args.scans or (5_000 if args.quick else 30_000)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        if args.only in (None, "throughput"):
            load = {"n": n, "publishers": 4, "window": 500, "workers": args.workers}
            before = phase_throughput(tmp, **load, null=True)
            result = phase_throughput(tmp, **load, url=args.database_url)
            after = phase_throughput(tmp, **load, null=True)
            result = with_baseline(result, [before, after], "scans_per_s", "throughput_ratio")
            result = with_baseline(result, [before, after], "ingest_cpu_us_per_scan", "cpu_ratio")
            print("throughput:", result, flush=True)
        if args.only in (None, "latency"):
            seconds = 3 if args.quick else 10
            before = phase_latency(tmp, 1000, seconds, null=True)
            result = phase_latency(tmp, 1000, seconds)
            after = phase_latency(tmp, 1000, seconds, null=True)
            result = with_baseline(result, [before, after], "p99_ms", "p99_ratio")
            print("latency:   ", result, flush=True)
        if args.only in (None, "burst"):
            print("burst:     ", phase_burst(tmp, 2_000 if args.quick else 10_000), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
