"""`make test`: the suite as one pytest process, or, when TEST_POSTGRES_URL is set, as two
side by side, one per backend (`pytest --backend sqlite|postgres`, tests/conftest.py).

Most of the suite's time is waiting (brokers, subprocesses, Chromium, sleeps), so the two
halves share a 2-core machine well: the whole run takes about as long as its longer half.
The SQLite half writes to the terminal as it runs; the PostgreSQL half to a log file that
is printed after it, under a header. The exit code is the first half's that failed (a half
that selected no test, exit code 5, fails only if the other did too). Arguments are passed
to both halves (PYTEST_ARGS), so `make test PYTEST_ARGS=tests/test_scans.py` runs that
file's tests on both backends at once.

    python tests/run_backends.py [pytest arguments...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TESTS = 5  # pytest's exit code when nothing was selected


def main(args: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    if not os.environ.get("TEST_POSTGRES_URL"):
        return subprocess.call([*pytest, *args], cwd=ROOT)

    def cache(half: str) -> list[str]:
        """Each half its own cache: both write their failures at the end, and --lf, --ff
        read the same half's (no option where the cache is off)."""
        if "no:cacheprovider" in " ".join(args):
            return []
        return ["-o", f"cache_dir=.pytest_cache/{half}"]

    log = Path(tempfile.mkstemp(prefix="koordinator-tests-postgres-", suffix=".log")[1])
    print(f"== make test: SQLite half here, PostgreSQL half in {log} (printed after)", flush=True)
    started = time.monotonic()
    with log.open("wb") as out:
        pg = subprocess.Popen(
            [*pytest, "--backend", "postgres", *cache("postgres"), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        pg_ended: list[float] = []

        def note_end() -> None:
            pg.wait()
            pg_ended.append(time.monotonic())

        waiter = threading.Thread(target=note_end, daemon=True)
        waiter.start()
        try:
            sqlite_rc = subprocess.call(
                [*pytest, "--backend", "sqlite", *cache("sqlite"), *args],
                cwd=ROOT,
            )
            sqlite_s = time.monotonic() - started
            pg_rc = pg.wait()
            waiter.join()
        except KeyboardInterrupt:
            pg.send_signal(signal.SIGINT)
            pg.wait()
            raise
    pg_s = pg_ended[0] - started
    print(f"\n== PostgreSQL half ({log}) ==", flush=True)
    sys.stdout.buffer.write(log.read_bytes())
    print(
        f"\n== make test: SQLite half exit {sqlite_rc} after {sqlite_s:.0f} s, "
        f"PostgreSQL half exit {pg_rc} after {pg_s:.0f} s",
        flush=True,
    )
    log.unlink()
    codes = [rc for rc in (sqlite_rc, pg_rc) if rc not in (0, NO_TESTS)]
    if codes:
        return codes[0]
    return NO_TESTS if sqlite_rc == pg_rc == NO_TESTS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
