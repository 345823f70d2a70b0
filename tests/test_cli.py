"""The command line, run as a newcomer would: a real process on a real database file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    first = run("bootstrap", tmp_path=tmp_path).stdout
    assert "password:" in first and "API token: kt_" in first
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
