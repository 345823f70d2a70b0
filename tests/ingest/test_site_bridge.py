"""A second site's scanner through its own broker bridged to the central one (issue 16).

Two real Mosquitto processes: the central broker, started with the password file and ACL
`python -m server mqtt-credentials` writes, and a site broker started with nothing but the
`<site>.conf` it writes for the site (which names the site's password file and ACL). A real
scanner agent logs in to the site broker; the real IngestWorker is on the central broker
only, so every answer the agent gets went site -> central -> site over the bridge."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from server import mqtt_credentials as mc
from server.ingest import IngestSettings, IngestWorker
from tests.ingest.conftest import (
    HAVE_MOSQUITTO,
    agent_ready,
    assert_each_applied_once,
    outbox_pending,
    stages,
    wait_for,
)
from tests.ingest.test_broker_setup import Client
from tests.support.agent_process import REPO_ROOT
from tests.support.broker import BrokerProcess, _current_user, find_mosquitto, free_port

pytestmark = pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs a mosquitto binary")

SITE = "SURABAYA"
SCANNER = "sc-sby-recv"


class SiteBroker(BrokerProcess):
    """Mosquitto run on the generated site config; the test adds only who runs it (not
    root's `mosquitto` user) and logging to the console."""

    def __init__(self, workdir: Path, port: int, generated: Path) -> None:
        self.generated = generated
        super().__init__(find_mosquitto(), workdir, port)

    def _write_conf(self) -> None:
        extra = [f"user {_current_user()}", "log_dest stderr", "log_type all"]
        self.conf_path.write_text(self.generated.read_text() + "\n".join(extra) + "\n")


def credentials(tmp_path: Path, db_url: str, *extra: str) -> tuple[int, str, str]:
    env = dict(os.environ, DATABASE_URL=db_url, KOORDINATOR_ENV="test")
    argv = ["--passwd", str(tmp_path / "central.passwd"), "--acl", str(tmp_path / "central.acl")]
    done = subprocess.run(
        [sys.executable, "-m", "server", "mqtt-credentials", *argv, *extra],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout, done.stderr


def shown_passwords(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def add_site_scanner(api) -> None:
    api.post("/api/sites", {"code": SITE, "name": "Surabaya plant"}, expected=201)
    api.post("/api/locations", {"code": "SBY-DOCK", "kind": "line", "site": SITE}, expected=201)
    api.post(
        "/api/stations",
        {
            "code": "SBY-RECV",
            "name": "Surabaya receiving",
            "default_action": "receive",
            "location": "SBY-DOCK",
        },
        expected=201,
    )
    api.post("/api/scanners", {"id": SCANNER, "station": "SBY-RECV"}, expected=201)


def test_an_unknown_site_is_refused_and_nothing_is_written(plant, db_url, tmp_path):
    rc, out, err = credentials(tmp_path, db_url, "--site", "nowhere", "--central", "10.0.0.5")
    assert rc == 2 and "no active site 'NOWHERE' (sites: MAIN)" in err, (out, err)
    assert not (tmp_path / "central.passwd").exists()
    assert not (tmp_path / "NOWHERE.conf").exists()
    rc, _out, err = credentials(tmp_path, db_url, "--site", "MAIN")
    assert rc == 2 and "--central" in err


def test_site_files_hold_only_the_sites_scanners_and_keep_the_bridge_password(
    plant, api, db_url, tmp_path
):
    add_site_scanner(api)
    api.post("/api/machines", {"code": "SBY-PRESS", "name": "P", "station": "SBY-RECV"},
             expected=201)  # fmt: skip
    api.post("/api/machines", {"code": "PRESS1", "name": "P", "station": "A2"}, expected=201)
    site_args = ("--site", SITE, "--central", "central.plant:8883")
    site_args += ("--bridge-cafile", "/etc/mosquitto/ca.crt")
    rc, out, err = credentials(tmp_path, db_url, *site_args)
    assert rc == 0, err
    conf = (tmp_path / f"{SITE}.conf").read_text()
    assert "address central.plant:8883" in conf
    assert "bridge_cafile /etc/mosquitto/ca.crt" in conf and "bridge_tls_version" in conf
    topics = [line for line in conf.splitlines() if line.startswith("topic ")]
    assert topics == [
        f"topic koordinator/scanners/{SCANNER}/scans out 1",
        f"topic koordinator/scanners/{SCANNER}/status out 1",
        "topic koordinator/machines/SBY-PRESS/state out 1",
        f"topic koordinator/scanners/{SCANNER}/results in 1",
        "topic koordinator/machines/SBY-PRESS/results in 1",
        "topic koordinator/server/+/status in 1",
    ]
    site_users = [line.split(":")[0] for line in (tmp_path / f"{SITE}.passwd").read_text().split()]
    assert site_users == [SCANNER, "machine.SBY-PRESS"]  # not sc-recv, PRESS1 (MAIN)
    central_acl = (tmp_path / "central.acl").read_text()
    bridge_entry = central_acl.split(f"user site.{SITE}\n", 1)[1].split("\n\n", 1)[0]
    assert bridge_entry.splitlines() == [
        f"topic write koordinator/scanners/{SCANNER}/scans",
        f"topic write koordinator/scanners/{SCANNER}/status",
        "topic write koordinator/machines/SBY-PRESS/state",
        f"topic read koordinator/scanners/{SCANNER}/results",
        "topic read koordinator/machines/SBY-PRESS/results",
        "topic read koordinator/server/+/status",
    ]
    password = mc.remote_password_in(str(tmp_path / f"{SITE}.conf"))
    central = mc.read_password_file(str(tmp_path / "central.passwd"))
    assert mc.check_password(password, central[f"site.{SITE}"])
    assert oct((tmp_path / f"{SITE}.conf").stat().st_mode & 0o777) == "0o600"
    # a run for the central broker only keeps the bridge user; one for the site keeps its
    # password; --rotate renews it
    assert credentials(tmp_path, db_url)[0] == 0
    assert f"user site.{SITE}" in (tmp_path / "central.acl").read_text()
    assert credentials(tmp_path, db_url, *site_args)[0] == 0
    assert mc.remote_password_in(str(tmp_path / f"{SITE}.conf")) == password
    assert credentials(tmp_path, db_url, *site_args, "--rotate")[0] == 0
    assert mc.remote_password_in(str(tmp_path / f"{SITE}.conf")) != password


@contextlib.contextmanager
def bridged(tmp_path: Path, db, db_url: str, *extra: str, central_tls: str = ""):
    """The central broker with the generated password file and ACL (and `central_tls`, the
    lines of a TLS listener on `{port}`, if given), the site broker on its generated .conf only, and
    the IngestWorker on the central broker."""
    central_port, site_port = free_port(), free_port()
    # with TLS the site bridges to a TLS listener ({port} in `central_tls`); the ingest
    # stays on the plain one
    bridge_port = free_port() if central_tls else central_port
    central_tls = central_tls.replace("{port}", str(bridge_port))
    site_dir = tmp_path / "site"
    (site_dir / "data").mkdir(parents=True)
    rc, out, err = credentials(
        tmp_path,
        db_url,
        *("--site", SITE, "--central", f"127.0.0.1:{bridge_port}", "--site-dir", str(site_dir)),
        *("--site-listener", f"{site_port} 127.0.0.1"),
        *("--site-persistence", f"{site_dir / 'data'}/"),
        *extra,
    )
    assert rc == 0, err
    shown = shown_passwords(out)
    central_data = tmp_path / "central-data"
    central_data.mkdir()
    (tmp_path / "central").mkdir()
    central_conf = mc.broker_config(str(tmp_path / "central.passwd"), str(tmp_path / "central.acl"))
    central = BrokerProcess(
        find_mosquitto(),
        tmp_path / "central",
        central_port,
        conf_extra=central_tls
        + central_conf
        + f"persistence true\nset_tcp_nodelay true\npersistence_location {central_data}/\n",
    )
    (site_dir / "run").mkdir()
    site = SiteBroker(site_dir / "run", site_port, site_dir / f"{SITE}.conf")
    worker = None
    try:
        central.start()
        site.start()
        worker_url = f"mqtt://koordinator-server:{shown['koordinator-server']}@127.0.0.1:"
        worker_url += str(central_port)
        worker = IngestWorker(db, IngestSettings.from_env(worker_url, {})).start()
        assert worker.wait_subscribed(10)
        yield types.SimpleNamespace(
            central=central,
            site=site,
            shown=shown,
            site_dir=site_dir,
            central_port=central_port,
            agent_url=f"mqtt://{SCANNER}:{shown[SCANNER]}@127.0.0.1:{site_port}",
        )
    finally:
        if worker is not None:
            worker.stop()
        site.kill()
        central.kill()


def test_a_second_sites_scanner_works_through_its_bridged_broker(
    plant, api, db, db_url, tmp_path, make_agent, pty_factory
):
    add_site_scanner(api)
    with bridged(tmp_path, db, db_url) as net:
        central, site = net.central, net.site
        pty = pty_factory("sby")
        # no resend within the test: what comes back after the cut came through the queues
        agent = make_agent(
            types.SimpleNamespace(url=net.agent_url), SCANNER, pty, resend_after=300.0
        )
        agent.start()
        agent_ready(agent)

        # scans flow site -> central, answers come back central -> site
        first = plant.items("STEEL", count=4, qty=5)
        for code in first:
            pty.scan(code)
            got = pty.read_until(b"\x06GOOD", 15)
            assert b"\x06GOOD" in got, (got, agent.stderr()[-2000:], site.log_text()[-2000:])
        assert_each_applied_once(first, "raw")

        # the bridge's own credentials at the central broker reach only this site's topics
        bridge = Client(
            net.central_port,
            f"site.{SITE}",
            mc.remote_password_in(str(net.site_dir / f"{SITE}.conf")),
            client_id="probe",
        )
        assert bridge.connected.wait(5) and bridge.refused is None
        forged = plant.items("STEEL", count=1, qty=5)
        bridge.publish(
            "koordinator/scanners/sc-recv/scans",
            f'{{"scan_id":"forged-1","scanner_id":"sc-recv","code":"{forged[0]}",'
            f'"scanned_at":"2026-11-26T08:00:00Z"}}'.encode(),
        )
        bridge.close()

        # cut: the central broker (and the ingest with it) goes away; scans go on at the site
        central.stop()
        cut = plant.items("STEEL", count=5, qty=5)
        for code in cut:
            pty.scan(code)
        assert wait_for(lambda: len(outbox_pending(agent.outbox_path)) == len(cut), 10)
        time.sleep(1.5)  # no answer comes while the link is cut
        assert b"GOOD" not in pty.read_until(b"\x06GOOD", 0.5)
        assert_each_applied_once(first, "raw")

        # restored: every scan lands once and its answer reaches the agent
        central.start()
        answers = b""
        deadline = time.monotonic() + 40
        while answers.count(b"\x06GOOD") < len(cut) and time.monotonic() < deadline:
            answers += pty.read_until(b"\x06GOOD", 1)
        assert answers.count(b"\x06GOOD") >= len(cut), (
            answers,
            agent.stderr()[-3000:],
            site.log_text()[-3000:],
        )
        assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 15)
        assert_each_applied_once(first + cut, "raw")
        # the scan forged with the bridge's credentials for another site's scanner: dropped
        assert stages(forged) == {forged[0]: "new"}


def make_certificates(folder: Path) -> dict[str, Path]:
    """A plant CA and a certificate it signed for the central broker at 127.0.0.1."""
    folder.mkdir()
    paths = {k: folder / f"{k}" for k in ("ca.key", "ca.crt", "broker.key", "broker.csr")}
    paths["broker.crt"] = folder / "broker.crt"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-subj", "/CN=Plant test CA", "-keyout", str(paths["ca.key"])),
        *("-out", str(paths["ca.crt"])),
    )
    openssl(
        *("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"),
        *("-keyout", str(paths["broker.key"]), "-out", str(paths["broker.csr"])),
    )
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        *("x509", "-req", "-in", str(paths["broker.csr"]), "-CA", str(paths["ca.crt"])),
        *("-CAkey", str(paths["ca.key"]), "-CAcreateserial", "-days", "2"),
        *("-extfile", str(ext), "-out", str(paths["broker.crt"])),
    )
    return paths


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_the_bridge_can_cross_to_the_central_broker_over_tls(
    plant, api, db, db_url, tmp_path, make_agent, pty_factory
):
    """--bridge-cafile: the site broker checks the central broker's certificate against
    the plant's CA, and the scans and answers cross the TLS listener only."""
    add_site_scanner(api)
    certs = make_certificates(tmp_path / "certs")
    tls = (
        "use_username_as_clientid true\n"  # the plain listener above, the ingest's
        "listener {port} 127.0.0.1\n"
        f"cafile {certs['ca.crt']}\ncertfile {certs['broker.crt']}\n"
        f"keyfile {certs['broker.key']}\n"
    )
    with bridged(
        tmp_path, db, db_url, "--bridge-cafile", str(certs["ca.crt"]), central_tls=tls
    ) as net:
        conf = (net.site_dir / f"{SITE}.conf").read_text()
        assert f"bridge_cafile {certs['ca.crt']}" in conf
        pty = pty_factory("sby-tls")
        agent = make_agent(types.SimpleNamespace(url=net.agent_url), SCANNER, pty)
        agent.start()
        agent_ready(agent)
        codes = plant.items("STEEL", count=3, qty=5)
        for code in codes:
            pty.scan(code)
            got = pty.read_until(b"\x06GOOD", 15)
            assert b"\x06GOOD" in got, (got, net.site.log_text()[-3000:])
        assert_each_applied_once(codes, "raw")
        assert "OpenSSL Error" not in net.site.log_text()


