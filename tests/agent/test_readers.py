"""Readers: line cleaning, splitting, a real pseudo-terminal, RFID repeat window."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner_agent.readers import (
    LineSplitter,
    RfidReader,
    SerialReader,
    StdinReader,
    clean_line,
    normalise_epc,
)
from tests.support.pty_scanner import PtyScanner


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"ABC-123", "ABC-123"),
        (b"  A1  ", "A1"),
        (b"]C1010950123456789310ABC\x1d21XYZ", "]C1010950123456789310ABC\x1d21XYZ"),
        (b"\x00\x01AB\x7fC\x1b", "ABC"),
        (b"\xff\xfeAB", "\ufffd\ufffdAB"),
        (b"\n", ""),
        (b"caf\xc3\xa9", "caf\u00e9"),
    ],
)
def test_clean_line(raw: bytes, expected: str) -> None:
    assert clean_line(raw) == expected


def test_splitter_joins_chunks_and_splits_crlf() -> None:
    s = LineSplitter(b"\r\n", max_line=100)
    assert s.feed(b"AB") == []
    assert s.feed(b"C\r") == []
    assert s.feed(b"\nD\r\nE") == [b"ABC", b"D"]
    assert s.feed(b"\r\n") == [b"E"]


def test_splitter_drops_over_long_lines_and_recovers() -> None:
    s = LineSplitter(b"\r", max_line=16)
    assert s.feed(b"X" * 40) == []
    assert s.feed(b"Y" * 40) == []
    assert s.feed(b"tail\rOK\r") == [b"OK"]
    assert s.feed(b"Z" * 17 + b"\rFINE\r") == [b"FINE"]
    assert s.dropped == 2


def test_stdin_reader_until_eof() -> None:
    reader = StdinReader(io.BytesIO(b"A1\r\n\nB2\n  \nC3"))
    assert list(reader.lines()) == ["A1", "B2"]


def test_normalise_epc() -> None:
    assert normalise_epc("3034 257b f7194e40 00001a85") == "3034257BF7194E4000001A85"
    assert normalise_epc("30:34-25") == "303425"
    assert normalise_epc("hello") is None
    assert normalise_epc("ABC") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ListReader(StdinReader):
    def __init__(self, script: list[tuple[float, str]], clock: FakeClock) -> None:
        super().__init__()
        self.script, self.clock = script, clock

    def lines(self) -> Iterator[str]:
        for at, line in self.script:
            self.clock.now = 1000.0 + at
            yield line


def test_rfid_repeats_inside_the_window_count_once() -> None:
    clock = FakeClock()
    tag_a, tag_b = "3034257bf7194e4000001a85", "3034257BF7194E4000001A86"
    script = [(0.0, tag_a), (0.1, tag_a), (0.2, tag_b), (4.9, tag_a.upper()), (5.0, tag_a)]
    script += [(5.1, "not an epc"), (6.0, tag_b), (9.9, tag_a), (10.0, tag_a)]
    reader = RfidReader(ListReader(script, clock), window=5.0, clock=clock)
    assert reader.source == "rfid"
    assert list(reader.lines()) == [tag_a.upper(), tag_b, tag_a.upper(), tag_b, tag_a.upper()]


@pytest.fixture
def serial_reader(pty_scanner: PtyScanner) -> Iterator[tuple[SerialReader, list[str]]]:
    reader = SerialReader(str(pty_scanner.link_path), 9600, b"\r", max_line=64)
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.extend(reader.lines()), daemon=True)
    thread.start()
    yield reader, got
    reader.close()
    thread.join(2)
    assert not thread.is_alive()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_serial_reader_on_a_pty(serial_reader, pty_scanner: PtyScanner) -> None:
    reader, got = serial_reader
    assert wait_for(lambda: reader.opens == 1)
    pty_scanner.send(b"A1\rB")
    pty_scanner.send(b"2\r\r\xff\x00garbage\x1dX\r" + b"Q" * 200 + b"\rAFTER\r")
    assert wait_for(lambda: len(got) >= 4), got
    assert got == ["A1", "B2", "\ufffdgarbage\x1dX", "AFTER"]
    assert reader.write(b"\x07OK")
    assert pty_scanner.read_until(b"\x07OK", 2) == b"\x07OK"


def test_serial_reader_follows_a_replug(serial_reader, pty_scanner: PtyScanner) -> None:
    reader, got = serial_reader
    assert wait_for(lambda: reader.opens == 1)
    pty_scanner.scan("BEFORE")
    assert wait_for(lambda: got == ["BEFORE"])
    pty_scanner.unplug()
    assert wait_for(lambda: not reader.write(b"x"))
    pty_scanner.plug()
    assert wait_for(lambda: reader.opens == 2)
    pty_scanner.scan("AFTER")
    assert wait_for(lambda: got == ["BEFORE", "AFTER"]), got

    # A replug that renumbers the device: the new one appears while the old one still
    # exists, so it surely gets another /dev/pts number; the link follows it.
    old_master, old_slave, old_device = pty_scanner.master, pty_scanner.slave, pty_scanner.device
    pty_scanner.plug()
    os.close(old_master)
    os.close(old_slave)
    assert os.path.realpath(pty_scanner.link_path) == pty_scanner.device != old_device
    assert wait_for(lambda: reader.opens == 3)
    pty_scanner.scan("RENUMBERED")
    assert wait_for(lambda: got == ["BEFORE", "AFTER", "RENUMBERED"]), got


def test_serial_reader_waits_for_a_missing_port(tmp_path: Path) -> None:
    link = tmp_path / "not-yet"
    reader = SerialReader(str(link), 9600, b"\r")
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.extend(reader.lines()), daemon=True)
    thread.start()
    time.sleep(0.3)
    scanner = PtyScanner(link)
    try:
        assert wait_for(lambda: reader.opens == 1)
        scanner.scan("LATE")
        assert wait_for(lambda: got == ["LATE"])
    finally:
        reader.close()
        thread.join(2)
        scanner.close()
