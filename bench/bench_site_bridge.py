"""A site's scanner through its bridged broker: scan to answer, against a scanner on the
central broker itself in the same run (the ceiling), as a ratio.

    PYTHONPATH=. .venv/bin/python bench/bench_site_bridge.py [--scans 30] [--rounds 2]

Two Mosquitto processes as `mqtt-credentials --site` sets them up (the central broker on
the generated password file and ACL, the site broker on nothing but its generated
`<SITE>.conf`), one `python -m server ingest` on the central broker, SQLite. Two paho
clients stand for the agents: `sc-sby-recv` logs in to the site broker, so its scans
cross the bridge and its answers come back over it; `sc-recv` logs in to the central
broker, the same path without the bridge (the ceiling). Each publishes a scan (QoS 1)
and waits for its answer on its results topic before the next, in rounds that alternate
between the two so both see the same machine; the first 5 of each round are warm-up.
Scans 100 ms apart (a worker's pace) and back to back (a burst).

The figures are the median and p95 of scan-to-answer, and `bridged / direct` of the
medians. The behaviour (every answer arrives, once, in order) is the suite's:
tests/ingest/test_site_bridge.py. docs/benchmarks.md "A site's scanner through its
bridged broker".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server import mqtt_credentials as mc  # noqa: E402
from server.core import locations  # noqa: E402
from server.core.codes import make_item_code  # noqa: E402
from server.core.stock import rebuild  # noqa: E402
from server.db import create_schema, init_db  # noqa: E402
from server.models import Item, Location, Product, Scanner, Station  # noqa: E402
from tests.support.broker import BrokerProcess, _current_user, find_mosquitto, free_port  # noqa: E402

SITE = "SURABAYA"
SITE_SCANNER = "sc-sby-recv"
CENTRAL_SCANNER = "sc-recv"
PREFIX = "koordinator"


def seed(url: str, items: int) -> list[str]:
    """A receiving station at the main site with its scanner, one at the site SURABAYA
    with the site's scanner, and `items` new steel lots to receive."""
    db = init_db(url)
    create_schema(db)
    with db.connection_context(), db.atomic():
        recv = Station.create(code="RECV", name="Receiving", default_action="receive")
        locations.line_side(recv)
        site = locations.create_site(SITE, "Surabaya plant")
        dock = Location.create(site_id=site.id, kind="line", code="SBY-DOCK", name="dock")
        Station.create(
            code="SBY-RECV",
            name="Surabaya receiving",
            default_action="receive",
            location_id=dock.id,
        )
        Scanner.create(id=CENTRAL_SCANNER, station=recv)
        Scanner.create(id=SITE_SCANNER, station=Station.get(Station.code == "SBY-RECV"))
        product = Product.create(sku="STEEL", name="Steel", kind="raw", tracking="lot")
        codes = [make_item_code(200_000 + n) for n in range(items)]
        rows = [{"code": c, "product": product.id, "stage": "new", "qty": 1} for c in codes]
        for i in range(0, len(rows), 500):
            Item.insert_many(rows[i : i + 500]).execute()
        rebuild(db)
    db.close()
    return codes


class SiteBroker(BrokerProcess):
    """Mosquitto on the generated site config, plus who runs it and logging."""

    def __init__(self, workdir: Path, port: int, generated: Path) -> None:
        self.generated = generated
        super().__init__(find_mosquitto(), workdir, port)

    def _write_conf(self) -> None:
        extra = [f"user {_current_user()}", "log_dest stderr", "log_type error"]
        self.conf_path.write_text(self.generated.read_text() + "\n".join(extra) + "\n")


