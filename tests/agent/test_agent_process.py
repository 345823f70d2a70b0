"""The agent as a real process: pseudo-terminal scanner, real Mosquitto, a test peer
answering in the server's place."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from scanner_agent.config import load
from scanner_agent.link import Link
from tests.agent.conftest import outbox_rows
from tests.support.agent_process import REPO_ROOT
from tests.support.broker import BrokerProcess
from tests.support.mqtt_peer import Responder
from tests.support.pty_scanner import PtyScanner

GOOD, BAD = b"\x06GOOD", b"\x15BAD"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def ready(agent, responder: Responder, scanner_id: str) -> None:
    """Wait for the agent to be online and to hold the serial port open.

    pyserial flushes pending input when it opens a port, so a test that wrote before the
    open would lose its scan (a real scanner sends nothing while nobody listens)."""
    assert responder.wait_status(scanner_id, "online"), agent.stderr()[-2000:]
    assert agent.wait_log(" open (/dev/", 5), agent.stderr()[-2000:]


def test_scan_result_feedback_and_empty_outbox(
    broker, responder: Responder, pty_scanner: PtyScanner, make_agent, scanner_id, tmp_path
) -> None:
    agent = make_agent(broker, pty_scanner.link_path).start()
    ready(agent, responder, scanner_id)
    status = responder.statuses[scanner_id]
    assert status["scanner_id"] == scanner_id and status["station"] == "ASM1"

    pty_scanner.scan("IT-0001")
    assert GOOD in pty_scanner.read_until(GOOD, 5)
    pty_scanner.scan("BAD-LABEL")
    assert BAD in pty_scanner.read_until(BAD, 5)

    first = responder.scans(scanner_id)[0]
    assert set(first) == {"scan_id", "code", "scanned_at", "source", "station"}
    assert (first["code"], first["source"], first["station"]) == ("IT-0001", "barcode", "ASM1")
    assert wait_for(lambda: outbox_rows(tmp_path / "outbox.sqlite3") == [])
    assert wait_for(lambda: "REJECTED  BAD-LABEL  [unknown_code]" in agent.stdout())
    assert "ACCEPTED  IT-0001" in agent.stdout()

    assert agent.stop() == 0
    assert responder.wait_status(scanner_id, "offline", 5)


def test_broker_down_scans_kept_then_all_delivered_once(
    own_broker: BrokerProcess, pty_scanner: PtyScanner, make_agent, scanner_id, tmp_path
) -> None:
    responder = Responder(own_broker.host, own_broker.port).start()
    try:
        agent = make_agent(own_broker, pty_scanner.link_path).start()
        ready(agent, responder, scanner_id)
        made = []
        for i in range(5):
            made.append(f"PRE-{i}")
            pty_scanner.scan(made[-1])
        assert responder.wait_codes(scanner_id, 5)
        outbox = tmp_path / "outbox.sqlite3"
        assert wait_for(lambda: outbox_rows(outbox) == [])

        own_broker.stop()
        for i in range(20):
            made.append(f"DOWN-{i}")
            pty_scanner.scan(made[-1])
        assert wait_for(lambda: len(outbox_rows(outbox)) == 20), agent.stderr()[-2000:]
        assert agent.alive()

        restarted = time.monotonic()
        own_broker.start()
        for i in range(5):
            made.append(f"POST-{i}")
            pty_scanner.scan(made[-1])
        assert wait_for(lambda: outbox_rows(outbox) == [], 20), agent.stderr()[-3000:]
        assert time.monotonic() - restarted < 15
        assert sorted(responder.unique_codes(scanner_id)) == sorted(made)
        by_id: dict[str, str] = {}
        for body in responder.scans(scanner_id):
            assert by_id.setdefault(body["scan_id"], body["code"]) == body["code"]
        assert len(by_id) == len(made)  # no scan published under two ids
        assert agent.stop() == 0
    finally:
        responder.stop()


def test_agent_killed_with_pending_scans_sends_them_after_restart(
    broker, responder: Responder, pty_scanner: PtyScanner, make_agent, scanner_id, tmp_path
) -> None:
    agent = make_agent(broker, pty_scanner.link_path).start()
    ready(agent, responder, scanner_id)
    responder.paused = True  # the "server" takes scans but answers nothing
    codes = [f"K-{i}" for i in range(10)]
    for code in codes:
        pty_scanner.scan(code)
    outbox = tmp_path / "outbox.sqlite3"
    assert wait_for(lambda: len(outbox_rows(outbox)) == 10)
    pending_ids = [sid for sid, _ in outbox_rows(outbox)]

    agent.kill()
    assert responder.wait_status(scanner_id, "offline", 5)  # the last will
    assert [sid for sid, _ in outbox_rows(outbox)] == pending_ids

    responder.paused = False
    agent.start()
    assert wait_for(lambda: outbox_rows(outbox) == [], 15), agent.stderr()[-2000:]
    assert sorted(responder.unique_codes(scanner_id)) == sorted(codes)
    assert set(responder.results) >= set(pending_ids)  # same scan_ids, not new ones
    assert "10 scans from an earlier run are waiting" in agent.stderr()
    assert agent.stop() == 0


def test_unplug_and_replug_reads_again(
    broker, responder: Responder, pty_scanner: PtyScanner, make_agent, scanner_id
) -> None:
    agent = make_agent(broker, pty_scanner.link_path).start()
    ready(agent, responder, scanner_id)
    pty_scanner.scan("BEFORE-UNPLUG")
    assert GOOD in pty_scanner.read_until(GOOD, 5)
    pty_scanner.unplug()
    assert agent.wait_log("lost", 5)
    time.sleep(0.5)
    pty_scanner.plug()
    # pyserial flushes the input on open, as a replugged scanner has sent nothing yet
    assert wait_for(lambda: agent.stderr().count(" open (/dev/") == 2, 5)
    pty_scanner.scan("AFTER-REPLUG")
    assert GOOD in pty_scanner.read_until(GOOD, 5), agent.stderr()[-2000:]
    assert responder.unique_codes(scanner_id) == ["BEFORE-UNPLUG", "AFTER-REPLUG"]
    assert agent.alive()


def test_rfid_repeats_count_once_per_window(
    broker, responder: Responder, pty_scanner: PtyScanner, make_agent, scanner_id
) -> None:
    agent = make_agent(
        broker, pty_scanner.link_path, reader={"kind": "rfid", "rfid_window": 1.0}
    ).start()
    ready(agent, responder, scanner_id)
    tag = "3034257bf7194e4000001a85"
    for _ in range(5):
        pty_scanner.scan(tag)
        time.sleep(0.05)
    pty_scanner.scan("3034257BF7194E4000001A86")
    assert responder.wait_codes(scanner_id, 2)
    time.sleep(1.2)
    pty_scanner.scan(tag)
    assert responder.wait_until(lambda: len(responder.scans(scanner_id)) >= 3, 5)
    time.sleep(0.3)
    scans = responder.scans(scanner_id)
    assert [s["code"] for s in scans] == [tag.upper(), "3034257BF7194E4000001A86", tag.upper()]
    assert {s["source"] for s in scans} == {"rfid"}
    assert agent.alive()


def test_garbage_on_the_line_does_not_stop_the_agent(
    broker, responder: Responder, pty_scanner: PtyScanner, make_agent, scanner_id
) -> None:
    agent = make_agent(broker, pty_scanner.link_path, reader={"max_line": 64}).start()
    ready(agent, responder, scanner_id)
    junk = bytes(range(256)) * 4 + b"\r\r\r\x00\x00\r" + b"\xc3\x28\xa0\xa1\r" + b"Z" * 5000
    pty_scanner.send(junk + b"\r")
    pty_scanner.scan("]C1010950123456789310LOT1\x1d21SER9")
    assert responder.wait_until(
        lambda: any(s["code"].startswith("]C1") for s in responder.scans(scanner_id)), 10
    ), agent.stderr()[-2000:]
    gs1 = [s for s in responder.scans(scanner_id) if s["code"].startswith("]C1")][0]
    assert gs1["code"] == "]C1010950123456789310LOT1\x1d21SER9"
    assert all(len(s["code"]) <= 64 for s in responder.scans(scanner_id))
    assert "discarding a line longer than 64 bytes" in agent.stderr()
    assert agent.alive()
    assert "Traceback" not in agent.stderr()


def test_password_is_redacted_in_logs(
    broker, pty_scanner: PtyScanner, make_agent, scanner_id
) -> None:
    secret = "Pl4nt-S3cret"
    url = f"mqtt://scanner-{scanner_id}:{secret}@{broker.host}:{broker.port}"
    agent = make_agent(broker, pty_scanner.link_path, mqtt={"url": url}).start()
    assert agent.wait_log("connected to", 10)
    agent.stop()
    log = agent.stderr() + agent.stdout()
    assert f"scanner-{scanner_id}:***@" in log
    assert secret not in log


def test_stdin_reader_sends_everything_then_exits(broker, responder: Responder, tmp_path) -> None:
    codes = [f"S-{i}" for i in range(50)]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner_agent",
            "--scanner-id",
            "stdin-1",
            "--reader",
            "stdin",
            "--mqtt-url",
            broker.url,
            "--outbox",
            str(tmp_path / "o.db"),
            "--log-level",
            "warning",
        ],
        input="\n".join(codes).encode() + b"\n",
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert sorted(responder.unique_codes("stdin-1")) == sorted(codes)
    assert proc.stdout.decode().count("ACCEPTED") == 50


def test_status_is_retained_and_link_uses_nodelay(broker, scanner_id, tmp_path) -> None:
    cfg = load(
        [
            f"--scanner-id={scanner_id}",
            "--reader=stdin",
            f"--mqtt-url={broker.url}",
            f"--outbox={tmp_path / 'o.db'}",
        ],
        environ={},
    )
    link = Link(cfg)
    link.start()
    try:
        assert link.wait_connected(5)
        assert link.client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        link.stop()
    got: list[dict] = []
    late = mqtt.Client(CallbackAPIVersion.VERSION2)
    late.on_message = lambda c, u, m: got.append({"retain": m.retain, **json.loads(m.payload)})
    late.connect(broker.host, broker.port)
    late.subscribe(cfg.topic("status"), qos=1)
    late.loop_start()
    try:
        assert wait_for(lambda: got, 5)
    finally:
        late.disconnect()
        late.loop_stop()
    assert got[0]["state"] == "offline" and got[0]["retain"]
