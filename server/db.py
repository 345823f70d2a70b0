"""The database chosen from DATABASE_URL and bound late to the models' proxy.

SQLite (the default, a file under var/) runs in WAL mode with foreign keys on and
`BEGIN IMMEDIATE` transactions, so concurrent writers queue on the lock instead of
failing half-way. PostgreSQL is `postgresql://user:pass@host:5432/name`.

A SQLite file is private to the server's user: its directory is created 0700 and the file
0600 (SQLite gives its -wal and -shm the mode of the database file). Every database object
opened on it holds a shared lock on `<file>.inuse` as long as it exists, so `restore`
(server/backup.py) can tell that a server, ingest or command still has it open.
"""

from __future__ import annotations

import os
import threading
import weakref
from urllib.parse import urlparse

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handler only
    fcntl = None

import peewee as pw
from playhouse.db_url import connect, register_database
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from server.core import labeltemplates, reasonlist
from server.models import MODELS, LedgerEntry, Reason, database_proxy

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",  # durable across app crashes; WAL fsyncs at checkpoints
    "busy_timeout": 30000,
    "cache_size": -32000,
    # the statement journal of each scan's savepoint in memory: on file it took two
    # pwrite() calls for each of the ~14 pages a scan changes (SQLite spills it to a temp
    # file past 64 KiB); temp tables and sorts too (the pages sort small tables or read
    # in index order)
    "temp_store": "memory",
}


class WriterLock:
    """A cross-process lock taken around scan transactions on SQLite.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so writers from several
    web workers queue with long, unfair waits (a p99 of ~500 ms at 800 requests/s). An
    flock() on a file beside the database makes them wait in the kernel instead and wake
    as soon as the writer before them is done. Threads of one process share one lock file
    descriptor, so a threading lock orders them first.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._thread_lock = threading.Lock()

    def __enter__(self) -> WriterLock:
        self._thread_lock.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class DatabaseURLError(ValueError):
    """DATABASE_URL names no database we can open."""


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite:/// URL; None for any other database."""
    if urlparse(url).scheme != "sqlite":
        return None
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path:
        raise DatabaseURLError(f"{url!r}: use sqlite:///relative/path or sqlite:////abs")
    return path


def prepare_sqlite_file(path: str) -> None:
    """Create the directory (0700) and the empty database file (0600) if missing: SQLite
    itself would create them with the umask's mode, world-readable on most systems."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise DatabaseURLError(f"{path}: {exc.strerror or exc}") from None


def hold_database(db: pw.Database, path: str) -> None:
    """Hold a shared lock on `<path>.inuse` as long as `db` exists (see `restore`)."""
    if fcntl is None:
        return
    try:
        fd = os.open(os.path.abspath(path) + ".inuse", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseURLError(f"{path}.inuse: {exc.strerror or exc}") from None
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a restore replaces the file
    weakref.finalize(db, os.close, fd)


class PostgresDatabase(PooledPostgresqlDatabase):
    """PostgreSQL, pooled, where a scan batch's `BatchWrites` (server/core/pgbatch.py) sees
    each statement before it is sent: savepoints and ledger rows ride along with other
    statements instead of costing a round trip each. Outside a batch, plain peewee."""

    @property
    def batch_writes(self):
        return getattr(self._state, "batch_writes", None)  # per thread, as the connection

    @batch_writes.setter
    def batch_writes(self, writes) -> None:
        self._state.batch_writes = writes

    def execute_sql(self, sql, params=None):
        writes = getattr(self._state, "batch_writes", None)
        if writes is not None:
            sql = writes.before(sql)
        return super().execute_sql(sql, params)


register_database(PostgresDatabase, "postgresql+koordinator")


def make_database(url: str) -> pw.Database:
    """A peewee Database for `url` (sqlite:///path or postgresql://...)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = sqlite_path(url)
        if path != ":memory:":
            prepare_sqlite_file(path)
        # Pooled: a web request or an ingest batch reuses an open connection instead of
        # paying for connect + five pragmas each time (measured: a quarter of a request).
        db = PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            lock_type="IMMEDIATE",
            check_same_thread=False,
            max_connections=64,
            stale_timeout=300,
        )
        if path != ":memory:":
            hold_database(db, path)
        if path != ":memory:" and fcntl is not None:
            db.writer_lock = WriterLock(path + ".writelock")
        return db
    if parsed.scheme in ("postgres", "postgresql"):
        pooled = url.replace(f"{parsed.scheme}://", "postgresql+koordinator://", 1)
        try:
            return connect(pooled, max_connections=64, stale_timeout=300)
        except (RuntimeError, ValueError) as exc:
            raise DatabaseURLError(f"{redact_url(url)}: {exc}") from exc
    raise DatabaseURLError(f"{redact_url(url)}: only sqlite:/// and postgresql:// are supported")


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and error messages."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return url