def test_bursts_through_the_bridge_are_answered_once_each_in_order(
    plant, api, db, db_url, tmp_path, make_agent, pty_factory
):
    """Scans back to back through the bridge (site broker -> central) and, at the same
    time, from a scanner on the central broker itself: every scan is answered at its agent,
    applied once, and the site's scans reach the ledger in the order they were scanned (the
    bridge's QoS 1 link keeps the order and loses nothing). The answer time is
    bench/bench_site_bridge.py's, against the direct scanner's in the same run."""
    from server.models import LedgerEntry

    add_site_scanner(api)
    with bridged(tmp_path, db, db_url) as net:
        p_site, p_central = pty_factory("sby"), pty_factory("recv")
        site_agent = make_agent(types.SimpleNamespace(url=net.agent_url), SCANNER, p_site)
        url = f"mqtt://sc-recv:{net.shown['sc-recv']}@127.0.0.1:{net.central_port}"
        central_agent = make_agent(types.SimpleNamespace(url=url), "sc-recv", p_central)
        for agent in (site_agent, central_agent):
            agent.start()
        for agent in (site_agent, central_agent):
            agent_ready(agent)
        scanned: dict[str, list[str]] = {SCANNER: [], "sc-recv": []}
        for _burst in range(2):
            burst = {SCANNER: plant.items("STEEL", count=12, qty=1)}
            burst["sc-recv"] = plant.items("STEEL", count=12, qty=1)
            for site_code, central_code in zip(burst[SCANNER], burst["sc-recv"], strict=True):
                p_site.scan(site_code)
                p_central.scan(central_code)
            for scanner, pty in ((SCANNER, p_site), ("sc-recv", p_central)):
                answers = b""
                deadline = time.monotonic() + 30
                while answers.count(b"\x06GOOD") < len(burst[scanner]):
                    assert time.monotonic() < deadline, (
                        scanner,
                        answers,
                        net.site.log_text()[-2000:],
                    )
                    answers += pty.read_until(b"\x06GOOD", 1)
                assert b"BAD" not in answers, answers
                scanned[scanner] += burst[scanner]
        assert_each_applied_once(scanned[SCANNER] + scanned["sc-recv"], "raw")
        for scanner, codes in scanned.items():
            with db.connection_context():
                rows = (
                    LedgerEntry.select(LedgerEntry.raw_code)
                    .where(LedgerEntry.scanner_id == scanner)
                    .order_by(LedgerEntry.id)
                )
                assert [r.raw_code for r in rows] == codes, scanner
        assert wait_for(lambda: outbox_pending(site_agent.outbox_path) == [], 10)
