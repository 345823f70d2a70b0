"""Settings: TOML plus flags, validation messages, byte sequences, redaction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scanner_agent.config import ConfigError, load, parse_bytes, redacted
from tests.support.agent_process import REPO_ROOT, write_config


def base_settings(tmp_path: Path) -> dict:
    return {
        "scanner_id": "line1-s3",
        "mqtt": {"url": "mqtt://scanner1:s3cr%40t@broker.local:1884"},
        "reader": {"kind": "serial", "port": "/dev/serial/by-id/usb-x", "terminator": "\r\n"},
        "outbox": {"path": str(tmp_path / "o.sqlite3")},
    }


def test_file_then_flags_override(tmp_path: Path) -> None:
    path = write_config(tmp_path / "a.toml", base_settings(tmp_path))
    cfg = load(["-c", str(path), "--baud", "115200", "--station", "PACK"], environ={})
    assert cfg.scanner_id == "line1-s3"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("broker.local", 1884, False)
    assert (cfg.mqtt.username, cfg.mqtt.password) == ("scanner1", "s3cr@t")
    assert cfg.baud == 115200
    assert cfg.station == "PACK"
    assert cfg.terminator == b"\r\n"
    assert cfg.rfid_window == 5.0 and cfg.resend_after == 10.0
    assert cfg.topic("scans") == "koordinator/scanners/line1-s3/scans"
    assert cfg.client_id == "koordinator-agent-line1-s3"


def test_flags_alone_and_mqtts_default_port(tmp_path: Path) -> None:
    cfg = load(
        [
            "--scanner-id=s9",
            "--reader=rfid",
            "--rfid-input=stdin",
            "--mqtt-url=mqtts://h.example",
            f"--outbox={tmp_path / 'o.db'}",
            "--topic-prefix=plant2/",
            "--terminator=LF",
        ],
        environ={},
    )
    assert cfg.mqtt.tls and cfg.mqtt.port == 8883
    assert cfg.reader == "rfid" and not cfg.uses_serial
    assert cfg.topic("results") == "plant2/scanners/s9/results"
    assert cfg.terminator == b"\n"


def test_password_from_environment(tmp_path: Path) -> None:
    env = {"KOORDINATOR_MQTT_PASSWORD": "fromenv"}
    cfg = load(["--scanner-id=s1", "--reader=stdin", "--mqtt-url=mqtt://u@h:1"], environ=env)
    assert cfg.mqtt.password == "fromenv"


def test_redacted_never_shows_the_password(tmp_path: Path) -> None:
    path = write_config(tmp_path / "a.toml", base_settings(tmp_path))
    cfg = load(["-c", str(path)], environ={})
    text = repr(redacted(cfg)) + repr(cfg)
    assert "s3cr" not in text
    assert "mqtt://scanner1:***@broker.local:1884" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scanner_id": None}, "scanner_id is required"),
        ({"scanner_id": "bad/id"}, "scanner_id 'bad/id' must be"),
        ({"mqtt": {"url": "http://h"}}, "must start with mqtt:// or mqtts://"),
        ({"mqtt": {"url": "mqtt://u:pw@h:99999"}}, "not a valid URL"),
        ({"mqtt": {"url": "mqtt://"}}, "has no host"),
        ({"mqtt": {"url": "mqtt://h", "topic_prefix": "a/+"}}, "topic_prefix"),
        ({"reader": {"kind": "usb"}}, "reader must be one of serial, stdin, rfid"),
        ({"reader": {"kind": "serial"}}, "reader.port (--port) is required"),
        ({"reader": {"kind": "stdin", "terminator": "X"}}, "must be CR, LF or CRLF"),
        ({"reader": {"kind": "stdin", "baud": "fast"}}, "baud must be a int"),
        ({"reader": {"kind": "stdin", "rfid_window": -1}}, "rfid_window must be between"),
        ({"outbox": {"path": "/nonexistent-dir/o.db"}}, "directory /nonexistent-dir"),
        ({"outbox": {"resend_after": 0}}, "resend_after must be between"),
        ({"feedback": {"good": "hex:zz"}}, "feedback_good"),
        ({"feedback": {"bad": "\\q"}}, "unknown escape"),
        ({"feedback": {"volume": 3}}, "unknown setting feedback.volume"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"database": {"url": "x"}}, "unknown section [database]"),
    ],
)
def test_invalid_settings(tmp_path: Path, change: dict, message: str) -> None:
    settings = {
        "scanner_id": "s1",
        "mqtt": {"url": "mqtt://h"},
        "reader": {"kind": "stdin"},
        "outbox": {"path": str(tmp_path / "o.db")},
    }
    for key, value in change.items():
        if value is None:
            settings.pop(key)
        elif isinstance(value, dict):
            settings[key] = value if key == "reader" else {**settings.get(key, {}), **value}
        else:
            settings[key] = value
    path = write_config(tmp_path / "bad.toml", settings)
    with pytest.raises(ConfigError) as err:
        load(["-c", str(path)], environ={})
    assert message in str(err.value)
    assert "pw" not in str(err.value)


def test_unreadable_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("scanner_id = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(["-c", str(path)], environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load(["-c", str(tmp_path / "missing.toml")], environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hex:07", b"\x07"),
        ("HEX: 1b 5b 30 6d", b"\x1b[0m"),
        ("hex:06:47", b"\x06G"),
        ("\\x07", b"\x07"),
        ("OK\\r\\n", b"OK\r\n"),
        ("\\e[1m\\\\", b"\x1b[1m\\"),
        ("", b""),
        ("\x07", b"\x07"),
    ],
)
def test_parse_bytes(text: str, expected: bytes) -> None:
    assert parse_bytes(text) == expected


def test_list_of_byte_values(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        'scanner_id = "s1"\n[reader]\nkind = "stdin"\n'
        f'[outbox]\npath = "{tmp_path / "o.db"}"\n[feedback]\ngood = [7, 27]\n'
    )
    assert load(["-c", str(path)], environ={}).feedback_good == b"\x07\x1b"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reader", "stdin"], "configuration error: scanner_id is required"),
        (
            ["--scanner-id", "s1", "--mqtt-url", "ftp://u:topsecret@h"],
            "configuration error: mqtt.url must start with mqtt:// or mqtts://, got ftp://u:***@h",
        ),
        (["--scanner-id", "s1", "--reader", "serial"], "reader.port (--port) is required"),
    ],
)
def test_process_exits_2_with_a_clear_message(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner_agent", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "topsecret" not in proc.stderr + proc.stdout


def test_bad_flag_value_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner_agent", "--baud", "fast"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2
    assert "--baud: invalid int value" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_agent_imports_neither_flask_nor_the_server() -> None:
    code = (
        "import sys, scanner_agent.__main__\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'server', 'peewee')]\n"
        "print(bad)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=20
    )
    assert proc.stdout.strip() == "[]", proc.stderr
