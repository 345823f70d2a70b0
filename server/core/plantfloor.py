"""The plant floor: every station as a tile - its machines and their state (a down one
with its reason), who is signed in, WIP, the current order, the last answer and the andon
colour (server/core/andon.py).

Built in a fixed number of queries whatever the number of stations (the page is refreshed
every second by every supervisor watching it): stations, machines, scanners with their
operator and order, WIP counters, held items, open orders by line, and the last answer of
each scanner - found through the scanner's `last_scan_at`, the time stamp of its last
ledger row, so the ledger is read through its `received_at` index, never scanned.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import peewee as pw

from server.core import andon
from server.models import (
    Item,
    LedgerEntry,
    Machine,
    ProductionOrder,
    Scanner,
    Station,
    StockCounter,
    User,
)

OPEN = ("released", "in_progress")
#: how long before a scanner's last_scan_at its last ledger row may have been received
STAMP_SLACK = dt.timedelta(seconds=5)


def _last_answers(scanners: list[tuple]) -> dict[str, dict]:
    """scanner id -> its last ledger row (status, reason, warnings, message, at, code).

    A scanner's `last_scan_at` is written at the end of its scan's batch, a moment after
    the row's `received_at`: its rows are looked for in the few seconds before the stamp,
    through the ledger's `received_at` index."""
    stamps = {sid: at for sid, at in scanners if at is not None}
    if not stamps:
        return {}
    ranges: list[list[dt.datetime]] = []
    for stamp in sorted(set(stamps.values())):
        lo = stamp - STAMP_SLACK
        if ranges and lo <= ranges[-1][1]:
            ranges[-1][1] = stamp
        else:
            ranges.append([lo, stamp])
    # one flat OR of time ranges, each a seek on the received_at index, written by hand:
    # peewee nests a level per `|` (SQLite's parser overflows at 200) and building the
    # expression costs more than the query. Within them, each scanner's greatest id is its
    # last row: all its rows are received before its stamp, so its rows in another
    # scanner's range are older than the one in its own. One statement, the rows' details
    # read by the grouped ids (reading every row of the ranges and picking in Python cost
    # more than the rest of the floor's queries together: bench/bench_floor.py)
    db = LedgerEntry._meta.database
    ors = " OR ".join([f'"received_at" BETWEEN {db.param} AND {db.param}'] * len(ranges))
    params = [v for pair in ranges for v in pair]
    # MATERIALIZED: grouping in the same statement, SQLite would walk the scanner_id
    # index over the whole ledger to skip the sort (70 s at 500,000 rows)
    cursor = db.execute_sql(
        f'WITH "r" AS MATERIALIZED (SELECT "id", "scanner_id" FROM "ledger_entry" WHERE {ors}) '
        'SELECT "id", "scanner_id", "status", "reason", "warnings", "message", '
        '"received_at", "raw_code", "action", "result" FROM "ledger_entry" WHERE "id" IN '
        '(SELECT MAX("id") FROM "r" GROUP BY "scanner_id")',
        params,
    )
    json_value = LedgerEntry.warnings.python_value
    when = LedgerEntry.received_at.python_value
    out: dict[str, dict] = {}
    for _id, sid, status, reason, warnings, message, at, code, action, result in cursor:
        stamp = stamps.get(sid)
        at = when(at)  # SQLite hands a datetime back as text
        if stamp is None or not stamp - STAMP_SLACK <= at <= stamp:
            continue  # a row in another scanner's range only: not this one's last answer
        warnings, result = json_value(warnings), json_value(result)
        answered = (result or {}).get("action") if isinstance(result, dict) else None
        out[sid] = Row(
            status=status,
            reason=reason,
            warnings=[w.get("code") if isinstance(w, dict) else w for w in warnings or []],
            message=message,
            at=at,
            code=code,
            action=answered or action,
        )
    return out


class Row(dict):
    """A dict whose keys also read as attributes. The page reads some 30 fields of each of
    200 tiles as `t.field`, and Jinja tries the attribute before the key: on a plain dict
    every read failed first with an AttributeError (a third of the page's time)."""

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Tile(NamedTuple):
    """What a tile shows of its station."""

    id: int
    code: str
    name: str
    active: bool


