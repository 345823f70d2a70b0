"""The command line, run as a newcomer would: a real process on a real database file."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env_extra=None, tmp_path=None, check=True):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_init_db_user_token(tmp_path):
    assert "schema ready" in run("init-db", tmp_path=tmp_path).stdout
    run(
        "create-user",
        "ana",
        "--role",
        "supervisor",
        "--password",
        "long-enough-pw",
        tmp_path=tmp_path,
    )
    token = run("create-token", "ana", tmp_path=tmp_path).stdout.strip()
    assert token.startswith("kt_") and len(token) > 40
    dup = run("create-user", "ana", "--no-password", tmp_path=tmp_path, check=False)
    assert dup.returncode == 2 and "exists" in dup.stderr
    missing = run("create-token", "nobody", tmp_path=tmp_path, check=False)
    assert missing.returncode == 2 and "no user" in missing.stderr


def test_bootstrap_prints_credentials_once(tmp_path):
    first = run("bootstrap", "--port", "8123", tmp_path=tmp_path).stdout
    assert "password:" in first and "API token: kt_" in first
    assert "http://127.0.0.1:8123/api/stock" in first  # `make run PORT=8123` serves there
    assert "Users exist" in run("bootstrap", tmp_path=tmp_path).stdout


def test_production_refuses_missing_secret(tmp_path):
    proc = run(
        "init-db",
        env_extra={"KOORDINATOR_ENV": "production", "SECRET_KEY": ""},
        tmp_path=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "SECRET_KEY" in proc.stderr


def test_bad_database_url_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "server", "init-db"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "mysql://x:secretpw@h/db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "secretpw" not in proc.stderr and "Traceback" not in proc.stderr


def test_reason_codes_doc_is_current():
    from server.cli import reason_codes_markdown
    from server.core.reasons import CONFIGURABLE_CHECKS, REASONS

    doc = (ROOT / "docs" / "reason-codes.md").read_text()
    assert doc == reason_codes_markdown(REASONS, CONFIGURABLE_CHECKS)


def _busy_port():
    """A listening socket on a free port: whatever is told to serve there finds it taken."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


#: (test id, argv, extra environment, a word the one line must contain). Each is a mistake a
#: newcomer makes in the first hour; each must end in one line on stderr and exit 2.
MISTAKES = [
    ("no-command", [], {}, "command"),
    ("unknown-command", ["serv"], {}, "serv"),
    ("bad-setting", ["init-db"], {"KOORDINATOR_ENV": "staging"}, "KOORDINATOR_ENV"),
    ("bad-database-url", ["init-db"], {"DATABASE_URL": "mysql://x:pw@h/db"}, "DATABASE_URL"),
    ("migrate-bad-database-url", ["migrate"], {"DATABASE_URL": "mysql://x@h/db"}, "DATABASE_URL"),
    ("migrate-extra-argument", ["migrate", "now"], {}, "now"),
    (
        "unusable-sqlite-path",
        ["init-db"],
        {"DATABASE_URL": "sqlite:////proc/koordinator/k.db"},
        "/proc/koordinator",
    ),
    (
        "bootstrap-production",
        ["bootstrap"],
        {"KOORDINATOR_ENV": "production", "SECRET_KEY": "x" * 32},
        "create-user",
    ),
    ("serve-bad-port", ["serve", "--port", "eighty"], {}, "--port"),
    ("serve-bad-mqtt-url", ["serve"], {"MQTT_URL": "http://broker:1883"}, "MQTT_URL"),
    ("serve-port-taken", ["serve", "--no-ingest", "--port", "{busy}"], {}, "{busy}"),
    ("ingest-bad-mqtt-url", ["ingest"], {"MQTT_URL": "broker:1883"}, "MQTT_URL"),
    ("ingest-bad-batch", ["ingest"], {"INGEST_BATCH": "lots"}, "INGEST_BATCH"),
    (
        "dispatch-bad-dispatch-mqtt-url",
        ["dispatch"],
        {"DISPATCH_MQTT_URL": "http://koordinator-dispatch:pw@broker:1883"},
        "DISPATCH_MQTT_URL",
    ),
    (
        "serve-bad-dispatch-mqtt-url",
        ["serve", "--no-ingest", "--dispatch"],
        {"DISPATCH_MQTT_URL": "broker:1883"},
        "DISPATCH_MQTT_URL",
    ),
    (
        "mqtt-credentials-dispatch-user-is-a-server-user",
        ["mqtt-credentials", "--passwd", "{tmp}/p", "--acl", "{tmp}/a"]
        + ["--dispatch-user", "koordinator-server"],
        {},
        "--dispatch-user",
    ),
    (
        "mqtt-credentials-missing-dir",
        ["mqtt-credentials", "--passwd", "/nonexistent/p", "--acl", "/nonexistent/a"],
        {},
        "/nonexistent/p",
    ),
    ("mqtt-credentials-no-files", ["mqtt-credentials"], {}, "--passwd"),
    (
        "mqtt-credentials-site-no-central",
        ["mqtt-credentials", "--passwd", "{tmp}/p", "--acl", "{tmp}/a", "--site", "MAIN"],
        {},
        "--central",
    ),
    (
        "mqtt-credentials-site-cert-without-key",
        ["mqtt-credentials", "--passwd", "{tmp}/p", "--acl", "{tmp}/a", "--site", "MAIN"]
        + ["--central", "h", "--bridge-cafile", "ca", "--bridge-certfile", "c"],
        {},
        "--bridge-keyfile",
    ),
    ("demo-no-units", ["demo", "--units", "0", "--db", "{tmp}/demo.db"], {}, "--units"),
    ("demo-port-taken", ["demo", "--port", "{busy}", "--db", "{tmp}/demo.db"], {}, "{busy}"),
    ("create-user-no-terminal", ["create-user", "ana"], {}, "--password"),
    ("create-user-short-password", ["create-user", "ana", "--password", "short"], {}, "8"),
    ("create-user-bad-role", ["create-user", "ana", "--role", "boss"], {}, "--role"),
    ("create-token-no-user", ["create-token", "nobody"], {"init": "1"}, "nobody"),
    ("create-token-no-schema", ["create-token", "admin"], {}, "init-db"),
    ("recount-stock-no-schema", ["recount-stock"], {}, "init-db"),
    ("reason-codes-extra", ["reason-codes", "--all"], {}, "--all"),
    ("backup-no-file", ["backup"], {}, "file"),
    ("backup-bad-url", ["backup", "b.db"], {"DATABASE_URL": "mysql://u:pw@h/db"}, "DATABASE_URL"),
    ("backup-no-database", ["backup", "{tmp}/b.db"], {}, "no database"),
    ("backup-missing-dir", ["backup", "/nonexistent/b.db"], {"init": "1"}, "/nonexistent"),
    ("backup-onto-itself", ["backup", "{tmp}/cli.db"], {"init": "1"}, "itself"),
    (
        "backup-postgres",
        ["backup", "{tmp}/b.db"],
        {"DATABASE_URL": "postgresql://u@127.0.0.1:1/x"},
        "pg_dump",
    ),
    ("restore-missing-file", ["restore", "{tmp}/none.db"], {}, "none.db"),
    ("restore-not-a-database", ["restore", "{tmp}/notes.txt"], {}, "notes.txt"),
    ("restore-foreign-database", ["restore", "{tmp}/other.db"], {}, "other.db"),
    (
        "restore-postgres",
        ["restore", "{tmp}/b.dump"],
        {"DATABASE_URL": "postgresql://u@127.0.0.1:1/x"},
        "pg_restore",
    ),
]


