"""Line sources: a serial scanner, standard input, and an RFID filter over either.

A :class:`Reader` yields decoded, cleaned lines from :meth:`Reader.lines` until
:meth:`Reader.close` is called (or its input ends).  Readers that can talk back to the
device (the serial one) accept feedback bytes through :meth:`Reader.write`.

Cleaning is the same everywhere: bytes are decoded as UTF-8 with ``errors="replace"``,
every non-printable character except GS (``\\x1d``, the GS1 field separator) is dropped,
surrounding spaces are stripped and empty lines are skipped.  An over-long line (no
terminator within ``max_line`` bytes) is discarded up to the next terminator.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import serial

log = logging.getLogger(__name__)

GS = "\x1d"


class ReaderError(RuntimeError):
    """A reader could not be set up at all (not raised for recoverable I/O errors)."""


def clean_line(raw: bytes) -> str:
    """Decode one raw line and drop what a scanner cannot mean (see module doc)."""
    text = raw.decode("utf-8", errors="replace")
    text = "".join(ch for ch in text if ch == GS or ch.isprintable())
    return text.strip(" ")


class LineSplitter:
    """Cuts a byte stream into lines on a terminator, with an over-long line guard."""

    def __init__(self, terminator: bytes, max_line: int = 4096) -> None:
        self.terminator = terminator
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf.extend(chunk)
        lines = []
        while True:
            idx = self._buf.find(self.terminator)
            if idx < 0:
                break
            line = bytes(self._buf[:idx])
            del self._buf[: idx + len(self.terminator)]
            if self._discarding:
                self._discarding = False
                continue
            if len(line) > self.max_line:
                self._drop()
                continue
            lines.append(line)
        if len(self._buf) > self.max_line:
            # Keep the tail that may hold the start of a terminator split over reads.
            keep = len(self.terminator) - 1
            del self._buf[: len(self._buf) - keep]
            if not self._discarding:
                self._drop()
            self._discarding = True
        return lines

    def _drop(self) -> None:
        self.dropped += 1
        log.warning("discarding a line longer than %d bytes", self.max_line)


class Reader:
    """The interface every line source offers."""

    source = "barcode"

    def lines(self) -> Iterator[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop :meth:`lines` soon; safe to call from another thread."""

    def write(self, data: bytes) -> bool:
        """Send bytes back to the device; False when it cannot (not supported, unplugged)."""
        return False


class SerialReader(Reader):
    """A serial (USB-serial, RS-232) barcode scanner.

    ``port`` may be a stable ``/dev/serial/by-id/...`` symlink; it is resolved at every
    open, so a replug that renumbers ``ttyUSBx`` is followed.  Any I/O error closes the
    port and it is reopened with a backoff of 0.1 s doubling up to ``max_backoff``.
    """

    def __init__(
        self,
        port: str,
        baud: int = 9600,
        terminator: bytes = b"\r",
        max_line: int = 4096,
        *,
        read_timeout: float = 0.2,
        max_backoff: float = 2.0,
        open_serial: Callable[..., serial.SerialBase] = serial.Serial,
    ) -> None:
        self.port = port
        self.baud = baud
        self.terminator = terminator
        self.max_line = max_line
        self.read_timeout = read_timeout
        self.max_backoff = max_backoff
        self._open_serial = open_serial
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._serial: serial.SerialBase | None = None
        self.opens = 0

    def _open(self) -> serial.SerialBase:
        device = os.path.realpath(self.port)
        ser = self._open_serial(device, self.baud, timeout=self.read_timeout)
        return ser

    def lines(self) -> Iterator[str]:
        backoff = 0.1
        failures = 0
        while not self._closed.is_set():
            try:
                ser = self._open()
            except (serial.SerialException, OSError) as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "serial port %s not available (%s); retrying", self.port, exc)
                self._closed.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff, failures = 0.1, 0
            self.opens += 1
            log.info("serial port %s open (%s)", self.port, ser.port)
            with self._lock:
                self._serial = ser
            try:
                yield from self._read_lines(ser)
            except (serial.SerialException, OSError) as exc:
                log.warning("serial port %s lost (%s); reopening", self.port, exc)
            finally:
                with self._lock:
                    self._serial = None
                try:
                    ser.close()
                except (serial.SerialException, OSError):
                    pass

    def _read_lines(self, ser: serial.SerialBase) -> Iterator[str]:
        splitter = LineSplitter(self.terminator, self.max_line)
        while not self._closed.is_set():
            chunk = ser.read(ser.in_waiting or 1)
            if not chunk:
                continue
            for raw in splitter.feed(chunk):
                line = clean_line(raw)
                if line:
                    yield line

    def write(self, data: bytes) -> bool:
        if not data:
            return True
        with self._lock:
            ser = self._serial
            if ser is None:
                return False
            try:
                ser.write(data)
                ser.flush()
            except (serial.SerialException, OSError) as exc:
                log.warning("could not write feedback to %s: %s", self.port, exc)
                return False
        return True

    def close(self) -> None:
        self._closed.set()


class StdinReader(Reader):
    """Lines typed or piped on standard input (LF or CRLF); :meth:`lines` ends at EOF."""

    def __init__(self, stream: BinaryIO | None = None, max_line: int = 4096) -> None:
        self._stream = stream
        self.max_line = max_line
        self._closed = threading.Event()

    def lines(self) -> Iterator[str]:
        stream = self._stream if self._stream is not None else sys.stdin.buffer
        splitter = LineSplitter(b"\n", self.max_line)
        read = getattr(stream, "read1", stream.read)
        while not self._closed.is_set():
            chunk = read(65536)
            if not chunk:
                break
            for raw in splitter.feed(chunk):
                line = clean_line(raw)
                if line:
                    yield line

    def close(self) -> None:
        self._closed.set()


def normalise_epc(line: str) -> str | None:
    """Upper-case hex EPC from a reader line (spaces, ':' and '-' removed); None if not hex."""
    text = "".join(ch for ch in line if ch not in " :-").upper()
    if 4 <= len(text) <= 128 and len(text) % 2 == 0 and all(c in "0123456789ABCDEF" for c in text):
        return text
    return None


class RepeatFilter:
    """Lets a key through once per window: reads inside ``window`` s of the counted one drop.

    The window runs from the read that was counted, not from the latest read, so a tag
    left lying in the field is counted again every ``window`` seconds.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._last: dict[str, float] = {}

    def accept(self, key: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            return False
        self._last[key] = now
        if len(self._last) > 4096:
            self._last = {k: t for k, t in self._last.items() if now - t < self.window}
        return True


class RfidReader(Reader):
    """An RFID reader that emits one EPC in hex per line, over any other :class:`Reader`."""

    source = "rfid"

    def __init__(
        self, inner: Reader, window: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self.filter = RepeatFilter(window, clock)

    def lines(self) -> Iterator[str]:
        for line in self.inner.lines():
            epc = normalise_epc(line)
            if epc is None:
                log.warning("ignoring a line that is not an EPC in hex: %r", line[:80])
                continue
            if self.filter.accept(epc):
                yield epc
            else:
                log.debug("repeat read of %s inside the window", epc)

    def write(self, data: bytes) -> bool:
        return self.inner.write(data)

    def close(self) -> None:
        self.inner.close()
