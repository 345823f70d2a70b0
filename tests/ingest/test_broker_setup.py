"""The broker side of the zero-setup run and of production: the embedded broker, and the
Mosquitto password file and ACL written by `python -m server mqtt-credentials`."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
import threading
import time
import types
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server import mqtt_credentials as mc
from server.broker import EmbeddedBroker, ensure_local_broker
from server.config import ConfigError
from server.config import from_env as config_from_env
from server.core import andon
from server.dispatch import Dispatcher, DispatchSettings, add_sink, shared_user_warning
from server.ingest import IngestSettings, IngestWorker
from server.models import DeliveryAttempt, Event, Scanner
from server.mqtt_session import MqttSession, MqttSessionError
from tests.ingest.conftest import (
    HAVE_MOSQUITTO,
    agent_ready,
    assert_each_applied_once,
    wait_for,
)
from tests.support.agent_process import REPO_ROOT
from tests.support.broker import free_port, start_mosquitto
from tests.support.dispatch_process import dispatch_process


class Client:
    def __init__(
        self,
        port: int,
        user: str | None = None,
        password: str | None = None,
        *,
        clean: bool = True,
        client_id: str | None = None,
    ) -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.refused: str | None = None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"c-{uuid.uuid4().hex[:8]}",
            clean_session=clean,
        )
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload, m.retain))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connected.set()

    def subscribe(self, topic: str) -> None:
        self.subscribed.clear()
        self.c.subscribe(topic, 1)
        assert self.subscribed.wait(5)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


# --- the embedded broker ------------------------------------------------------------------


@pytest.fixture
def embedded():
    broker = EmbeddedBroker("127.0.0.1", free_port()).start()
    yield broker
    broker.stop()
    gc.collect()  # amqtt's leaked transports warn now, inside this test (see conftest)


def test_embedded_broker_keeps_qos1_for_an_offline_persistent_session_and_retains(embedded):
    worker = Client(embedded.port, client_id="worker-1", clean=False)
    assert worker.connected.wait(5) and worker.refused is None
    worker.subscribe("k/+/scans")
    worker.close()
    agent = Client(embedded.port)
    assert agent.connected.wait(5)
    agent.publish("k/sc/status", b'{"state":"online"}', retain=True)
    for n in range(5):
        agent.publish("k/sc/scans", str(n).encode())
    agent.close()
    worker = Client(embedded.port, client_id="worker-1", clean=False)
    assert wait_for(lambda: len(worker.got) == 5, 10), worker.got
    assert [p for _t, p, _r in worker.got] == [b"0", b"1", b"2", b"3", b"4"]
    worker.subscribe("k/+/status")
    assert wait_for(lambda: any(t == "k/sc/status" for t, _p, _r in worker.got), 5)
    worker.close()


def test_embedded_broker_sends_a_client_the_retained_messages_of_its_own_filters(embedded):
    """amqtt 0.12 sent every client that connected the retained messages of every filter
    any client held: a light subscribed to its own station got every station's colour
    (the andon test failed on the embedded broker, not on Mosquitto). As Mosquitto: a
    client gets those matching its own subscriptions, once; a persistent session that
    comes back, those of its own filters only."""
    page = Client(embedded.port, client_id="floor-page")
    assert page.connected.wait(5)
    page.subscribe("k/stations/#")
    other = Client(embedded.port, client_id="other", clean=False)
    assert other.connected.wait(5)
    other.subscribe("k/stations/LINE/andon")
    other.close()
    station = Client(embedded.port)
    assert station.connected.wait(5)
    for code in ("A1", "RECV", "LINE"):
        station.publish(f"k/stations/{code}/andon", b"green", retain=True)
        station.publish(f"k/stations/{code}/andon/detail", code.encode(), retain=True)
    station.publish("k/stations/RECV/andon", b"red", retain=True)
    assert wait_for(lambda: len(page.got) == 7, 5), page.got
    light = Client(embedded.port, client_id="light-recv")
    assert light.connected.wait(5)
    light.subscribe("k/stations/RECV/andon")
    time.sleep(0.5)  # anything more would have come by now
    assert light.got == [("k/stations/RECV/andon", b"red", True)]
    back = Client(embedded.port, client_id="other", clean=False)
    assert back.connected.wait(5)
    time.sleep(0.5)
    assert {t for t, _p, _r in back.got} == {"k/stations/LINE/andon"}, back.got
    for c in (page, station, light, back):
        c.close()


def test_ensure_local_broker_uses_one_that_already_answers(embedded, capsys):
    assert ensure_local_broker("127.0.0.1", embedded.port) is None
    assert "already answering" in capsys.readouterr().out
    port = free_port()
    started = ensure_local_broker("127.0.0.1", port)
    try:
        assert started is not None and started.port == port
        assert "Embedded MQTT broker" in capsys.readouterr().out
    finally:
        started.stop()
        gc.collect()


# --- Mosquitto credentials and ACL ---------------------------------------------------------


def test_mosquitto_hash_format_matches_mosquitto_passwd(tmp_path):
    hashed = mc.hash_password("s3cret", iterations=101, salt=b"0123456789ab")
    assert hashed.startswith("$7$101$") and mc.check_password("s3cret", hashed)
    assert not mc.check_password("other", hashed)
    tool = "/usr/bin/mosquitto_passwd"
    if os.access(tool, os.X_OK):
        path = tmp_path / "pw"
        path.write_text("")
        subprocess.run([tool, "-b", str(path), "u", "s3cret"], check=True)
        theirs = path.read_text().strip().split(":", 1)[1]
        assert mc.check_password("s3cret", theirs)


def _credentials(tmp_path, db_url, *extra):
    env = dict(os.environ, DATABASE_URL=db_url, KOORDINATOR_ENV="test")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "mqtt-credentials",
            "--passwd",
            str(tmp_path / "passwd"),
            "--acl",
            str(tmp_path / "acl"),
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shown = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) == 2:
            shown[parts[0]] = parts[1]
    return shown


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
def test_scanners_may_use_only_their_own_topics(plant, db_url, tmp_path):
    shown = _credentials(tmp_path, db_url)
    assert {"koordinator-server", "koordinator-dispatch", "sc-recv", "sc-line"} <= set(shown)
    stored = Scanner.get_by_id("sc-recv").secret_hash
    assert stored.startswith("$7$") and shown["sc-recv"] not in stored
    assert mc.check_password(shown["sc-recv"], stored)
    # run again: nothing new to show, the password file is the same
    before = (tmp_path / "passwd").read_text()
    assert _credentials(tmp_path, db_url) == {}
    assert (tmp_path / "passwd").read_text() == before
    assert oct((tmp_path / "passwd").stat().st_mode & 0o777) == "0o600"

    broker = start_mosquitto(
        tmp_path / "mosq",
        conf_extra=f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}\n"
        f"acl_file {tmp_path / 'acl'}\n",
    )
    clients = []
    try:

        def connect(user, password):
            c = Client(broker.port, user, password)
            clients.append(c)
            assert c.connected.wait(5)
            return c

        assert connect("sc-recv", "wrong").refused is not None
        assert connect(None, None).refused is not None  # anonymous
        server = connect("koordinator-server", shown["koordinator-server"])
        assert server.refused is None
        server.subscribe("koordinator/scanners/+/scans")
        recv = connect("sc-recv", shown["sc-recv"])
        line = connect("sc-line", shown["sc-line"])
        assert recv.refused is None and line.refused is None
        recv.subscribe("koordinator/scanners/sc-recv/results")
        recv.subscribe("koordinator/scanners/sc-line/results")  # not allowed to read
        recv.publish("koordinator/scanners/sc-line/scans", b"forged")
        recv.publish("koordinator/scanners/sc-recv/scans", b"mine")
        assert wait_for(lambda: server.got, 5)
        time.sleep(0.3)
        assert [(t, p) for t, p, _r in server.got] == [
            ("koordinator/scanners/sc-recv/scans", b"mine")
        ]
        server.publish("koordinator/scanners/sc-line/results", b"for line")
        server.publish("koordinator/scanners/sc-recv/results", b"for recv")
        assert wait_for(lambda: recv.got, 5)
        time.sleep(0.3)
        assert [p for _t, p, _r in recv.got] == [b"for recv"]
        # a scanner cannot write results, not even its own
        line.subscribe("koordinator/scanners/sc-line/results")
        recv.publish("koordinator/scanners/sc-line/results", b"fake result")
        time.sleep(0.3)
        assert [p for _t, p, _r in line.got] == [b"for line"] or line.got == []
        # the dispatcher's sinks (MQTT 5: a refusal comes back as 0x87) may publish the
        # events and the andon lights, retained, as the dispatcher's user; neither a
        # scanner nor an ingest worker's user may
        assert "koordinator-dispatch" in shown
        sink = MqttSession.from_url(
            f"mqtt://koordinator-dispatch:{shown['koordinator-dispatch']}@127.0.0.1:{broker.port}",
            mqtt5=True,
            name="sink",
        ).start()
        forgers = [
            MqttSession.from_url(
                f"mqtt://{user}:{shown[user]}@127.0.0.1:{broker.port}", mqtt5=True, name="x"
            ).start()
            for user in ("sc-line", "koordinator-server")
        ]
        try:
            for topic in (
                "koordinator/events/scan.accepted",
                "koordinator/events/flags/late/order/WO-1",
                "koordinator/stations/A1/andon",
                "koordinator/stations/A1/andon/detail",
            ):
                sink.publish_wait(topic, b"{}", timeout=5, retain=True)
            for forger in forgers:
                with pytest.raises(MqttSessionError, match="Not authorized"):
                    forger.publish_wait("koordinator/events/scan.accepted", b"{}", timeout=5)
            with pytest.raises(MqttSessionError, match="Not authorized"):
                sink.publish_wait("koordinator/scanners/sc-recv/results", b"{}", timeout=5)
        finally:
            sink.close()
            for forger in forgers:
                forger.close()
    finally:
        for c in clients:
            c.close()
        broker.kill()


def _run_credentials(tmp_path, db_url, *extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=db_url, KOORDINATOR_ENV="test")
    files = ("--passwd", str(tmp_path / "passwd"), "--acl", str(tmp_path / "acl"))
    return subprocess.run(
        [sys.executable, "-m", "server", "mqtt-credentials", *files, *extra],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_roles_read_back_from_an_acl_of_an_earlier_version(tmp_path):
    """Before the dispatcher had a user of its own, the ingest users' entries also wrote
    the events: such a user is still a server user, not a dispatcher's; the prefix of the
    earlier run does not matter."""
    acl = tmp_path / "acl"
    acl.write_text(
        "user koordinator-server\ntopic read plant1/scanners/+/scans\n"
        "topic write plant1/scanners/+/results\ntopic write plant1/events/#\n"
        "topic write plant1/stations/+/andon/#\n\n"
        "user koordinator-dispatch\ntopic write plant1/events/#\n\n"
        "user sc-1\ntopic write plant1/scanners/sc-1/scans\n\n"
        "user site.SBY\ntopic write plant1/scanners/sc-1/scans\n"
    )
    assert mc.read_acl_roles(str(acl)) == {
        "koordinator-server": "server",
        "koordinator-dispatch": "dispatch",
        "sc-1": "scanner",
        "site.SBY": "other",
    }
    assert mc.read_acl_roles(str(tmp_path / "none")) == {}


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
def test_a_run_naming_some_server_users_keeps_the_others(plant, db_url, tmp_path):
    """docs/deploy.md's `--site` run named only the ingest workers' users: it dropped
    `koordinator-server` (the ingest of `serve`) from the password file and the ACL. The
    users of an earlier run now stay with their rights unless `--remove-user` names them;
    a user of the password file that is none of ours is refused, nothing written. Checked
    on a Mosquitto with the generated files."""
    shown = _credentials(
        tmp_path,
        db_url,
        *("--server-user", "koordinator-server", "--server-user", "ingest-1"),
        *("--dispatch-user", "koordinator-dispatch"),
    )
    assert {"koordinator-server", "ingest-1", "koordinator-dispatch"} <= set(shown)
    hashes = mc.read_password_file(str(tmp_path / "passwd"))
    # as the --site example did: only the ingest workers named
    run = _run_credentials(tmp_path, db_url, "--server-user", "ingest-1")
    assert run.returncode == 0, run.stderr
    assert "kept from" in run.stdout and "server user koordinator-server" in run.stdout
    assert "dispatch user koordinator-dispatch" in run.stdout
    assert mc.read_password_file(str(tmp_path / "passwd")) == hashes  # same users, same hashes
    roles = mc.read_acl_roles(str(tmp_path / "acl"))
    assert roles["koordinator-server"] == roles["ingest-1"] == "server"
    assert roles["koordinator-dispatch"] == "dispatch" and roles["sc-recv"] == "scanner"

    conf = mc.broker_config(str(tmp_path / "passwd"), str(tmp_path / "acl"))
    broker = start_mosquitto(tmp_path / "mosq", conf_extra=conf)
    clients = []

    def connect(user):
        c = Client(broker.port, user, shown[user])
        clients.append(c)
        assert c.connected.wait(5)
        return c

    try:
        server = connect("koordinator-server")
        assert server.refused is None, broker.log_text()[-2000:]
        server.subscribe("koordinator/scanners/+/scans")
        recv = connect("sc-recv")
        recv.publish("koordinator/scanners/sc-recv/scans", b"still read")
        assert wait_for(lambda: server.got, 5), broker.log_text()[-2000:]
        assert server.got[0][:2] == ("koordinator/scanners/sc-recv/scans", b"still read")
        server.close()
        clients.remove(server)

        # a user added by hand is refused, not dropped without a word; nothing written
        with open(tmp_path / "passwd", "a", encoding="utf-8") as fh:
            fh.write(f"stranger:{mc.hash_password('x')}\n")
        before = (tmp_path / "passwd").read_text(), (tmp_path / "acl").read_text()
        run = _run_credentials(tmp_path, db_url, "--server-user", "ingest-1")
        assert run.returncode == 2 and "stranger" in run.stderr and "--remove-user" in run.stderr
        assert ((tmp_path / "passwd").read_text(), (tmp_path / "acl").read_text()) == before

        run = _run_credentials(
            tmp_path, db_url, "--remove-user", "koordinator-server", "--remove-user", "stranger"
        )
        assert run.returncode == 0, run.stderr
        users = set(mc.read_password_file(str(tmp_path / "passwd")))
        assert {"ingest-1", "koordinator-dispatch", "sc-recv"} <= users
        assert not {"koordinator-server", "stranger"} & users
        assert "user koordinator-server" not in (tmp_path / "acl").read_text()
        broker.restart()
        assert connect("koordinator-server").refused is not None
        assert connect("ingest-1").refused is None
    finally:
        for c in clients:
            c.close()
        broker.kill()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
def test_a_scanner_cannot_take_an_ingest_workers_client_id(
    plant, db, db_url, tmp_path, make_agent, pty_factory
):
    """Mosquitto with the generated files and `mc.broker_config`: sc-line's credentials
    connect again and again with the client id of an ingest worker (two of them, sharing
    the scans through $share, each with its own user). Without the pinning each connect
    threw the worker off and wiped its session; with it, the workers keep their one
    connection and the scans of a real agent (its own client id) all come back."""
    users = ("ingest-a", "ingest-b")
    shown = _credentials(tmp_path, db_url, "--server-user", users[0], "--server-user", users[1])
    assert set(users) <= set(shown) and "koordinator-server" not in shown
    conf = mc.broker_config(str(tmp_path / "passwd"), str(tmp_path / "acl"))
    assert "use_username_as_clientid true" in conf
    broker = start_mosquitto(tmp_path / "mosq", conf_extra=conf)
    workers, attackers = [], []
    try:
        for user in users:
            url = f"mqtt://{user}:{shown[user]}@{broker.host}:{broker.port}"
            settings = IngestSettings.from_env(url, {"INGEST_SHARED_GROUP": "ingest"})
            assert settings.client_id == user  # the id the broker gives the connection
            workers.append(IngestWorker(db, settings).start())
        assert all(w.wait_subscribed(10) for w in workers)
        agent_broker = types.SimpleNamespace(
            url=f"mqtt://sc-recv:{shown['sc-recv']}@{broker.host}:{broker.port}"
        )
        pty = pty_factory("recv")
        agent = make_agent(agent_broker, "sc-recv", pty).start()
        agent_ready(agent)

        stop = threading.Event()

        def take_over() -> None:
            # connect, CONNACK, disconnect, in this thread: the socket is closed on return
            while not stop.is_set():
                for victim in users:
                    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=victim)
                    c.username_pw_set("sc-line", shown["sc-line"])
                    got: list = []
                    c.on_connect = lambda cl, u, f, rc, p, got=got: got.append(rc)
                    c.connect(broker.host, broker.port)
                    deadline = time.monotonic() + 5
                    while not got and time.monotonic() < deadline:
                        c.loop(0.1)
                    c.disconnect()
                    attackers.append(got[0] if got else None)

        thief = threading.Thread(target=take_over, daemon=True)
        thief.start()
        codes = plant.items("STEEL", count=12, qty=5)
        for code in codes:
            pty.scan(code)
            assert b"\x06GOOD" in pty.read_until(b"\x06GOOD", 15), agent.stderr()[-2000:]
        assert wait_for(lambda: len(attackers) >= 6, 20)  # three rounds at least
        stop.set()
        thief.join(10)
        assert all(rc is not None and not rc.is_failure for rc in attackers), attackers
        assert_each_applied_once(codes, "raw")
        assert sum(w.applied for w in workers) >= len(codes)
        # each worker is still on the connection it made first
        assert [w._epoch for w in workers] == [1, 1], broker.log_text()[-3000:]
        assert all(w.connected for w in workers)
    finally:
        for w in workers:
            w.stop()
        broker.kill()


def _watcher(tmp_path) -> str:
    """A user of the test's own that reads every topic (events and lights included)."""
    password = "watch-it"
    with open(tmp_path / "passwd", "a", encoding="utf-8") as fh:
        fh.write(f"watch:{mc.hash_password(password)}\n")
    with open(tmp_path / "acl", "a", encoding="utf-8") as fh:
        fh.write("\nuser watch\ntopic read koordinator/#\n")
    return password


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
@pytest.mark.parametrize("sinks_user", ["koordinator-dispatch", "koordinator-server"])
def test_serve_with_the_dispatchers_mqtt_sinks_on_a_broker_set_up_as_deploy_md(
    plant, db, db_url, tmp_path, sinks_user
):
    """Issue 14: `serve --dispatch` on Mosquitto as docs/deploy.md sets it up (client ids
    pinned to user names, the files of `mqtt-credentials`): the ingest on MQTT_URL's user,
    the dispatcher's `mqtt` and `andon` sinks on DISPATCH_MQTT_URL's, all in one process
    for a few seconds. Each user has one connection, made once; scans are answered, the
    events and the lights delivered. With the sinks on the ingest's user (DISPATCH_MQTT_URL
    unset, as before the fix) the same run is the loop of disconnects it was, and the
    start-up warning names the fix."""
    shown = _credentials(tmp_path, db_url)
    assert {"koordinator-server", "koordinator-dispatch"} <= set(shown)
    watch_password = _watcher(tmp_path)
    conf = mc.broker_config(str(tmp_path / "passwd"), str(tmp_path / "acl"))
    broker = start_mosquitto(tmp_path / "mosq", conf_extra=conf)

    def url(user: str) -> str:
        return f"mqtt://{user}:{shown[user]}@{broker.host}:{broker.port}"

    env = {"MQTT_URL": url("koordinator-server")}
    if sinks_user != "koordinator-server":
        env["DISPATCH_MQTT_URL"] = url(sinks_user)
    settings = dataclasses.replace(
        DispatchSettings.from_env(env),
        poll_s=0.05,
        timeout_s=2,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        flags=False,
    )
    clash = shared_user_warning(env["MQTT_URL"], settings.mqtt_url)
    add_sink("bus", "mqtt", {}, ["scan.accepted", "scan.rejected"])
    add_sink("light", "andon", {}, andon.TYPES)
    codes = plant.items("STEEL", count=6, qty=5)
    ingest = IngestWorker(db, IngestSettings.from_env(env["MQTT_URL"], {})).start()
    watcher = Client(broker.port, "watch", watch_password)
    scanner = Client(broker.port, "sc-recv", shown["sc-recv"])
    dispatcher = None
    try:
        assert ingest.wait_subscribed(10), broker.log_text()[-2000:]
        assert watcher.connected.wait(5) and watcher.refused is None
        watcher.subscribe("koordinator/events/#")
        watcher.subscribe("koordinator/stations/RECV/andon")
        assert scanner.connected.wait(5) and scanner.refused is None
        scanner.subscribe("koordinator/scanners/sc-recv/results")
        dispatcher = Dispatcher(db, settings).start()
        started = time.monotonic()
        scans = [(f"clid-{n}", code) for n, code in enumerate(codes)] + [("clid-bad", "nonsense")]
        for scan_id, code in scans:
            body = {"scan_id": scan_id, "code": code, "scanned_at": "2026-11-26T08:00:00Z"}
            scanner.publish("koordinator/scanners/sc-recv/scans", json.dumps(body).encode())
            time.sleep(0.4)  # a few seconds of scans, events and lights together

        def answered() -> set:
            return {json.loads(p)["scan_id"] for _t, p, _r in scanner.got}

        def events_seen() -> list:
            return [t for t, _p, _r in watcher.got if "/events/" in t]

        def lights() -> list:
            return [p for t, p, _r in watcher.got if t.endswith("/andon")]

        if clash is None:
            assert wait_for(lambda: answered() == {s for s, _c in scans}, 15), scanner.got
            assert wait_for(lambda: len(events_seen()) >= len(scans), 15), watcher.got
            assert events_seen().count("koordinator/events/scan.accepted") == len(codes)
            assert "koordinator/events/scan.rejected" in events_seen()
            assert wait_for(lambda: lights()[-1:] == [b"red"], 10), watcher.got  # nonsense
            assert b"green" in lights()
        time.sleep(max(0.0, 4.0 - (time.monotonic() - started)))
        sessions = dispatcher.sessions.sessions()
        taken_over = broker.log_text().count("already connected, closing old connection")
        if clash is None:
            # one connection per user, made once: no one threw anyone off
            assert taken_over == 0, broker.log_text()[-3000:]
            assert [s.epoch for s in sessions] == [1] and sessions[0].connected
            assert ingest._epoch == 1 and ingest.connected
            assert sessions[0].username == sinks_user
        else:
            # the ingest and the sinks' one session as one user: they take turns
            assert "DISPATCH_MQTT_URL" in clash and "koordinator-dispatch" in clash
            assert len(sessions) == 1
            assert ingest._epoch + sessions[0].epoch > 3, (ingest._epoch, sessions[0].epoch)
            assert taken_over >= 2, broker.log_text()[-3000:]
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        ingest.stop()
        watcher.close()
        scanner.close()
        broker.kill()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
