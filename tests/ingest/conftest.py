"""Fixtures for the ingest suite: a real Mosquitto per test (the embedded broker where no
mosquitto binary exists), the ingest as a real `python -m server ingest` process, the
scanner agent as a real process reading a pseudo-terminal, and an MQTT peer that publishes
raw payloads and collects results."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.broker import EmbeddedBroker
from server.models import Item, LedgerEntry
from tests.support.agent_process import REPO_ROOT, AgentProcess, write_config
from tests.support.broker import find_mosquitto, free_port, start_mosquitto
from tests.support.pty_scanner import PtyScanner

#: KOORDINATOR_TEST_BROKER=embedded runs the suite against the embedded broker on purpose
HAVE_MOSQUITTO = (
    find_mosquitto() is not None and os.environ.get("KOORDINATOR_TEST_BROKER") != "embedded"
)


# amqtt 0.12 leaves the transport of a connection that closed before CONNECT unclosed;
# its ResourceWarning surfaces at garbage collection inside whatever test runs then.
AMQTT_LEAK = (
    r"ignore:Exception ignored in.*(Transport|socket|StreamWriter)"
    r":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        embedded_here = not HAVE_MOSQUITTO or "test_broker_setup" in item.nodeid
        if "tests/ingest/" in item.nodeid and embedded_here:
            item.add_marker(pytest.mark.filterwarnings(AMQTT_LEAK))


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class EmbeddedBrokerProcess:
    """The embedded broker behind the interface of tests.support.broker.BrokerProcess."""

    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port
        self.broker: EmbeddedBroker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.broker is not None

    def start(self, timeout: float = 5.0) -> None:
        if self.broker is None:
            self.broker = EmbeddedBroker(self.host, self.port).start(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self.broker is not None:
            self.broker.stop(timeout)
            self.broker = None
            gc.collect()  # amqtt's leaked transports warn now, inside this test

    kill = stop

    def restart(self, timeout: float = 5.0) -> None:
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        return ""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Any]:
    """A fresh broker per test: tests stop and restart it."""
    if HAVE_MOSQUITTO:
        proc = start_mosquitto(tmp_path / "mosquitto")
    else:
        proc = EmbeddedBrokerProcess(free_port())
        proc.start()
    yield proc
    proc.kill()


class IngestProcess:
    """`python -m server ingest` as a real process that tests kill -9 and restart."""

    def __init__(self, workdir: Path, env: dict[str, str], args: list[str]) -> None:
        self.workdir, self.env, self.args = workdir, env, args
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def log_path(self, run: int | None = None) -> Path:
        return self.workdir / f"ingest-{run or self.runs}.log"

    def start(self, wait: bool = True) -> IngestProcess:
        self.runs += 1
        with open(self.log_path(), "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "ingest", *self.args],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if wait:
            assert wait_for(lambda: "ingest connected" in self.log(), 20), self.log()[-3000:]
        return self

    def log(self) -> str:
        path = self.log_path()
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "".join(
            self.log_path(n).read_text(errors="replace")
            for n in range(1, self.runs + 1)
            if self.log_path(n).exists()
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def make_ingest(tmp_path: Path, db_url: str) -> Iterator[Callable[..., IngestProcess]]:
    made: list[IngestProcess] = []

    def factory(broker: Any, *args: str, client_id: str | None = None) -> IngestProcess:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=db_url,
            MQTT_URL=broker.url,
            INGEST_CLIENT_ID=client_id or f"ingest-{uuid.uuid4().hex[:8]}",
            KOORDINATOR_ENV="test",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        workdir = tmp_path / f"ingest{len(made)}"
        workdir.mkdir()
        proc = IngestProcess(workdir, env, list(args))
        made.append(proc)
        return proc

    yield factory
    for proc in made:
        proc.kill()


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """A real scanner agent reading a pseudo-terminal; built, not started."""
    made: list[AgentProcess] = []

    def factory(
        broker: Any, scanner_id: str, pty: PtyScanner, resend_after: float = 1.0
    ) -> AgentProcess:
        workdir = tmp_path / f"agent-{scanner_id}-{len(made)}"
        workdir.mkdir()
        settings = {
            "scanner_id": scanner_id,
            "log_level": "INFO",
            "mqtt": {"url": broker.url, "client_id": f"agent-{scanner_id}-{uuid.uuid4().hex[:6]}"},
            "reader": {"kind": "serial", "port": str(pty.link_path), "baud": 9600},
            "outbox": {"path": str(workdir / "outbox.sqlite3"), "resend_after": resend_after},
            "feedback": {"good": "\\x06GOOD", "bad": "\\x15BAD", "color": "never"},
        }
        agent = AgentProcess(write_config(workdir / "agent.toml", settings), workdir)
        agent.outbox_path = workdir / "outbox.sqlite3"  # type: ignore[attr-defined]
        made.append(agent)
        return agent

    yield factory
    for agent in made:
        agent.kill()


def agent_ready(agent: AgentProcess, timeout: float = 15.0) -> None:
    """Connected and holding the serial port open (pyserial flushes input on open)."""
    assert agent.wait_log("connected to", timeout), agent.stderr()[-2000:]
    assert agent.wait_log(" open (/dev/", timeout), agent.stderr()[-2000:]


def outbox_pending(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return list(db.execute("SELECT scan_id, code FROM outbox ORDER BY seq"))
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()


@pytest.fixture
def pty_factory(tmp_path: Path) -> Iterator[Callable[[str], PtyScanner]]:
    made: list[PtyScanner] = []

    def factory(name: str) -> PtyScanner:
        scanner = PtyScanner(tmp_path / f"usb-{name}-if00-port0")
        made.append(scanner)
        return scanner

    yield factory
    for scanner in made:
        scanner.close()


class Peer:
    """Publishes raw payloads like an agent (or an attacker) would and collects results."""

    def __init__(self, broker: Any, prefix: str = "koordinator") -> None:
        self.prefix = prefix
        self.results: dict[str, list[dict]] = {}
        self.unreadable: list[bytes] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"peer-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"{prefix}/scanners/+/results", 1
        )
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(1000)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = None
        with self._cond:
            if isinstance(body, dict) and "scan_id" in body:
                body["_scanner"] = message.topic.split("/")[-2]
                self.results.setdefault(body["scan_id"], []).append(body)
            else:
                self.unreadable.append(message.payload)
            self._cond.notify_all()

    def publish(self, scanner_id: str, payload: bytes | str | dict, wait: bool = True) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(f"{self.prefix}/scanners/{scanner_id}/scans", payload, qos=1)
        if wait:
            info.wait_for_publish(10)

    def wait_result(self, scan_id: str, timeout: float = 15.0) -> dict | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while scan_id not in self.results:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self.results[scan_id][0]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peer(broker) -> Iterator[Peer]:
    p = Peer(broker)
    yield p
    p.stop()


# --- database checks, read beside the running worker --------------------------------------


def scan_rows_by_code(codes: list[str]) -> dict[str, list[LedgerEntry]]:
    rows: dict[str, list[LedgerEntry]] = {c: [] for c in codes}
    query = LedgerEntry.select().where(
        (LedgerEntry.origin == "scan") & LedgerEntry.raw_code.in_(codes)
    )
    for row in query:
        rows[row.raw_code].append(row)
    return rows


def stages(codes: list[str]) -> dict[str, str]:
    return {i.code: i.stage for i in Item.select().where(Item.code.in_(codes))}


def assert_each_applied_once(codes: list[str], stage: str = "raw") -> None:
    rows = scan_rows_by_code(codes)
    counts = {code: len(r) for code, r in rows.items()}
    assert all(n == 1 for n in counts.values()), {c: n for c, n in counts.items() if n != 1}
    assert all(r[0].status == "accepted" for r in rows.values()), [
        (r[0].raw_code, r[0].reason) for r in rows.values() if r[0].status != "accepted"
    ]
    assert set(stages(codes).values()) == {stage}
