"""Backup and restore of the SQLite database, and its file modes, on real processes.

The restore that matters is the one after a crash: a process writing to the database is
killed with SIGKILL, leaving its -wal and -shm beside the file; restoring a backup there must
give the backup's data, intact, and keep what the crash left aside."""

from __future__ import annotations

import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent

#: writes users in a loop, one transaction each, never checkpointing: the WAL keeps them all
WRITER = textwrap.dedent(
    """
    import sys
    from server import auth
    from server.db import create_schema, init_db
    db = init_db(sys.argv[1])
    create_schema(db)
    with db.connection_context():
        db.execute_sql("PRAGMA wal_autocheckpoint=0")
        n = 0
        while True:
            with db.atomic():
                auth.create_user(f"user{n}", "operator", None)
            n += 1
            print(n, flush=True)
    """
)


def cli(*args, db: Path, check=True):
    """`python -m server ARGS` on the database file `db` (test_cli's runner)."""
    return run(*args, env_extra={"DATABASE_URL": f"sqlite:///{db}"}, check=check)


def users(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute('SELECT count(*) FROM "user"').fetchone()[0]
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_written(writer: subprocess.Popen, rows: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = writer.stdout.readline()
        if line and int(line) >= rows:
            return
        assert writer.poll() is None, writer.stderr.read()
    raise AssertionError("the writer did not write")


def test_restore_after_kill_9_of_a_writer(tmp_path):
    db = tmp_path / "var" / "koordinator.db"
    backup = tmp_path / "nightly.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, f"sqlite:///{db}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_written(writer, 50)
        # online: a consistent copy while the writer goes on
        assert "backed up" in cli("backup", str(backup), db=db).stdout
        in_backup = users(backup)
        assert in_backup >= 50
        assert mode(backup) == 0o600
        assert not Path(f"{backup}-wal").exists()  # one self-contained file

        busy = cli("restore", str(backup), db=db, check=False)
        assert busy.returncode == 2 and "in use" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1

        wait_written(writer, in_backup + 50)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        writer.stderr.close()
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0  # the crash left committed transactions in the WAL

    out = cli("restore", str(backup), db=db).stdout
    assert "restored" in out
    assert not wal.exists() and not Path(f"{db}-shm").exists()
    assert users(db) == in_backup  # the backup's data, and integrity_check passes
    assert mode(db) == 0o600
    # the server takes it as it is: a command that reads it, and a write
    cli("create-user", "after-restore", "--no-password", db=db)
    assert users(db) == in_backup + 1
    # what the crash left is kept with its journal: opening it recovers the later rows
    kept = next(tmp_path.glob("var/koordinator.db.before-restore-*[0-9]"))
    assert users(kept) > in_backup


def test_backup_of_a_missing_database_and_restore_of_nonsense_change_nothing(tmp_path):
    db = tmp_path / "k.db"
    cli("init-db", db=db)
    cli("create-user", "ana", "--no-password", db=db)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    proc = cli("restore", str(junk), db=db, check=False)
    assert proc.returncode == 2, proc.stderr
    assert users(db) == 1 and not list(tmp_path.glob("k.db.*restor*"))


def test_database_files_are_private(tmp_path):
    """The directory 0700, the database, its -wal and -shm, its lock files and backups 0600,
    whatever the umask says (022 here: what SQLite alone gives makes them world-readable)."""
    db = tmp_path / "var" / "koordinator.db"
    script = textwrap.dedent(
        """
        import os, sys
        os.umask(0o022)
        from server import auth
        from server.db import create_schema, init_db
        db = init_db(sys.argv[1])
        create_schema(db)
        with db.connection_context():
            db.execute_sql("PRAGMA wal_autocheckpoint=0")
            with db.atomic():
                auth.create_user("ana", "operator", None)
            for suffix in ("", "-wal", "-shm", ".inuse"):
                print("db" + suffix, oct(os.stat(sys.argv[2] + suffix).st_mode & 0o777))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{db}", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    modes = dict(line.split() for line in proc.stdout.splitlines())
    assert set(modes.values()) == {"0o600"}, modes
    assert mode(db.parent) == 0o700
    cli("backup", str(tmp_path / "b.db"), db=db)
    assert mode(tmp_path / "b.db") == 0o600
