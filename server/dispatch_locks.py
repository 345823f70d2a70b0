"""One dispatcher per broker user: a lock per (broker, user) held by the dispatcher whose
`mqtt` and `andon` sinks connect as that user.

Mosquitto as deployed makes a connection's user name its client id
(`use_username_as_clientid`): two dispatcher processes whose sinks log in as one user throw
each other off in turn, and neither delivers. A dispatcher therefore takes this lock before
it opens a session for a broker user and keeps it until it stops; a second dispatcher on
the same database and user does not get it, leaves the sinks on that user to the first
(it says so once in its log) and tries again every few seconds, so it takes over when the
first one stops. Its other sinks (webhooks, printers, sinks on a user of its own) it
serves as before. docs/deploy.md "Client ids are pinned to user names".

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock(classid, objid)`) on a
  connection of its own, outside the pool, kept open as long as the lock is held; the lock
  goes with the process (or its connection). The connection is checked every few seconds:
  when it is gone (the database restarted), the locks are taken again or given up.
- SQLite: `flock()` on a file beside the database (`<file>.broker-<hash>.lock`); the kernel
  lets it go with the process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

try:
    import fcntl
except ImportError:  # Windows: no lock, as before
    fcntl = None

import peewee as pw

log = logging.getLogger(__name__)

#: the advisory lock class of these locks (two-int form: apart from the one-bigint locks
#: of the outbox, the flags and the migrations)
PG_LOCK_CLASS = 0x4B5A
#: how often a held PostgreSQL lock's connection is checked
CHECK_EVERY_S = 5.0


def lock_name(key: tuple) -> str:
    """(tls, host, port, user) as one stable text."""
    tls, host, port, user = key
    return f"{'mqtts' if tls else 'mqtt'}://{user or ''}@{host}:{port}"


def _digest(key: tuple) -> bytes:
    return hashlib.sha256(lock_name(key).encode()).digest()


class BrokerUserLocks:
    """`hold(key)`: True when this process holds, or has just taken, the lock of the broker
    user `key`; False while another process holds it. `close()` lets every lock go."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._held: dict[tuple, object] = {}
        self._conn = None  # PostgreSQL: the connection holding the advisory locks
        self._checked = 0.0
        self.postgres = isinstance(db, pw.PostgresqlDatabase)
        path = getattr(db, "database", None) or ""
        self._dir_file = path if not self.postgres and path and path != ":memory:" else None

    def hold(self, key: tuple) -> bool:
        with self._lock:
            if self.postgres:
                return self._hold_pg(key)
            return self._hold_file(key)

    # -- SQLite: a file lock --

    def _hold_file(self, key: tuple) -> bool:
        if key in self._held:
            return True
        if self._dir_file is None or fcntl is None:
            self._held[key] = None
            return True
        path = f"{self._dir_file}.broker-{_digest(key).hex()[:16]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._held[key] = fd
        return True

    # -- PostgreSQL: advisory locks on a connection of their own --

    def _objid(self, key: tuple) -> int:
        return int.from_bytes(_digest(key)[:4], "big", signed=True)

    def _connection(self):
        if self._conn is None:
            conn = self.db._connect()  # a raw connection with the database's settings
            conn.autocommit = True
            self._conn = conn
        return self._conn

    def _try(self, key: tuple) -> bool:
        with self._connection().cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (PG_LOCK_CLASS, self._objid(key)))
            return bool(cur.fetchone()[0])

    def _alive(self) -> bool:
        try:
            with self._connection().cursor() as cur:
                cur.execute("SELECT 1")
            return True
        except Exception:
            return False

    def _hold_pg(self, key: tuple) -> bool:
        now = time.monotonic()
        if self._held and now - self._checked >= CHECK_EVERY_S:
            self._checked = now
            if not self._alive():
                # the connection (and every lock on it) is gone: take them again
                self._drop_connection()
                lost = list(self._held)
                self._held.clear()
                for other in lost:
                    try:
                        if self._try(other):
                            self._held[other] = True
                        else:
                            log.warning("lost the lock of broker user %s", lock_name(other))
                    except Exception:
                        self._drop_connection()
                        log.warning("lost the lock of broker user %s", lock_name(other))
        if key in self._held:
            return True
        try:
            taken = self._try(key)
        except Exception:  # the database cannot be reached now: not ours (yet)
            self._drop_connection()
            return False
        if taken:
            self._held[key] = True
            self._checked = now
        return taken

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, {}
            for fd in held.values():
                if isinstance(fd, int) and not isinstance(fd, bool):
                    os.close(fd)  # the flock goes with it
            self._drop_connection()  # the advisory locks go with the connection
