"""A real Mosquitto on a free port, started and stopped by tests.

``start_mosquitto(tmp_dir)`` writes a minimal config (anonymous access on 127.0.0.1,
Mosquitto's defaults otherwise, so no persistence and a 1,000-message queue), starts the
broker and waits until it accepts connections.  The returned :class:`BrokerProcess` can be
stopped, killed and restarted on the same port, which is what reconnect tests need.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


class BrokerError(RuntimeError):
    """The broker did not start."""


def find_mosquitto() -> str | None:
    """Path of a mosquitto binary: $MOSQUITTO, then PATH, then the usual places."""
    env = os.environ.get("MOSQUITTO")
    if env:
        return env
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class BrokerProcess:
    """A running mosquitto; ``restart()`` brings it back on the same port."""

    def __init__(self, binary: str, workdir: Path, port: int, conf_extra: str = "") -> None:
        self.binary = binary
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = port
        self.conf_extra = conf_extra
        self.conf_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_conf()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            # Running as root, mosquitto would switch to user "mosquitto"; stay who we are.
            f"user {_current_user()}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            self.conf_extra,
        ]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 5.0) -> None:
        if self.running:
            return
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {self.proc.returncode}: {self.log_text()[-2000:]}"
                )
            if wait_port(self.host, self.port, 0.1):
                return
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {self.port}: {self.log_text()[-2000:]}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop (SIGTERM)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as in a crash."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, timeout: float = 5.0) -> None:
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> BrokerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def start_mosquitto(
    tmp_dir: str | os.PathLike[str],
    port: int | None = None,
    conf_extra: str = "",
    binary: str | None = None,
) -> BrokerProcess:
    """Start mosquitto in ``tmp_dir`` on ``port`` (a free one when None)."""
    binary = binary or find_mosquitto()
    if binary is None:
        raise BrokerError("no mosquitto binary found (set $MOSQUITTO)")
    workdir = Path(tmp_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port is not None else 3
    last: BrokerError | None = None
    for _ in range(attempts):
        broker = BrokerProcess(binary, workdir, port or free_port(), conf_extra)
        try:
            broker.start()
            return broker
        except BrokerError as exc:  # the free port may have been taken meanwhile
            last = exc
    assert last is not None
    raise last
