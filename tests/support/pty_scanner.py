"""A serial barcode scanner simulated with a real pseudo-terminal.

The agent opens ``link_path``, a symlink standing in for ``/dev/serial/by-id/...``.
``unplug()`` closes the pseudo-terminal (the agent's reads fail as after a USB unplug);
``plug()`` makes a new one, usually with another ``/dev/pts/N``, and repoints the link,
as udev does when a replug renumbers ``ttyUSBx``.
"""

from __future__ import annotations

import os
import select
import time
import tty
from pathlib import Path


class PtyScanner:
    def __init__(self, link_path: str | os.PathLike[str], terminator: bytes = b"\r") -> None:
        self.link_path = Path(link_path)
        self.terminator = terminator
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    @property
    def device(self) -> str:
        assert self.slave is not None
        return os.ttyname(self.slave)

    def plug(self) -> None:
        master, slave = os.openpty()
        # Raw from the start, so nothing is echoed back before the agent opens it.
        tty.setraw(slave)
        self.master, self.slave = master, slave
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link_path)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def send(self, data: bytes) -> None:
        assert self.master is not None, "scanner is unplugged"
        os.write(self.master, data)

    def scan(self, code: str | bytes) -> None:
        data = code.encode() if isinstance(code, str) else code
        self.send(data + self.terminator)

    def read_until(self, expected: bytes, timeout: float = 5.0) -> bytes:
        """Bytes the agent wrote back, read until ``expected`` occurs (or the timeout)."""
        assert self.master is not None
        got = b""
        deadline = time.monotonic() + timeout
        while expected not in got:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    got += os.read(self.master, 4096)
                except OSError:
                    break
        return got

    def close(self) -> None:
        self.unplug()
        if self.link_path.is_symlink():
            self.link_path.unlink()
