"""One dispatcher per broker user: a lock per broker user name, held by the dispatcher
whose `mqtt` and `andon` sinks connect as that user.

Mosquitto as deployed makes a connection's user name its client id
(`use_username_as_clientid`): two dispatcher processes whose sinks log in as one user throw
each other off in turn, and neither delivers. A dispatcher therefore takes this lock before
it opens a session for a broker user and keeps it until it stops; a second dispatcher on
the same database and user does not get it, leaves the sinks on that user to the first
(it says so once in its log) and tries again every few seconds, so it takes over when the
first one stops. Its other sinks (webhooks, printers, sinks on a user of its own) it
serves as before. docs/deploy.md "Client ids are pinned to user names".

The lock is keyed by the user name only, not by how the broker's address is written
(`localhost` and `127.0.0.1`, a name and an IP): one broker per plant database.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock(classid, objid)`) on a
  connection of its own, opened with psycopg2 outside the database's pool (closed here,
  never given back to it), kept open as long as a lock is held. Every round trip on it is
  bounded (`IO_TIMEOUT_S`, an asynchronous connection polled with a deadline) and made
  with no in-process lock held that `hold()` of a held user waits for. A heartbeat thread
  runs `SELECT 1` on it every `CHECK_EVERY_S`; when that fails the locks are taken as
  lost (the sinks on them let their session go) and taken again at the next `hold()`.
  The server lets the lock go within `GONE_AFTER_S` of its holder falling silent (a
  crashed host, a cut link, a frozen process): the session's `idle_session_timeout`
  (PostgreSQL 14+; the heartbeat keeps a live holder's session busy), and TCP keepalives
  on both ends (`tcp_keepalives_*`, `tcp_user_timeout`) for older servers.
- SQLite: `flock()` on a file beside the database (`<file>.broker-<hash>.lock`); the kernel
  lets it go with the process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
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
#: how often the heartbeat checks a held PostgreSQL lock's connection
CHECK_EVERY_S = 5.0
#: the longest any round trip on the lock connection (connect included) may take
IO_TIMEOUT_S = 5.0
#: the server ends the lock connection of a holder silent this long (its lock goes)
GONE_AFTER_S = 30.0
#: after the database could not be reached, `hold()` of a user not held answers False
#: without trying for this long (sink threads do not queue for round trips on a dead link)
RETRY_S = 2.0


def broker_user(key) -> str:
    """The lock's name: the broker user of a key (tls, host, port, user), or a user name."""
    user = key[3] if isinstance(key, tuple) else key
    return user or ""


def lock_name(key) -> str:
    return broker_user(key) or "(anonymous)"


def _digest(key) -> bytes:
    return hashlib.sha256(broker_user(key).encode()).digest()


