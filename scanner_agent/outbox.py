"""The durable outbox: every scan is in this SQLite file before it is published.

A scan enters with :meth:`Outbox.add` (committed and synced to disk before the call
returns), is published as often as needed (:meth:`Outbox.due`, :meth:`Outbox.mark_sent`)
and leaves only through :meth:`Outbox.ack`, when the server's result for its ``scan_id``
arrives.  Order is insertion order (an autoincrement ``seq``).

Durability: WAL journal with ``synchronous=FULL`` for ``add``.  In WAL mode ``NORMAL``
already survives a killed process (the committed WAL frames sit in the OS page cache),
but a power cut or kernel panic can lose the last commits; a shop-floor PC gets switched
off at the wall, and the scanner has already beeped, so ``add`` pays one fsync per scan
(about a millisecond - nothing at human scan rates).  ``ack`` and ``mark_sent`` run with
``NORMAL``: losing one of those only causes a resend, which the server deduplicates.

One connection is shared by the agent's threads behind a lock.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id    TEXT NOT NULL UNIQUE,
    code       TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    source     TEXT NOT NULL,
    qty,
    station    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    sent_at    REAL
)
"""
COLUMNS = "seq, scan_id, code, scanned_at, source, qty, station, attempts, sent_at"


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True)
class Scan:
    seq: int
    scan_id: str
    code: str
    scanned_at: str
    source: str
    qty: float | int | None = None
    station: str | None = None
    attempts: int = 0
    sent_at: float | None = None

    def payload(self) -> dict[str, Any]:
        """The wire-contract scan payload (``qty`` and ``station`` only when set)."""
        body: dict[str, Any] = {
            "scan_id": self.scan_id,
            "code": self.code,
            "scanned_at": self.scanned_at,
            "source": self.source,
        }
        if self.qty is not None:
            body["qty"] = self.qty
        if self.station is not None:
            body["station"] = self.station
        return body


def new_scan_id() -> str:
    """32 hex digits: the time in milliseconds (12), then 80 random bits (20), the layout
    of a UUIDv7. As unique as a random uuid4, and in time order: the server's unique index
    on the ledger's scan_id grows at its end instead of at random places, so a commit
    writes fewer index pages and a ledger of millions of scans keeps that index's hot
    part in cache (docs/protocol.md)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def utc_now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Outbox:
    def __init__(
        self,
        path: str | Path,
        *,
        id_factory: Callable[[], str] = new_scan_id,
        timestamp: Callable[[], str] = utc_now_rfc3339,
    ) -> None:
        self.path = Path(path)
        self._new_id = id_factory
        self._timestamp = timestamp
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc

    @contextmanager
    def _tx(self, relaxed: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if relaxed:
                    self._db.execute("PRAGMA synchronous=NORMAL")
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        yield self._db
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise
                    self._db.execute("COMMIT")
                finally:
                    if relaxed:
                        self._db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def add(
        self,
        code: str,
        source: str = "barcode",
        qty: float | int | None = None,
        station: str | None = None,
    ) -> Scan:
        """Persist a new scan with a fresh ``scan_id``; durable when this returns."""
        scan_id, scanned_at = self._new_id(), self._timestamp()
        if not 1 <= len(scan_id) <= 64:
            raise ValueError("scan_id must be 1-64 characters")
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO outbox (scan_id, code, scanned_at, source, qty, station)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (scan_id, code, scanned_at, source, qty, station),
            )
            seq = cur.lastrowid
        return Scan(seq, scan_id, code, scanned_at, source, qty, station)

    def pending(self, limit: int | None = None) -> list[Scan]:
        """Unacknowledged scans, oldest first."""
        sql = f"SELECT {COLUMNS} FROM outbox ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._select(sql, ())

    def due(self, sent_before: float, limit: int = 500) -> list[Scan]:
        """Scans never sent (since :meth:`reset_sent`) or last sent before ``sent_before``."""
        return self._select(
            f"SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL OR sent_at < ?"
            f" ORDER BY seq LIMIT {int(limit)}",
            (sent_before,),
        )

    def in_flight(self, sent_since: float) -> int:
        """How many scans were sent at or after ``sent_since`` and are still unanswered."""
        with self._lock:
            return self._db.execute(
                "SELECT count(*) FROM outbox WHERE sent_at >= ?", (sent_since,)
            ).fetchone()[0]

    def get(self, scan_id: str) -> Scan | None:
        rows = self._select(f"SELECT {COLUMNS} FROM outbox WHERE scan_id = ?", (scan_id,))
        return rows[0] if rows else None

    def _select(self, sql: str, params: tuple) -> list[Scan]:
        with self._lock:
            try:
                return [Scan(*row) for row in self._db.execute(sql, params)]
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def mark_sent(self, scan_ids: list[str], when: float) -> None:
        """Record a publish (time and attempt count) of these scans."""
        if not scan_ids:
            return
        with self._tx(relaxed=True) as db:
            db.executemany(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE scan_id = ?",
                [(when, sid) for sid in scan_ids],
            )

    def reset_sent(self) -> None:
        """Make every pending scan due now (after a (re)connect)."""
        with self._tx(relaxed=True) as db:
            db.execute("UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL")

    def ack(self, scan_id: str) -> Scan | None:
        """Remove the scan the server answered; returns it, or None if it was not here."""
        with self._tx(relaxed=True) as db:
            row = db.execute(
                f"DELETE FROM outbox WHERE scan_id = ? RETURNING {COLUMNS}", (scan_id,)
            ).fetchone()
        return None if row is None else Scan(*row)

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
