"""The demo (`make demo`): it signs a newcomer in, and it stands on what `serve` uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

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

    class Args:
        port = 8123

    shown = demo.Demo.__new__(demo.Demo)
    shown.args, shown.plant = Args, plant
    shown.http = type("Server", (), {"run": lambda self: None})()
    shown._start_http()
    out = capsys.readouterr().out
    assert f"sign in as {plant['username']}, password {plant['password']}" in out
    assert "http://127.0.0.1:8123/" in out
