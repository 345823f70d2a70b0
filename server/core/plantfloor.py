"""The plant floor: every station as a tile - its machines and their state (a down one
with its reason), who is signed in, WIP, the current order, the last answer and the andon
colour (server/core/andon.py).

Built in a fixed number of queries whatever the number of stations (the page is refreshed
every second by every supervisor watching it): stations, machines, scanners with their
operator and order, WIP counters, held items, open orders by line, and the last answer of
each scanner - read by its primary key, the scanner's `last_ledger_id` (kept beside
`last_scan_at` on the scan path), so the ledger is never searched.
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

_ANSWERS_SQL = (
    'SELECT "id", "status", "reason", "warnings", "message", "received_at", "raw_code", '
    '"action", "result" FROM "ledger_entry" WHERE "id" IN ({marks})'
)


def _last_answers(scanners: list[tuple]) -> dict[str, dict]:
    """scanner id -> its last ledger row (status, reason, warnings, message, at, code).

    Each scanner keeps the id of its last scan's ledger row beside `last_scan_at`
    (`Scanner.last_ledger_id`, written by every batch of scans): one statement reads those
    rows by their primary key, whatever the ledger's size."""
    by_row = {row_id: sid for sid, row_id in scanners if row_id is not None}
    if not by_row:
        return {}
    db = LedgerEntry._meta.database
    ids = sorted(by_row)
    cursor = db.execute_sql(_ANSWERS_SQL.format(marks=", ".join([db.param] * len(ids))), ids)
    json_value = LedgerEntry.warnings.python_value
    when = LedgerEntry.received_at.python_value
    out: dict[str, dict] = {}
    for row_id, status, reason, warnings, message, at, code, action, result in cursor:
        warnings, result = json_value(warnings), json_value(result)
        answered = (result or {}).get("action") if isinstance(result, dict) else None
        out[by_row[row_id]] = Row(
            status=status,
            reason=reason,
            warnings=[w.get("code") if isinstance(w, dict) else w for w in warnings or []],
            message=message,
            at=when(at),  # SQLite hands a datetime back as text
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
            Scanner.last_ledger_id,
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
    answers = _last_answers([(sid, row_id) for sid, _s, _op, _o, row_id, _a in scanners])
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