class Scanner_:
    """An agent in miniature: one scan at a time, QoS 1, and the wait for its answer, on a
    connection with TCP_NODELAY as the agent's."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.user = user
        self.answers: dict[str, float] = {}
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user)
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, *a: c.subscribe(
            f"{PREFIX}/scanners/{user}/results", qos=1
        )
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        # as the agent (scanner_agent/link.py): Nagle would hold a scan back up to 40 ms
        self.client.on_socket_open = lambda c, u, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"{user} could not subscribe to its results")

    def _on_message(self, client, userdata, message) -> None:
        got = time.perf_counter()
        scan_id = json.loads(message.payload).get("scan_id")
        with self.cond:
            self.answers[scan_id] = got
            self.cond.notify_all()

    def round_trip(self, code: str, timeout: float = 15.0) -> float:
        scan_id = f"bench-{uuid.uuid4().hex}"
        body = {"scan_id": scan_id, "code": code, "scanned_at": "2026-11-30T08:00:00Z"}
        start = time.perf_counter()
        self.client.publish(f"{PREFIX}/scanners/{self.user}/scans", json.dumps(body), qos=1)
        with self.cond:
            if not self.cond.wait_for(lambda: scan_id in self.answers, timeout):
                raise RuntimeError(f"{self.user}: no answer to {code} within {timeout} s")
            return self.answers.pop(scan_id) - start

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def credentials(tmp: Path, url: str, central_port: int, site_port: int) -> dict[str, str]:
    site_dir = tmp / "site"
    (site_dir / "data").mkdir(parents=True)
    done = subprocess.run(
        [
            sys.executable, "-m", "server", "mqtt-credentials",
            "--passwd", str(tmp / "central.passwd"), "--acl", str(tmp / "central.acl"),
            "--site", SITE, "--central", f"127.0.0.1:{central_port}",
            "--site-dir", str(site_dir), "--site-listener", f"{site_port} 127.0.0.1",
            "--site-persistence", f"{site_dir / 'data'}/",
        ],
        cwd=REPO, env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    shown = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) == 2:
            shown[parts[0]] = parts[1]
    return shown


def summary(times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(statistics.quantiles(ms, n=20)[18], 1),
        "n": len(ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=30, help="scans per scanner and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if find_mosquitto() is None:
        sys.exit("mosquitto not found: apt-get install mosquitto")
    tmp = Path(tempfile.mkdtemp(prefix="bench-site-bridge-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    gaps = (0.1, 0.0)
    codes = iter(seed(url, 2 * len(gaps) * args.rounds * args.scans))
    central_port, site_port = free_port(), free_port()
    shown = credentials(tmp, url, central_port, site_port)
    (tmp / "central").mkdir()
    (tmp / "central-data").mkdir()
    conf = mc.broker_config(str(tmp / "central.passwd"), str(tmp / "central.acl"))
    central = BrokerProcess(
        find_mosquitto(),
        tmp / "central",
        central_port,
        conf_extra=conf + "persistence true\nset_tcp_nodelay true\n"
        f"persistence_location {tmp / 'central-data'}/\n",
    )
    (tmp / "site" / "run").mkdir()
    site = SiteBroker(tmp / "site" / "run", site_port, tmp / "site" / f"{SITE}.conf")
    ingest = None
    scanners: list[Scanner_] = []
    try:
        central.start()
        site.start()
        env = dict(
            os.environ,
            DATABASE_URL=url,
            MQTT_URL=f"mqtt://koordinator-server@127.0.0.1:{central_port}",
            MQTT_PASSWORD=shown["koordinator-server"],
            PYTHONPATH=str(REPO),
        )
        log = open(tmp / "ingest.log", "ab")  # noqa: SIM115 - the process's, closed below
        ingest = subprocess.Popen(
            [sys.executable, "-m", "server", "ingest"], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while "ingest connected" not in (tmp / "ingest.log").read_text(errors="replace"):
            if time.monotonic() > deadline or ingest.poll() is not None:
                raise RuntimeError(f"ingest did not start; see {tmp / 'ingest.log'}")
            time.sleep(0.05)
        bridged = Scanner_(site_port, SITE_SCANNER, shown[SITE_SCANNER])
        direct = Scanner_(central_port, CENTRAL_SCANNER, shown[CENTRAL_SCANNER])
        scanners = [bridged, direct]
        results = []
        for gap in gaps:
            times: dict[str, list[float]] = {"bridged": [], "direct": []}
            for _round in range(args.rounds):  # interleaved: both see the same machine
                for name, scanner in (("bridged", bridged), ("direct", direct)):
                    for n in range(args.scans):
                        time.sleep(gap)
                        took = scanner.round_trip(next(codes))
                        if n >= 5:  # warm
                            times[name].append(took)
            row = {"gap_ms": int(gap * 1000)}
            row.update({name: summary(t) for name, t in times.items()})
            row["bridged_over_direct"] = round(
                row["bridged"]["median_ms"] / row["direct"]["median_ms"], 2
            )
            results.append(row)
        print(
            json.dumps(
                {
                    "machine": platform.node(),
                    "cpus": os.cpu_count(),
                    "load_1m": round(os.getloadavg()[0], 2),
                    "scans_per_scanner_and_round": args.scans,
                    "rounds": args.rounds,
                    "results": results,
                },
                indent=2,
            )
        )
    finally:
        for scanner in scanners:
            scanner.close()
        if ingest is not None:
            ingest.terminate()
            ingest.wait(10)
        site.kill()
        central.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