def tiles(now: dt.datetime) -> list[dict]:
    """One dict per station (by code): see the module docstring."""
    # plain rows, not model instances: building 200 Station and Machine objects a second
    # per watcher cost more than their queries (bench/bench_floor.py)
    stations = [
        Tile(sid, code, name, active)
        for sid, code, name, active in Station.select(
            Station.id, Station.code, Station.name, Station.active
        )
        .order_by(Station.code)
        .tuples()
    ]
    by_station: dict[int, list[dict]] = {s.id: [] for s in stations}
    for code, name, station_id, state, why, since in (
        Machine.select(
            Machine.code,
            Machine.name,
            Machine.station,
            Machine.state,
            Machine.state_why,
            Machine.state_since,
        )
        .where(Machine.active == True)  # noqa: E712
        .order_by(Machine.code)
        .tuples()
    ):
        by_station.setdefault(station_id, []).append(
            Row(code=code, name=name, state=state, reason=why, since=since)
        )
    wip = dict(
        StockCounter.select(StockCounter.station_id, pw.fn.SUM(StockCounter.count))
        .where(StockCounter.stage == "wip")
        .group_by(StockCounter.station_id)
        .tuples()
    )
    # `WHERE "held"` as written: the partial index item_held has that very condition
    # (server/db.py), so only held rows are read; counted here, as a GROUP BY would have
    # SQLite walk the (station, stage) index over every item instead
    held: dict[int, int] = {}
    for (station_id,) in Item._meta.database.execute_sql(
        'SELECT "station_id" FROM "item" WHERE "held"'
    ).fetchall():
        held[station_id] = held.get(station_id, 0) + 1
    scanners = list(
        Scanner.select(
            Scanner.id,
            Scanner.station,
            Scanner.operator,
            Scanner.order,
            Scanner.last_scan_at,
            Scanner.active,
        )
        .order_by(Scanner.id)
        .tuples()
    )
    user_ids = {op for _i, _s, op, *_ in scanners if op}
    users = dict(
        User.select(User.id, User.username).where(User.id.in_(sorted(user_ids) or [0])).tuples()
    )
    orders = {
        o.id: o
        for o in ProductionOrder.select(
            ProductionOrder.id,
            ProductionOrder.number,
            ProductionOrder.station,
            ProductionOrder.status,
            ProductionOrder.due,
            ProductionOrder.qty,
            ProductionOrder.completed,
        ).where(ProductionOrder.status.in_(OPEN))
    }
    line_order: dict[int, ProductionOrder] = {}
    for o in sorted(orders.values(), key=lambda o: (o.due, o.number)):
        if o.station_id is not None:
            line_order.setdefault(o.station_id, o)
    context_ids = {oid for _i, _s, _op, oid, *_ in scanners if oid and oid not in orders}
    if context_ids:
        for o in ProductionOrder.select().where(ProductionOrder.id.in_(sorted(context_ids))):
            orders[o.id] = o
    answers = _last_answers([(sid, at) for sid, _s, _op, _o, at, _a in scanners])
    per_station: dict[int, list[tuple]] = {}
    for row in scanners:
        per_station.setdefault(row[1], []).append(row)
    out = []
    for st in stations:
        mine = per_station.get(st.id, [])
        operators = sorted({users[op] for _i, _s, op, *_ in mine if op in users})
        order = next((orders[o] for _i, _s, _op, o, *_ in mine if o in orders), None)
        order = order or line_order.get(st.id)
        last = None
        for sid, *_rest in mine:
            a = answers.get(sid)
            if a and (last is None or a["at"] >= last["at"]):
                last = Row(a, scanner=sid)
        ms = by_station.get(st.id, [])
        down = [m for m in ms if m["state"] == "down"]
        held_n = int(held.get(st.id) or 0)
        out.append(
            Row(
                {
                    "station": st,
                    "code": st.code,
                    "machines": ms,
                    "down": down,
                    "machine_state": "down"
                    if down
                    else (
                        "running"
                        if any(m["state"] == "running" for m in ms)
                        else ("idle" if ms else None)
                    ),
                    "operators": operators,
                    "wip": int(wip.get(st.id) or 0),
                    "held": held_n,
                    "order": order,
                    "last": last,
                    "andon": andon.rule(
                        active=st.active,
                        machine_down=bool(down),
                        held=held_n,
                        rejected=bool(last) and last["status"] == "rejected",
                        warned=bool(last)
                        and last["status"] == "accepted"
                        and bool(last["warnings"]),
                        answered=last is not None,
                    ),
                }
            )
        )
    return out