def test_the_dispatchers_password_given_apart(plant, db, db_url, tmp_path):
    """A `dispatch` process with DISPATCH_MQTT_URL naming the user only and the password in
    DISPATCH_MQTT_PASSWORD (as MQTT_PASSWORD is for MQTT_URL), on a Mosquitto with the
    generated password file: its mqtt sink logs in and publishes; the password is in no
    line of its log nor in the sink's attempts. Without it the broker refuses the login."""
    shown = _credentials(tmp_path, db_url)
    password = shown["koordinator-dispatch"]
    watch_password = _watcher(tmp_path)
    conf = mc.broker_config(str(tmp_path / "passwd"), str(tmp_path / "acl"))
    broker = start_mosquitto(tmp_path / "mosq", conf_extra=conf)
    add_sink("bus", "mqtt", {}, ["scan.accepted"])
    watcher = Client(broker.port, "watch", watch_password)
    log = tmp_path / "dispatch.log"
    url = f"mqtt://koordinator-dispatch@{broker.host}:{broker.port}"
    procs = []
    try:
        assert watcher.connected.wait(5) and watcher.refused is None
        watcher.subscribe("koordinator/events/#")
        codes = plant.items("STEEL", count=3, qty=5)
        for code in codes:
            plant.scan("sc-recv", code, expected=201)
        # the user alone: refused by the broker, nothing published
        procs.append(dispatch_process(db_url, log, DISPATCH_MQTT_URL=url, MQTT_URL=None))
        assert wait_for(lambda: "not authorised" in broker.log_text().lower(), 10), (
            log.read_text()[-2000:] + broker.log_text()[-2000:]
        )
        procs[0].kill()
        procs[0].wait()
        assert watcher.got == []
        procs.append(
            dispatch_process(
                db_url,
                log,
                DISPATCH_MQTT_URL=url,
                DISPATCH_MQTT_PASSWORD=password,
                MQTT_URL=None,
                LOG_LEVEL="DEBUG",
            )
        )
        accepted = lambda: [t for t, _p, _r in watcher.got if t.endswith("/scan.accepted")]  # noqa: E731
        assert wait_for(lambda: len(accepted()) == len(codes), 20), (
            log.read_text()[-3000:] + broker.log_text()[-2000:]
        )
        assert "sink connected" in log.read_text()
        assert password not in log.read_text()

        def details() -> list[str]:
            with db.connection_context():
                return [a.detail or "" for a in DeliveryAttempt.select().where(DeliveryAttempt.ok)]

        assert wait_for(lambda: len(details()) >= len(codes), 10)  # written after the PUBACKs
        with db.connection_context():
            every = [a.detail or "" for a in DeliveryAttempt.select()]
        assert not any(password in d for d in every)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        watcher.close()
        broker.kill()


