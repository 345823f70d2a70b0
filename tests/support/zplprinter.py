"""A raw-TCP label printer stand-in (port 9100 style) on a free local port: every
connection is one job, kept as the bytes received. It can be switched off (the port
refuses connections) and on again on the same port, like a Zebra at a station."""

from __future__ import annotations

import re
import socket
import threading
import time


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ZplPrinter:
    def __init__(self, port: int | None = None, *, on: bool = True, delay: float = 0.0):
        self.port = port or free_port()
        self.delay = delay
        self.jobs: list[bytes] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        if on:
            self.switch_on()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def switch_on(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(0.1)
        self._server = server
        self._thread = threading.Thread(target=self._serve, args=(server,), daemon=True)
        self._thread.start()

    def switch_off(self) -> None:
        server, self._server = self._server, None
        if self._thread is not None:
            self._thread.join(5)
        if server is not None:
            server.close()

    def _serve(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                got = bytearray()
                while chunk := conn.recv(65536):
                    got.extend(chunk)
                if self.delay:
                    time.sleep(self.delay)
            with self._lock:
                self.jobs.append(bytes(got))

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self.jobs)

    def __enter__(self) -> ZplPrinter:
        return self

    def __exit__(self, *exc) -> None:
        self.switch_off()


def zpl_fields(zpl: str) -> list[tuple[str, str]]:
    """Each field of a ZPL format as (the commands before ^FD, the ^FD data)."""
    return re.findall(r"\^FO[^\^]*((?:\^(?!FD)[^\^]*)*)\^FD(.*?)\^FS", zpl, flags=re.S)


def barcode_data(zpl: str) -> str:
    """The data of the ^BC (Code 128) field, with its start-code invocation."""
    return re.search(r"\^BCN,\d+,N,N,N,N\^FH\^FD(.*?)\^FS", zpl).group(1)