def init_db(url: str) -> pw.Database:
    """Point the models at the database of `url` and return it."""
    db = make_database(url)
    database_proxy.initialize(db)
    return db


#: indexes earlier versions created that the schema no longer has; each was written on every
#: scan and no query searched by it (replaced by partial indexes, see models.LedgerEntry)
OBSOLETE_INDEXES = (
    "ledger_entry_operator_id",
    "ledger_entry_station_id",
    "ledger_entry_order_id",
    "ledger_entry_status",
)


def create_schema(db: pw.Database) -> list[str]:
    """Create every table and index that does not exist yet, drop the obsolete indexes of
    earlier versions and apply the pending migrations (idempotent: `init-db` on an existing
    database upgrades it). Returns the names of the migrations run."""
    from server import migrations

    # Statement by statement, not in one transaction: on PostgreSQL even a CREATE INDEX IF
    # NOT EXISTS takes a lock on its table, and holding those locks until the end would
    # block (or deadlock with) the scans of workers already running.
    with db.connection_context():
        # a database without the ledger is new: the models give it every column already
        fresh = not db.table_exists(LedgerEntry._meta.table_name)
        db.create_tables(MODELS, safe=True)
        seed_defaults()
        for name in OBSOLETE_INDEXES:
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        ran = migrations.apply(db, fresh)
        # after the migrations: the column it covers may have just been added (0003). Only
        # held rows enter it, so the scans of ordinary items never write it
        db.execute_sql('CREATE INDEX IF NOT EXISTS "item_held" ON "item" ("stage") WHERE "held"')
        # the plant floor's held units per station (server/core/plantfloor.py), read from
        # this index alone: through item_held each of the held rows was a seek into the
        # item table (5 ms a render for 1,000 held of 100,000 items)
        db.execute_sql(
            'CREATE INDEX IF NOT EXISTS "item_held_station" ON "item" ("station_id") WHERE "held"'
        )
        # the drill-down to a location's items; only a scan that changes an item's place
        # writes it (0009 adds the column)
        db.execute_sql('CREATE INDEX IF NOT EXISTS "item_location" ON "item" ("location_id")')
        # a shift's name is unique within its site, plant-wide shifts (null) counted as one
        # site (0016 adds the column and drops the old unique index on the name)
        db.execute_sql(
            'CREATE UNIQUE INDEX IF NOT EXISTS "shift_site_name" '
            'ON "shift" ("name", COALESCE("site_id", 0))'
        )
        return ran


def seed_defaults() -> None:
    """The reason list and the default label template of a new database."""
    if not Reason.select().exists():
        # seeded while the list is empty (a new database): afterwards the list is the
        # plant's own (docs/decisions.md), so a later default never appears uninvited;
        # reasons are deactivated, never deleted, so a used list is never empty
        reasonlist.seed_defaults()
    labeltemplates.seed_default()


def drop_schema(db: pw.Database) -> None:
    with db.connection_context():
        db.drop_tables(
            list(reversed(MODELS)),
            safe=True,
            cascade=isinstance(db, pw.PostgresqlDatabase),
        )
