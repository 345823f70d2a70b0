"""OEE over a month of scans: GET /api/oee server time with 2,000,000 scans in the ledger.

    PYTHONPATH=. .venv/bin/python bench/bench_oee.py [--scans 2000000 --stations 50]

Builds a fresh SQLite file bench/out/oee-<scans>.db with `stations` stations, one machine
each (a standard rate), three shifts (06-14, 14-22, 22-06), a month (30 days back from
today) of `scans` accepted start/move/complete scans spread over the stations and the
hours, about 1 % of them scraps with a reason, and a downtime stretch or two per station
and day. The ledger rows are inserted in bulk, and so are the OEE buckets the scan path
would have written for the same scans (server/core/oee.py: station x quarter hour; the
scan transaction's own writing of them is tested in tests/test_oee_labour.py).

Then measures through the WSGI app (server time, no network), p50/p95 over `calls` calls
on days spread over the month: GET /api/oee for one station and a shift, for every
station and a shift, and GET /api/labour for a shift. Target (issue 17): p95 <= 500 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from decimal import Decimal

from bench_core import fresh_app

SHIFTS = (("Early", "06:00", "14:00"), ("Late", "14:00", "22:00"), ("Night", "22:00", "06:00"))


def build(db, n_scans: int, n_stations: int, days: int) -> None:
    from server.core.oee import bucket_of
    from server.models import (
        Downtime,
        LedgerEntry,
        Machine,
        OeeBucket,
        Shift,
        Station,
        User,
        utcnow,
    )

    rnd = random.Random(17)
    now = utcnow()
    start = dt.datetime.combine(now.date() - dt.timedelta(days=days), dt.time())
    span = (now - start).total_seconds()
    with db.atomic():
        for name, s, e in SHIFTS:
            Shift.create(name=name, start=s, end=e)
        stations = [
            Station.create(code=f"ST{i:03d}", name=f"Station {i}", default_action="move")
            for i in range(n_stations)
        ]
        machines = [
            Machine.create(
                code=f"M{i:03d}", name=f"Machine {i}", station=st.id, rate_per_hour=60 + i % 5
            )
            for i, st in enumerate(stations)
        ]
        operators = [User.create(username=f"op{i}", role="operator") for i in range(40)]
        downtime = []
        for m, st in zip(machines, stations, strict=True):
            for d in range(days):
                for _ in range(rnd.randint(0, 2)):
                    at = start + dt.timedelta(days=d, minutes=rnd.randint(0, 1380))
                    downtime.append(
                        {
                            "machine": m.id,
                            "station_id": st.id,
                            "why": rnd.choice(("BREAKDOWN", "NO_MATERIAL")),
                            "started_at": at,
                            "ended_at": at + dt.timedelta(minutes=rnd.randint(5, 90)),
                            "source": "scan",
                        }
                    )
        for k in range(0, len(downtime), 2000):
            Downtime.insert_many(downtime[k : k + 2000]).execute()
    fields = [
        LedgerEntry.scan_id,
        LedgerEntry.origin,
        LedgerEntry.scanner_id,
        LedgerEntry.raw_code,
        LedgerEntry.code_kind,
        LedgerEntry.action,
        LedgerEntry.status,
        LedgerEntry.why,
        LedgerEntry.qty,
        LedgerEntry.operator,
        LedgerEntry.station,
        LedgerEntry.received_at,
        LedgerEntry.warnings,
        LedgerEntry.message,
    ]
    buckets: dict[tuple[int, dt.datetime], list] = {}
    chunk = []
    times = sorted(start + dt.timedelta(seconds=rnd.random() * span) for _ in range(n_scans))
    for n, at in enumerate(times):
        st = stations[rnd.randrange(n_stations)]
        scrap = rnd.random() < 0.01
        action = "scrap" if scrap else rnd.choice(("start", "move", "move", "complete"))
        entry = buckets.setdefault((st.id, bucket_of(at)), [Decimal(0), Decimal(0)])
        entry[1 if scrap else 0] += 1
        chunk.append(
            (
                f"b-{n}",
                "scan",
                f"sc-{st.code}",
                f"K{n:08d}",
                "item",
                action,
                "accepted",
                "DAMAGED" if scrap else None,
                1,
                operators[rnd.randrange(40)].id,
                st.id,
                at,
                "[]",
                "",
            )
        )
        if len(chunk) == 2000:
            with db.atomic():
                LedgerEntry.insert_many(chunk, fields=fields).execute()
            chunk = []
    with db.atomic():
        if chunk:
            LedgerEntry.insert_many(chunk, fields=fields).execute()
        rows = [
            {"station_id": sid, "bucket": b, "units": u, "scrap": s}
            for (sid, b), (u, s) in buckets.items()
        ]
        for k in range(0, len(rows), 5000):
            OeeBucket.insert_many(rows[k : k + 5000]).execute()


def measure(client, paths: list[str], headers: dict) -> tuple[float, float]:
    times = []
    for path in paths:
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=2_000_000)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    from server import auth
    from server.models import LedgerEntry, OeeBucket, utcnow

    app, db = fresh_app(f"oee-{args.scans}.db")
    t0 = time.perf_counter()
    with db.connection_context():
        build(db, args.scans, args.stations, args.days)
        user = auth.create_user("bench", "supervisor")
        token = auth.create_token(user, "bench")
        ledger, buckets = LedgerEntry.select().count(), OeeBucket.select().count()
    print(
        f"built {ledger:,} scans in the ledger, {buckets:,} OEE buckets, {args.stations} "
        f"stations in {time.perf_counter() - t0:.1f} s"
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    today = utcnow().date()
    rnd = random.Random(3)
    days = [today - dt.timedelta(days=rnd.randint(1, args.days - 1)) for _ in range(args.calls)]
    sample = client.get(f"/api/oee?station=ST007&shift=Early&day={days[0]}", headers=headers)
    print(f"sample: {sample.get_json()['inputs']} oee {sample.get_json()['oee']}")
    cases = [
        (
            "GET /api/oee one station, a shift",
            [
                f"/api/oee?station=ST{rnd.randrange(args.stations):03d}&shift="
                f"{rnd.choice(SHIFTS)[0]}&day={d}"
                for d in days
            ],
        ),
        (
            f"GET /api/oee all {args.stations} stations",
            [f"/api/oee?shift={rnd.choice(SHIFTS)[0]}&day={d}" for d in days[: args.calls // 4]],
        ),
        ("GET /api/labour a shift", [f"/api/labour?shift=Early&day={d}" for d in days[:10]]),
    ]
    for label, paths in cases:
        p50, p95 = measure(client, paths, headers)
        print(f"{label:<36} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(paths)} calls)")


if __name__ == "__main__":
    main()
