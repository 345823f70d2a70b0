"""The Makefile's promises, read from `make -n -B` (what it would run, nothing run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def would_run(target: str) -> str:
    proc = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("target", ["run", "demo"])
def test_running_installs_the_runtime_packages_only(target):
    out = would_run(target)
    assert "-r requirements.txt" in out
    assert "requirements-dev.txt" not in out  # no pytest, ruff, playwright on a server


@pytest.mark.parametrize("target", ["test", "lint"])
def test_testing_installs_the_tools_too(target):
    out = would_run(target)
    assert "-r requirements.txt" in out and "-r requirements-dev.txt" in out
