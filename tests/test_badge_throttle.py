"""Badge guessing at a scanner is throttled per scanner (`badge:<scanner>`): 10 unknown
badges within an hour lock every `CMD-OP-...` of that scanner, known badges too, for 30 s
doubling up to 15 min; a known badge does not clear the count; the lock ends by itself.
Through HTTP (POST /api/scans, one scan per transaction) and through the ingest's batch
`apply_scans` (many scans in one transaction, each in its own savepoint)."""

from __future__ import annotations

import datetime as dt

import pytest

from server.core.scans import FREE_BADGE_FAILURES, ScanIn, apply_scans
from server.models import LedgerEntry, LoginThrottle, Scanner, User, utcnow
from tests.conftest import new_scan_id

T0 = dt.datetime(2026, 11, 26, 8, 0, 0)
GUESSES = [f"CMD-OP-B-{n:04d}" for n in range(1, FREE_BADGE_FAILURES + 1)]
BOSS = "CMD-OP-B-SUPERVISOR"


def _batch(db, scans, at):
    """One ingest batch of (scanner, code) at `at` seconds after T0; the reasons."""
    results = apply_scans(
        db,
        [ScanIn(scan_id=new_scan_id(), scanner_id=sc, code=code) for sc, code in scans],
        now=T0 + dt.timedelta(seconds=at),
    )
    return [r.reason or r.status for r in results]


def _operator(scanner_id):
    op = Scanner.get_by_id(scanner_id).operator_id
    return User.get_by_id(op).username if op else None


# (what happens, [(seconds after T0, [(scanner, code), ...] as one batch, reasons)])
CASES = [
    (
        "ten guesses in one batch lock the scanner, a real badge in the same batch is refused",
        [
            (
                0,
                [("sc-line", c) for c in GUESSES] + [("sc-line", BOSS)],
                ["unknown_operator"] * FREE_BADGE_FAILURES + ["badge_locked"],
            ),
        ],
    ),
    (
        "another scanner is not affected",
        [
            (0, [("sc-line", c) for c in GUESSES], ["unknown_operator"] * FREE_BADGE_FAILURES),
            (1, [("sc-a1", BOSS), ("sc-line", BOSS)], ["accepted", "badge_locked"]),
        ],
    ),
    (
        "guesses spread over batches, mixed with item and other command scans, still count",
        [
            (0, [("sc-line", c) for c in GUESSES[:3]], ["unknown_operator"] * 3),
            (
                1,
                [("sc-line", "CMD-DONE"), ("sc-line", "hello?")]
                + [("sc-line", c) for c in GUESSES[3:]],
                ["accepted", "unknown_code"] + ["unknown_operator"] * 7,
            ),
            (2, [("sc-line", BOSS), ("sc-line", "CMD-OUT")], ["badge_locked", "accepted"]),
        ],
    ),
    (
        "a known badge does not clear the count, the lock ends by itself and doubles",
        [
            (0, [("sc-line", c) for c in GUESSES[:9]], ["unknown_operator"] * 9),
            (1, [("sc-line", BOSS)], ["accepted"]),  # does not reset the 9
            (2, [("sc-line", GUESSES[9]), ("sc-line", BOSS)], ["unknown_operator", "badge_locked"]),
            (31, [("sc-line", BOSS)], ["badge_locked"]),  # 30 s from the 10th guess at 2
            (32, [("sc-line", BOSS)], ["accepted"]),  # ended by itself
            (33, [("sc-line", GUESSES[0])], ["unknown_operator"]),  # the 11th: 60 s
            (92, [("sc-line", BOSS)], ["badge_locked"]),
            (93, [("sc-line", BOSS)], ["accepted"]),
        ],
    ),
    (
        "guesses older than an hour are forgotten",
        [
            (0, [("sc-line", c) for c in GUESSES[:9]], ["unknown_operator"] * 9),
            (3601, [("sc-line", c) for c in GUESSES[:9]], ["unknown_operator"] * 9),
            (3602, [("sc-line", BOSS)], ["accepted"]),
        ],
    ),
]


@pytest.mark.parametrize(("what", "steps"), CASES, ids=[c[0][:40] for c in CASES])
def test_badge_throttle_in_batches(plant, db, what, steps):
    for at, scans, reasons in steps:
        assert _batch(db, scans, at) == reasons, (what, at)


def test_repeated_scans_count_once(plant, db):
    scans = [ScanIn(scan_id=f"rep-{c}", scanner_id="sc-line", code=c) for c in GUESSES[:9]]
    for _ in range(3):  # the agent sends again what it has no answer for
        results = apply_scans(db, scans + scans, now=T0)
        assert {r.reason for r in results} == {"unknown_operator"}
    assert _batch(db, [("sc-line", BOSS)], 1) == ["accepted"]


def _one(db, code, at):
    (result,) = apply_scans(
        db,
        [ScanIn(scan_id=new_scan_id(), scanner_id="sc-line", code=code)],
        now=T0 + dt.timedelta(seconds=at),
    )
    return result


def test_lock_message_says_how_long(plant, db):
    _batch(db, [("sc-line", c) for c in GUESSES], 0)
    result = _one(db, BOSS, 5)
    assert (result.reason, result.message) == (
        "badge_locked",
        "Too many unknown badges at this scanner: wait 25 s",
    )
    # a long guessing: the lock stops doubling at 15 minutes
    LoginThrottle.update(failures=FREE_BADGE_FAILURES + 20, locked_until=None).execute()
    assert _one(db, GUESSES[0], 6).reason == "unknown_operator"
    result = _one(db, BOSS, 6)
    assert (result.reason, result.message) == (
        "badge_locked",
        "Too many unknown badges at this scanner: wait 15 min",
    )
    assert _one(db, BOSS, 6 + 15 * 60).accepted


def test_over_http(plant, db):
    for code in GUESSES:
        assert plant.scan("sc-recv", code, expected=422)["reason"] == "unknown_operator"
    refused = plant.scan("sc-recv", BOSS, as_="supervisor", expected=422)
    assert refused["reason"] == "badge_locked"
    assert refused["message"].startswith("Too many unknown badges at this scanner: wait ")
    assert _operator("sc-recv") is None
    row = LedgerEntry.get(LedgerEntry.scan_id == refused["scan_id"])
    assert (row.status, row.reason) == ("rejected", "badge_locked")
    # another scanner, another count
    assert plant.scan("sc-line", BOSS, expected=201)["message"] == "Signed in: supervisor1"
    # the lock ends by itself (moved into the past here), the count stays: one more
    # unknown badge locks again, for twice as long
    LoginThrottle.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()
    assert plant.scan("sc-recv", BOSS, expected=201)["message"] == "Signed in: supervisor1"
    assert plant.scan("sc-recv", GUESSES[0], expected=422)["reason"] == "unknown_operator"
    row = LoginThrottle.get(LoginThrottle.key == "badge:sc-recv")
    assert row.failures == FREE_BADGE_FAILURES + 1
    assert dt.timedelta(seconds=59) < row.locked_until - utcnow() <= dt.timedelta(seconds=60)
    assert plant.scan("sc-recv", "CMD-OP-B-OPERATOR", expected=422)["reason"] == "badge_locked"
    assert _operator("sc-recv") == "supervisor1"  # the refusal changed nothing


def test_item_scans_do_not_touch_the_throttle(plant, db):
    (steel,) = plant.items("STEEL", qty=3)
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", "CMD-OP-B-OPERATOR", expected=201)
    plant.scan("sc-recv", "CMD-ORD-WO-404", expected=422)
    assert LoginThrottle.select().count() == 0