def _session_settings() -> dict[str, str]:
    """The lock connection's server settings (those the server knows are set)."""
    gone_ms = int(GONE_AFTER_S * 1000)
    idle = max(1, int(GONE_AFTER_S / 3))
    return {
        "idle_session_timeout": str(gone_ms),
        "statement_timeout": str(int(IO_TIMEOUT_S * 1000)),
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(max(1, idle // 2)),
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": str(gone_ms // 2),
    }


def _client_settings() -> dict:
    """libpq's keepalives on the lock connection: a silent server is noticed."""
    import psycopg2

    idle = max(1, int(GONE_AFTER_S / 3))
    params = {
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": max(1, idle // 2),
        "keepalives_count": 3,
    }
    if psycopg2.__libpq_version__ >= 120000:
        params["tcp_user_timeout"] = int(GONE_AFTER_S * 1000) // 2
    return params


class BrokerUserLocks:
    """`hold(key)`: True when this process holds, or has just taken, the lock of the broker
    user of `key`; False while another process holds it (or the database cannot be reached,
    or after `close()`). `close()` lets every lock go; no lock is taken after it."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        #: guards the fields below; never held during I/O
        self._state = threading.Lock()
        #: one round trip at a time on the lock connection (each bounded)
        self._io = threading.Lock()
        self._held: dict[str, object] = {}
        self._closed = False
        #: monotonic time before which the database is not tried again (it was unreachable)
        self._down_until = 0.0
        self._conn = None  # PostgreSQL: the connection holding the advisory locks
        self._beat: threading.Thread | None = None
        self._stopping = threading.Event()
        self.postgres = isinstance(db, pw.PostgresqlDatabase)
        path = getattr(db, "database", None) or ""
        self._dir_file = path if not self.postgres and path and path != ":memory:" else None

    def _known(self, user: str) -> bool | None:
        """The answer without a round trip: False after close() or while the database is
        down, True while held; None: the database must be asked."""
        with self._state:
            if self._closed:
                return False
            if user in self._held:
                return True
            if time.monotonic() < self._down_until:
                return False
        return None

    def hold(self, key) -> bool:
        user = broker_user(key)
        known = self._known(user)
        if known is not None:
            return known
        # a round trip is bounded; another's under way is waited for at most that long
        if not self._io.acquire(timeout=2 * IO_TIMEOUT_S + 1):
            return False
        try:
            known = self._known(user)  # again: the round trip waited for may have settled it
            if known is not None:
                return known
            taken = self._try_pg(user) if self.postgres else self._try_file(user)
            if taken is False:
                return False
            with self._state:
                self._held[user] = taken
            if self.postgres:
                self._start_heartbeat()
            return True
        finally:
            self._io.release()

    # -- SQLite: a file lock --

    def _try_file(self, user: str):
        if self._dir_file is None or fcntl is None:
            return None
        path = f"{self._dir_file}.broker-{_digest(user).hex()[:16]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        return fd

    # -- PostgreSQL: advisory locks on a connection of their own --

    @staticmethod
    def _objid(user: str) -> int:
        return int.from_bytes(_digest(user)[:4], "big", signed=True)

    def _try_pg(self, user: str):
        """Under `_io`. True: taken; False: another's, or the database cannot be reached."""
        fresh = self._conn is None
        for _attempt in range(2):
            try:
                row = self._query(
                    "SELECT pg_try_advisory_lock(%s, %s)", (PG_LOCK_CLASS, self._objid(user))
                )
                return True if row[0] else False
            except Exception as exc:
                self._lost(f"its database connection failed ({exc})")
                if fresh:  # the database cannot be reached now: not ours (yet)
                    with self._state:
                        self._down_until = time.monotonic() + RETRY_S
                    return False
                fresh = True  # an old connection (idle, dropped): once more on a new one
        return False

    def _wait(self, conn, deadline: float) -> None:
        import psycopg2.extensions as ext

        while True:
            state = conn.poll()
            if state == ext.POLL_OK:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from the database within {IO_TIMEOUT_S:g} s")
            if state == ext.POLL_READ:
                select.select([conn.fileno()], [], [], left)
            elif state == ext.POLL_WRITE:
                select.select([], [conn.fileno()], [], left)
            else:
                raise RuntimeError(f"psycopg2 poll() state {state}")

    def _connect(self):
        """A connection of its own (not the pool's), asynchronous: every wait bounded."""
        import psycopg2

        params = {**self.db.connect_params, **_client_settings()}
        conn = psycopg2.connect(dbname=self.db.database, async_=1, **params)
        try:
            self._wait(conn, time.monotonic() + IO_TIMEOUT_S)
            names = list(_session_settings().items())
            values = ", ".join(["(%s, %s)"] * len(names))
            cur = conn.cursor()
            cur.execute(
                f"SELECT set_config(s.name, s.value, false) FROM (VALUES {values}) "
                "AS s(name, value) JOIN pg_settings p ON p.name = s.name",
                [x for pair in names for x in pair],
            )
            self._wait(conn, time.monotonic() + IO_TIMEOUT_S)
            cur.fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _query(self, sql: str, params=()):
        """Under `_io`: one statement on the lock connection, its first row."""
        if self._conn is None:
            self._conn = self._connect()
        cur = self._conn.cursor()
        cur.execute(sql, params)
        self._wait(self._conn, time.monotonic() + IO_TIMEOUT_S)
        return cur.fetchone()

    def _lost(self, why: str) -> None:
        """Under `_io`: the lock connection is gone, and every lock on it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass
        with self._state:
            lost, self._held = list(self._held), {}
        for user in lost:
            log.warning("lost the lock of broker user %s: %s", lock_name(user), why)

    def _start_heartbeat(self) -> None:
        with self._state:
            if self._beat is not None or self._closed:
                return
            self._beat = threading.Thread(
                target=self._heartbeat, name="broker-user-locks", daemon=True
            )
        self._beat.start()

    def _heartbeat(self) -> None:
        """Every CHECK_EVERY_S while a lock is held: a round trip on its connection (keeps
        the session from the server's idle timeout; finds out when it is gone)."""
        while not self._stopping.wait(CHECK_EVERY_S):
            with self._state:
                if not self._held:
                    continue
            if not self._io.acquire(blocking=False):
                continue  # a `hold()` is making a round trip on it now
            try:
                if self._closed or not self._held:
                    continue
                try:
                    self._query("SELECT 1")
                except Exception as exc:
                    self._lost(f"its database connection failed ({exc})")
            finally:
                self._io.release()

    def close(self) -> None:
        with self._state:
            self._closed = True
        self._stopping.set()
        with self._io:  # after a round trip under way (bounded)
            with self._state:
                held, self._held = self._held, {}
            for fd in held.values():
                if isinstance(fd, int) and not isinstance(fd, bool):
                    os.close(fd)  # the flock goes with it
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()  # the advisory locks go with the connection
                except Exception:
                    pass
