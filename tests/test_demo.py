"""The demo (`make demo`): it signs a newcomer in, and it stands on what `serve` uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from server import demo

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_demo_and_cli_do_not_import_each_other():
    assert "server.cli" not in _imported_modules(ROOT / "server" / "demo.py")
    # the CLI starts the demo; the demo takes listen/start_mqtt/stop_mqtt from runtime
    assert {"server.runtime.start_mqtt", "server.runtime.stop_mqtt"} <= _imported_modules(
        ROOT / "server" / "demo.py"
    )


def test_demo_prints_a_web_sign_in_that_works(app, capsys):
    plant = demo.seed(app, 1)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post(
        "/login",
        data={"username": plant["username"], "password": plant["password"], "csrf_token": csrf},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    # the plant floor shows the demo's stations and its press, running until it breaks
    floor = client.get("/floor")
    assert floor.status_code == 200
    html = floor.get_data(as_text=True)
    assert re.search(r'data-station="A1"[^>]*data-machine-state="running"', html)
    assert 'data-machine="PRESS1"' in html

    class Args:
        port = 8123

    shown = demo.Demo.__new__(demo.Demo)
    shown.args, shown.plant = Args, plant
    shown.http = type("Server", (), {"run": lambda self: None})()
    shown._start_http()
    out = capsys.readouterr().out
    assert f"sign in as {plant['username']}, password {plant['password']}" in out
    assert "http://127.0.0.1:8123/" in out
    assert "http://127.0.0.1:8123/floor" in out


def test_demo_script_shows_a_qc_fail_held_until_released(tmp_path, monkeypatch):
    """The simulated worker's whole script through the real agents and a real Mosquitto:
    the first widget fails QC with a reason label, is refused `on_hold`, released, shipped;
    the press at Assembly 1 breaks down and runs again meanwhile."""
    from server.models import Item, LedgerEntry
    from tests.support.broker import find_mosquitto, free_port, start_mosquitto

    if find_mosquitto() is None:
        pytest.skip("no mosquitto binary (set $MOSQUITTO)")
    broker = start_mosquitto(tmp_path / "mosquitto")
    monkeypatch.setenv("KOORDINATOR_ENV", "test")

    class Args:
        db = str(tmp_path / "demo.db")
        port = free_port()
        pace = 0.3  # scans at different scanners stay in order, as at a human pace
        units = 1

    shown = demo.Demo(Args, {"MQTT_URL": broker.url, "MQTT_TOPIC_PREFIX": "koordinator"})
    try:
        shown.start()
        shown.script()
        (first,) = shown.plant["units"]
        shown._wait_stage(first, "shipped")
        with shown.app.app_context():
            unit = Item.get(Item.code == first)
            rows = LedgerEntry.select().where(
                (LedgerEntry.item == unit) | (LedgerEntry.raw_code == first)
            )
            exceptions = [
                (r.action, r.status, r.reason, r.why)
                for r in rows.order_by(LedgerEntry.id)
                if r.action in ("hold", "release") or r.reason == "on_hold"
            ]
            assert exceptions == [
                ("hold", "accepted", None, "DIMENSION"),
                ("move", "rejected", "on_hold", None),
                ("release", "accepted", None, "QC_OK"),
            ]
            unit = Item.get(Item.code == first)
            assert (unit.stage, unit.held) == ("shipped", False)
            # the breakdown: the press went down with its reason and came back, and the
            # widget started meanwhile was warned
            from server.models import Downtime, Machine

            (stop,) = Downtime.select()
            assert (stop.why, stop.source, stop.ended_source) == ("BREAKDOWN", "scan", "scan")
            assert Machine.get(Machine.code == "PRESS1").state == "running"
            start = rows.where(LedgerEntry.action == "start").get()
            assert [w["code"] for w in start.warnings] == ["machine_down"]
    finally:
        shown.shutdown()
        broker.stop()