def test_the_dispatchers_password_settings_are_checked():
    """DISPATCH_MQTT_PASSWORD wins over a password in DISPATCH_MQTT_URL and is quoted into
    it; without DISPATCH_MQTT_URL it is a start-up error (it would go to the ingest's user);
    the sinks' fallback to MQTT_URL takes MQTT_PASSWORD, as the ingest does."""
    env = {
        "DISPATCH_MQTT_URL": "mqtt://koordinator-dispatch:old@10.0.0.5:1883",
        "DISPATCH_MQTT_PASSWORD": "p@ss:w/rd",
    }
    url = DispatchSettings.from_env(env).mqtt_url
    session = MqttSession.from_url(url)
    assert (session.username, session.url) == (
        "koordinator-dispatch",
        "mqtt://koordinator-dispatch:***@10.0.0.5:1883",
    )
    assert mqtt_url_password(url) == "p@ss:w/rd"
    for bad in ({"DISPATCH_MQTT_PASSWORD": "x"}, {"DISPATCH_MQTT_PASSWORD": "x", "MQTT_URL": url}):
        with pytest.raises(ValueError, match="DISPATCH_MQTT_URL is not"):
            DispatchSettings.from_env(bad)
        with pytest.raises(ConfigError, match="DISPATCH_MQTT_URL is not"):
            config_from_env(bad)
    with pytest.raises(ValueError, match="names no user"):
        DispatchSettings.from_env({"DISPATCH_MQTT_URL": "mqtt://h", "DISPATCH_MQTT_PASSWORD": "x"})
    fallback = DispatchSettings.from_env(
        {"MQTT_URL": "mqtt://koordinator-server@h:1883", "MQTT_PASSWORD": "s"}
    ).mqtt_url
    assert mqtt_url_password(fallback) == "s"
    assert (
        IngestSettings.from_env("mqtt://koordinator-server@h:1883", {"MQTT_PASSWORD": "s"}).password
        == "s"
    )


