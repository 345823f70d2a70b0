"""The systemd units in docs/ (what docs/deploy.md installs): they parse, `systemd-analyze
verify` accepts them, and the server's units load /etc/koordinator.env as their settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "docs").glob("*.service"))
SERVER_UNITS = [
    "koordinator-web.service",
    "koordinator-ingest@.service",
    "koordinator-dispatch.service",
]


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections -> (key, value) in order; keys may repeat (EnvironmentFile, DeviceAllow)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        if text.startswith("[") and text.endswith("]"):
            current = sections.setdefault(text[1:-1], [])
            continue
        key, sep, value = text.partition("=")
        assert current is not None and sep and key.strip(), f"{path.name}:{number}: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def test_the_deploy_page_installs_these_files():
    assert {p.name for p in UNITS} >= set(SERVER_UNITS) | {"koordinator-agent.service"}
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for name in SERVER_UNITS:
        assert f"docs/{name}" in deploy


@pytest.mark.parametrize("name", SERVER_UNITS)
def test_server_units_read_the_settings_file_as_the_service_user(name):
    unit = parse_unit(ROOT / "docs" / name)
    assert set(unit) == {"Unit", "Service", "Install"}
    assert values(unit, "Service", "EnvironmentFile")[0] == "/etc/koordinator.env"
    assert values(unit, "Service", "User") == ["koordinator"]
    assert values(unit, "Service", "WorkingDirectory") == ["/opt/koordinator"]
    (exec_start,) = values(unit, "Service", "ExecStart")
    assert exec_start.startswith("/opt/koordinator/.venv/bin/")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_them(tmp_path):
    # /opt/koordinator is this checkout, so that verify finds the programs ExecStart names
    names = []
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text().replace("/opt/koordinator", str(ROOT)))
        names.append(str(tmp_path / path.name.replace("@.service", "@1.service")))
    proc = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
