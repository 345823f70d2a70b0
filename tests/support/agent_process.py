"""Run ``python -m scanner_agent`` as a real subprocess with a generated TOML config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = escaped.replace("\r", "\\r").replace("\n", "\\n")
        return f'"{escaped}"'
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    """Write ``{"scanner_id": .., "mqtt": {..}, ...}`` as TOML (one level of tables)."""
    top = [f"{k} = {toml_value(v)}" for k, v in settings.items() if not isinstance(v, dict)]
    tables = []
    for key, value in settings.items():
        if isinstance(value, dict):
            tables.append(f"\n[{key}]")
            tables.extend(f"{k} = {toml_value(v)}" for k, v in value.items())
    path.write_text("\n".join(top + tables) + "\n")
    return path


class AgentProcess:
    def __init__(self, config_path: Path, workdir: Path, *extra_args: str, stdin=None) -> None:
        self.config_path = config_path
        self.workdir = workdir
        self.extra_args = extra_args
        self.stdin = stdin
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"agent-{self.runs}.out"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"agent-{self.runs}.err"

    def start(self) -> AgentProcess:
        self.runs += 1
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("KOORDINATOR_MQTT_PASSWORD", None)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scanner_agent", "--config", str(self.config_path)]
                + list(self.extra_args),
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=err,
                stdin=self.stdin if self.stdin is not None else subprocess.DEVNULL,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as in a crash or a power cut of the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait_log(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            if not self.alive():
                return text in self.stderr()
            time.sleep(0.05)
        return False

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def all_stderr(self) -> str:
        return "".join(
            (self.workdir / f"agent-{n}.err").read_text(errors="replace")
            for n in range(1, self.runs + 1)
            if (self.workdir / f"agent-{n}.err").exists()
        )
