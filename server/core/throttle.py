"""Throttling of guesses: failures counted per key, and short locks that end by themselves.

Used for signing in to the pages (server/auth.py: keys per name+address, address, name)
and for operator badges scanned at a scanner (server/core/scans.py: `badge:<scanner>`).
The counts are `LoginThrottle` rows, so every web worker and ingest worker shares them.

Policy: a key allows some failures (the caller says how many); every failure after that
locks the key for `LOCK_FIRST`, doubling up to `LOCK_MAX`. A lock always ends by itself
and a failure older than `FORGET_AFTER` is forgotten (the count starts again). Callers
check `locked_for` first and do not count an attempt refused during a lock.

Both functions work in the caller's transaction on the database they are handed; a
failure must be counted in a part of the transaction that is committed (a scan's
rejection rolls its own savepoint back, see `scans._apply_one`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import peewee as pw

from server.models import LoginThrottle

LOCK_FIRST = dt.timedelta(seconds=30)
LOCK_MAX = dt.timedelta(minutes=15)
FORGET_AFTER = dt.timedelta(hours=1)


def locked_for(keys: Iterable[str], now: dt.datetime) -> int:
    """Whole seconds until the last lock of `keys` ends (at least 1), 0 if none is locked."""
    rows = LoginThrottle.select(LoginThrottle.locked_until).where(
        LoginThrottle.key.in_(list(keys)) & (LoginThrottle.locked_until > now)
    )
    until = max((r.locked_until for r in rows), default=None)
    return 0 if until is None else max(1, int((until - now).total_seconds() + 0.999))


def count_failure(db: pw.Database, keys: Mapping[str, int], now: dt.datetime) -> None:
    """Count one failure on each key (key -> failures it allows before a lock)."""
    for key, free in keys.items():
        row = LoginThrottle.get_or_none(LoginThrottle.key == key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
        elif now - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - free
        if over >= 0:
            row.locked_until = now + min(LOCK_FIRST * 2 ** min(over, 16), LOCK_MAX)
        try:
            with db.atomic():  # a savepoint: PostgreSQL goes on after a conflict
                row.save()
        except pw.IntegrityError:  # another worker created the row just now: count on it
            LoginThrottle.update(failures=LoginThrottle.failures + 1, last_failure_at=now).where(
                LoginThrottle.key == key
            ).execute()


def clear(keys: Iterable[str]) -> None:
    """Forget the failures of `keys` (a success that proves the guesser is not guessing)."""
    LoginThrottle.delete().where(LoginThrottle.key.in_(list(keys))).execute()
