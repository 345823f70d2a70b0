"""`python -m server dispatch` as a real process of a test, its output in a log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def dispatch_process(db_url: str, log: Path, **env: str) -> subprocess.Popen:
    """A dispatcher on `db_url` with short polls and back-offs; `env` on top of the test's
    environment (a value None removes the variable)."""
    environ = dict(os.environ)
    environ.update(
        DATABASE_URL=db_url,
        KOORDINATOR_ENV="test",
        DISPATCH_POLL_S="0.02",
        DISPATCH_BATCH="20",
        DISPATCH_BACKOFF_BASE_S="0.05",
        DISPATCH_BACKOFF_MAX_S="0.2",
        DISPATCH_FLAG_INTERVAL_S="3600",
        WEBHOOK_TIMEOUT_S="2",
    )
    for key, value in env.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "server", "dispatch"],
            cwd=REPO_ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