def mqtt_url_password(url: str) -> str | None:
    from server.mqtt_session import parse_mqtt_url

    return parse_mqtt_url(url)["password"]


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")
def test_two_dispatchers_on_one_broker_user_take_turns(plant, db, db_url, tmp_path):
    """Two `dispatch` processes on one database whose sinks connect as the same broker
    user, on a Mosquitto as deploy.md sets it up (client ids pinned to user names): before,
    their two connections threw each other off in a loop. Now the second one finds the
    user's lock taken, says so, and leaves the sink to the first: no connection is taken
    over, every event arrives once, in order. When the first is killed (-9), the second
    takes the user over and delivers the rest."""
    from tests.test_dispatch import _write

    shown = _credentials(tmp_path, db_url)
    watch_password = _watcher(tmp_path)
    conf = mc.broker_config(str(tmp_path / "passwd"), str(tmp_path / "acl"))
    broker = start_mosquitto(tmp_path / "mosq", conf_extra=conf)
    add_sink("bus", "mqtt", {}, ["scan.accepted"])
    watcher = Client(broker.port, "watch", watch_password)
    env = {
        "DISPATCH_MQTT_URL": f"mqtt://koordinator-dispatch@{broker.host}:{broker.port}",
        "DISPATCH_MQTT_PASSWORD": shown["koordinator-dispatch"],
        "MQTT_URL": None,
    }
    logs = [tmp_path / "d1.log", tmp_path / "d2.log"]
    procs = []

    def received() -> list[int]:
        return [json.loads(p)["id"] for t, p, _r in watcher.got if t.endswith("/scan.accepted")]

    def expected() -> list[int]:
        with db.connection_context():
            return [e.id for e in Event.select().where(Event.type == "scan.accepted")]

    def taken_over() -> int:
        return broker.log_text().count("already connected, closing old connection")

    try:
        assert watcher.connected.wait(5) and watcher.refused is None
        watcher.subscribe("koordinator/events/#")
        procs.append(dispatch_process(db_url, logs[0], **env))
        _write(db, 5)
        assert wait_for(lambda: len(received()) == 5, 20), logs[0].read_text()[-2000:]
        procs.append(dispatch_process(db_url, logs[1], **env))
        assert wait_for(lambda: "another dispatcher on this database" in logs[1].read_text(), 20), (
            logs[1].read_text()[-2000:]
        )
        for n in range(6):  # events while both run, for a few seconds
            _write(db, 5, start=100 + 10 * n)
            time.sleep(0.4)
        assert wait_for(lambda: received() == expected(), 20), (received(), expected())
        assert taken_over() == 0, broker.log_text()[-3000:]
        assert "sink connected" not in logs[1].read_text()

        procs[0].kill()  # -9: no goodbye; its lock goes with its process
        procs[0].wait()
        _write(db, 10, start=1000)
        assert wait_for(lambda: received() == expected(), 30), (
            received()[-5:],
            expected()[-5:],
            logs[1].read_text()[-3000:],
        )
        assert "its sinks are ours" in logs[1].read_text()
        assert taken_over() == 0, broker.log_text()[-3000:]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        watcher.close()
        broker.kill()


