"""`python -m server backup FILE` and `restore FILE`: copies of the SQLite database.

Backup uses SQLite's online backup API: a consistent copy while the server writes, as one
self-contained file (rollback journal, no -wal beside it), created 0600.

Restore is the step people get wrong by hand: copying a backup over the database while a
crashed process's `-wal` is still beside it makes SQLite replay that journal onto the
restored pages, and the result is corrupt. Here restore refuses while any process holds the
database (every process that opens it holds a shared lock on `<db>.inuse`, server/db.py),
checks the backup (SQLite's quick_check and the Koordinator tables), writes it to a
temporary file beside the database, moves the old database WITH its -wal and -shm aside to
`<db>.before-restore-<time>` (opening that file later recovers what the crash left), and
only then renames the copy into place. PostgreSQL has its own tools (pg_dump, pg_restore:
docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

try:
    import fcntl
except ImportError:  # Windows: no holder lock; stop the server before restoring
    fcntl = None

#: tables a Koordinator database has whatever its version
REQUIRED_TABLES = ("user", "item", "product")


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


def backup(db_path: str, target: str) -> int:
    """Copy the database at `db_path` to `target` (replaced atomically). Returns bytes."""
    if not os.path.isfile(db_path):
        raise BackupError(f"no database at {db_path} (check DATABASE_URL)")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise BackupError(f"cannot write {target}: no directory {folder}")
    if os.path.exists(target) and os.path.samefile(target, db_path):
        raise BackupError(f"{target} is the database itself; name another file")
    tmp = f"{target}.partial"
    _create_private(tmp)
    try:
        _copy(db_path, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return os.path.getsize(target)


def restore(source: str, db_path: str) -> str:
    """Replace the database at `db_path` by the backup `source`, safely (see the module).
    Returns the name the previous database was kept under ('' if there was none)."""
    if not os.path.isfile(source):
        raise BackupError(f"no backup file {source}")
    folder = os.path.dirname(os.path.abspath(db_path))
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700)
    with _exclusive(db_path):
        tmp = f"{db_path}.restoring"
        _create_private(tmp)
        try:
            try:
                _copy(source, tmp)
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a usable SQLite database: {exc}") from None
            check_backup(tmp, name=source)
        except BaseException:
            os.unlink(tmp)
            raise
        kept = ""
        if any(os.path.exists(db_path + s) for s in ("", "-wal", "-shm")):
            kept = f"{db_path}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db_path + suffix):
                    os.replace(db_path + suffix, kept + suffix)
        os.replace(tmp, db_path)
        _fsync_dir(folder)
    return kept


def check_backup(path: str, name: str | None = None) -> None:
    """A readable SQLite file that passes quick_check and has the Koordinator tables."""
    name = name or path
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{name} is not a usable SQLite database: {exc}") from None
    if ok != "ok":
        raise BackupError(f"{name} is damaged (quick_check: {ok})")
    missing = [t for t in REQUIRED_TABLES if t not in names]
    if missing:
        raise BackupError(f"{name} is not a Koordinator database (no table {missing[0]})")


def _copy(source: str, target: str) -> None:
    """SQLite's backup API: a consistent snapshot of `source`, even while it is written."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # one self-contained file: no -wal to forget when it is copied or moved
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _exclusive(db_path: str):
    """The `.inuse` lock alone, or BackupError if any process holds the database."""
    if fcntl is None:
        yield
        return
    fd = os.open(os.path.abspath(db_path) + ".inuse", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"{db_path} is in use (a server, ingest or command has it open): stop them "
                "first, e.g. systemctl stop 'koordinator-*'"
            ) from None
        yield
    finally:
        os.close(fd)


def _create_private(path: str) -> None:
    """A new empty file only its owner can read (an old one may have another mode)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
