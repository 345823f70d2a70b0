"""Fixtures for the agent suite: a real Mosquitto, a test peer playing the server,
a pseudo-terminal scanner and the agent as a real subprocess."""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_process import AgentProcess, write_config
from tests.support.broker import BrokerProcess, find_mosquitto, start_mosquitto
from tests.support.mqtt_peer import Responder
from tests.support.pty_scanner import PtyScanner

_counter = itertools.count(1)


def _require_mosquitto() -> None:
    if find_mosquitto() is None:
        pytest.skip("no mosquitto binary (set $MOSQUITTO)")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One Mosquitto for the session; tests that stop a broker use ``own_broker``."""
    _require_mosquitto()
    proc = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield proc
    proc.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    _require_mosquitto()
    proc = start_mosquitto(tmp_path / "mosquitto")
    yield proc
    proc.kill()


@pytest.fixture
def scanner_id() -> str:
    return f"t{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def responder(broker: BrokerProcess) -> Iterator[Responder]:
    peer = Responder(broker.host, broker.port).start()
    yield peer
    peer.stop()


@pytest.fixture
def pty_scanner(tmp_path: Path) -> Iterator[PtyScanner]:
    scanner = PtyScanner(tmp_path / "usb-Acme_Scanner_1234-if00-port0")
    yield scanner
    scanner.close()


AgentFactory = Callable[..., AgentProcess]


@pytest.fixture
def make_agent(tmp_path: Path, scanner_id: str) -> Iterator[AgentFactory]:
    """Build (not start) an agent subprocess; settings are merged over sane test defaults."""
    made: list[AgentProcess] = []

    def factory(broker: BrokerProcess, port: Path | None = None, **overrides: Any):
        settings: dict[str, Any] = {
            "scanner_id": scanner_id,
            "station": "ASM1",
            "log_level": "DEBUG",
            "mqtt": {"url": broker.url},
            "reader": {"kind": "serial", "port": str(port), "baud": 9600},
            "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "resend_after": 2.0},
            "feedback": {"good": "hex:06 47 4f 4f 44", "bad": "\\x15BAD", "color": "never"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict):
                settings.setdefault(key, {}).update(value)
            else:
                settings[key] = value
        workdir = tmp_path / f"agent{len(made)}"
        workdir.mkdir()
        config = write_config(workdir / "agent.toml", settings)
        agent = AgentProcess(config, workdir)
        made.append(agent)
        return agent

    yield factory
    for agent in made:
        agent.kill()


def outbox_rows(path: Path) -> list[tuple[str, str]]:
    """(scan_id, code) pending in an agent's outbox, read beside the running agent."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return list(db.execute("SELECT scan_id, code FROM outbox ORDER BY seq"))
    finally:
        db.close()