def test_the_start_up_warning_of_sinks_on_the_ingests_user():
    """Said when the sinks' default broker user is the ingest's (same broker); not for
    another user, another broker, or the embedded broker (MQTT_URL unset)."""
    server = "mqtt://koordinator-server:a@10.0.0.5:1883"
    assert "DISPATCH_MQTT_URL" in shared_user_warning(
        server, "mqtt://koordinator-server:b@10.0.0.5"
    )
    assert shared_user_warning(server, "mqtt://koordinator-dispatch:c@10.0.0.5:1883") is None
    assert shared_user_warning(server, "mqtt://koordinator-server:a@10.0.0.6:1883") is None
    assert shared_user_warning(None, None) is None
    assert shared_user_warning(None, "mqtt://127.0.0.1:1883") is None
    sinks = DispatchSettings.from_env({"MQTT_URL": server}).mqtt_url
    assert shared_user_warning(server, sinks) is not None  # DISPATCH_MQTT_URL unset
    env = {"MQTT_URL": server, "DISPATCH_MQTT_URL": "mqtt://koordinator-dispatch:c@10.0.0.5"}
    assert DispatchSettings.from_env(env).mqtt_url == env["DISPATCH_MQTT_URL"]
    with pytest.raises(ValueError, match="DISPATCH_MQTT_URL must look like"):
        DispatchSettings.from_env({"DISPATCH_MQTT_URL": "http://10.0.0.5"})


def test_deploy_doc_config_pins_client_ids_on_its_listener():
    """docs/deploy.md's mosquitto.conf holds every line of `mc.BROKER_SECURITY`, and the
    listener option after the listener: before it, Mosquitto would apply it to an extra
    default listener on port 1883 instead."""
    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    block = text.split("```conf\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    lines = [line for line in lines if line]
    for wanted in mc.BROKER_SECURITY:
        assert wanted in lines, wanted
    first_listener = next(n for n, line in enumerate(lines) if line.startswith("listener "))
    assert lines.index("use_username_as_clientid true") > first_listener