@pytest.mark.parametrize(
    "argv, env_extra, word", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_every_mistake_is_one_line_and_exit_2(tmp_path, argv, env_extra, word):
    busy = _busy_port()
    try:
        port = str(busy.getsockname()[1])
        argv = [a.replace("{busy}", port).replace("{tmp}", str(tmp_path)) for a in argv]
        word = word.replace("{busy}", port)
        env_extra = dict(env_extra)
        (tmp_path / "notes.txt").write_text("not a database\n")
        sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
        if env_extra.pop("init", None):
            run("init-db", tmp_path=tmp_path)
        proc = run(*argv, env_extra=env_extra, tmp_path=tmp_path, check=False)
    finally:
        busy.close()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert word in lines[0], lines[0]
    assert "pw@" not in proc.stderr  # passwords in URLs stay redacted


def test_create_user_without_terminal_takes_the_password_from_stdin_or_env(tmp_path):
    run("init-db", tmp_path=tmp_path)
    run(
        "create-user",
        "ana",
        env_extra={"KOORDINATOR_PASSWORD": "long-enough-pw"},
        tmp_path=tmp_path,
    )
    assert "created" in run("create-user", "bo", "--no-password", tmp_path=tmp_path).stdout


def test_env_file_is_read_as_systemd_reads_it(tmp_path):
    """`--env-file /etc/koordinator.env`: a command run by hand works on the services' database."""
    env_file = tmp_path / "koordinator.env"
    env_file.write_text(
        "# settings of the services\n"
        "KOORDINATOR_ENV=production\n"
        "SECRET_KEY='0123456789abcdef0123456789abcdef'\n"
        "\n"
        f'DATABASE_URL="sqlite:///{tmp_path}/from-env-file.db"\n'
    )
    out = run("--env-file", str(env_file), "init-db", tmp_path=tmp_path).stdout
    assert "from-env-file.db" in out and (tmp_path / "from-env-file.db").exists()
    assert not (tmp_path / "cli.db").exists()  # not the DATABASE_URL of the environment
    # production: no default admin, the first one is created by hand
    proc = run("--env-file", str(env_file), "bootstrap", tmp_path=tmp_path, check=False)
    assert proc.returncode == 2 and "create-user" in proc.stderr

    env_file.write_text("INGEST_BATCH=200   # scans per transaction\n")
    proc = run("--env-file", str(env_file), "init-db", tmp_path=tmp_path, check=False)
    assert proc.returncode == 2 and "line 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run("--env-file", str(tmp_path / "none.env"), "init-db", tmp_path=tmp_path, check=False)
    assert proc.returncode == 2 and "none.env" in proc.stderr


def test_create_user_asks_for_the_password_twice_on_a_terminal(tmp_path):
    """What the README promises: on a terminal, create-user asks (and does not echo)."""
    import pty

    run("init-db", tmp_path=tmp_path)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    env.pop("KOORDINATOR_PASSWORD", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "server", "create-user", "ana"], env)
        finally:
            os._exit(127)
    out = b""
    try:
        # each answer only once its prompt is there: getpass flushes earlier input
        for prompt in (b"Password:", b"Again:"):
            while prompt not in out:
                out += os.read(fd, 1024)
            os.write(fd, b"long-enough-pw\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"user ana (admin) created" in out and b"long-enough-pw" not in out
    token = run("create-token", "ana", tmp_path=tmp_path).stdout
    assert token.startswith("kt_")


def test_add_sink_for_a_stack_light(tmp_path):
    run("init-db", tmp_path=tmp_path)
    out = run("add-sink", "lights", "andon", "--url", "mqtt://127.0.0.1:1883", tmp_path=tmp_path)
    assert "sink lights (andon) added" in out.stdout and "item.held" in out.stdout
    again = run("add-sink", "lights", "mqtt", tmp_path=tmp_path, check=False)
    assert again.returncode == 2 and "exists" in again.stderr
    con = sqlite3.connect(tmp_path / "cli.db")
    kind, config = con.execute("SELECT kind, config FROM sink WHERE name = 'lights'").fetchone()
    assert (kind, json.loads(config)) == ("andon", {"url": "mqtt://127.0.0.1:1883"})


def test_dispatch_mqtt_url_is_checked_and_redacted_like_mqtt_url():
    """DISPATCH_MQTT_URL, the dispatcher's own broker user: checked at start, its password
    never in a logged copy of the settings; unset, the sinks fall back to MQTT_URL."""
    from server import config
    from server.dispatch import DispatchSettings

    env = {
        "MQTT_URL": "mqtt://koordinator-server:secret1@10.0.0.5:1883",
        "DISPATCH_MQTT_URL": "mqtts://koordinator-dispatch:secret2@10.0.0.5:8883",
    }
    settings = config.from_env(env)
    assert settings["DISPATCH_MQTT_URL"] == env["DISPATCH_MQTT_URL"]
    shown = repr(config.redact(settings))
    assert "secret1" not in shown and "secret2" not in shown
    assert "koordinator-dispatch" in shown
    assert config.from_env({"MQTT_URL": env["MQTT_URL"]})["DISPATCH_MQTT_URL"] is None
    assert DispatchSettings.from_env({"MQTT_URL": env["MQTT_URL"]}).mqtt_url == env["MQTT_URL"]
    assert DispatchSettings.from_env({}).mqtt_url is None  # the embedded broker's run
    for bad in ("http://broker", "broker:1883", "mqtt://host:port"):
        with pytest.raises(config.ConfigError, match="DISPATCH_MQTT_URL"):
            config.from_env({"DISPATCH_MQTT_URL": bad})


@pytest.mark.parametrize("own_user", [False, True], ids=["sinks-on-ingest-user", "own-user"])
def test_serve_dispatch_warns_at_start_when_the_sinks_are_the_ingests_user(tmp_path, own_user):
    """`serve --dispatch` with the sinks' default broker user equal to its ingest's (no
    DISPATCH_MQTT_URL) says so once at start, naming the fix; with a user of their own it
    says nothing. Passwords stay out of the log. (No broker needed: the warning comes
    from the settings.)"""
    import signal
    import threading
    import time

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "MQTT_URL": "mqtt://koordinator-server:secretpw@127.0.0.1:1",
    }
    env.pop("DISPATCH_MQTT_URL", None)
    if own_user:
        env["DISPATCH_MQTT_URL"] = "mqtt://koordinator-dispatch:secretpw2@127.0.0.1:1"
    port = _busy_port()
    free = port.getsockname()[1]
    port.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--dispatch", "--port", str(free)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    serving = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "Koordinator on http" in line:
                serving.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        serving.wait(30)  # printed once the ingest and the dispatcher have started
        time.sleep(0.5)
    finally:
        # SIGTERM, as systemd stops it: a process started in the background by a
        # non-interactive shell (a CI script's `&`) inherits SIGINT ignored, and Python
        # then leaves it ignored, so Ctrl-C's signal would never stop it
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=20)[1]
        reader.join(5)
    out = "".join(lines)
    assert serving.is_set(), (out, err)
    warned = [line for line in err.splitlines() if "DISPATCH_MQTT_URL" in line]
    if own_user:
        assert warned == [], err
    else:
        assert len(warned) == 1, err
        assert "koordinator-server" in warned[0] and "--dispatch-user" in warned[0]
    assert "secretpw" not in out + err
