"""The plant floor: every station as a tile - its machines and their state (a down one
with its reason), who is signed in, WIP, the current order, the last answer and the andon
colour (server/core/andon.py).

Built in a fixed number of queries whatever the number of stations (the page is refreshed
every second by every supervisor watching it): stations, machines, scanners with their
operator and order, WIP counters, held items, open orders by line, and the last answer of
each scanner - read by its primary key, the scanner's `last_ledger_id` (kept beside
`last_scan_at` on the scan path), so the ledger is never searched.

For a user limited to sites the caller hands in the ids of their stations
(`siteaccess.station_ids`, once a request): every statement reads those stations' rows
only, so a site's supervisor's floor costs in proportion to their sites, not the plant.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

import peewee as pw

from server.core import andon, reasonlist
from server.models import (
    LedgerEntry,
    ProductionOrder,
    Station,
)

OPEN = ("released", "in_progress")

_ANSWERS_SQL = (
    'SELECT "id", "status", "reason", "warnings", "message", "received_at", "raw_code", '
    '"action", {answered} FROM "ledger_entry" WHERE "id" IN ({marks})'
)
#: the answer's own action, the one key the floor reads of the stored answer (`result`,
#: JSON text of some 400 bytes): taken out in SQL rather than each answer parsed in Python
_ANSWERED = {
    "sqlite": """json_extract("result", '$.action')""",
    "postgres": """CAST("result" AS json) ->> 'action'""",
}


def _datetime(value):
    """A time stamp as the driver gives it: SQLite's text through the C parser (peewee's
    python_value tries its formats with strptime, 400 a render), PostgreSQL's as is."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


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
    kind = "postgres" if isinstance(getattr(db, "obj", db), pw.PostgresqlDatabase) else "sqlite"
    sql = _ANSWERS_SQL.format(answered=_ANSWERED[kind], marks=", ".join([db.param] * len(ids)))
    cursor = db.execute_sql(sql, ids)
    json_value = LedgerEntry.warnings.python_value
    when = _datetime
    out: dict[str, dict] = {}
    for row_id, status, reason, warnings, message, at, code, action, answered in cursor:
        # most answers carry no warning: "[]" is not parsed
        warnings = json_value(warnings) if warnings and warnings != "[]" else ()
        out[by_row[row_id]] = Row(
            status=status,
            reason=reason,
            warnings=[w.get("code") if isinstance(w, dict) else w for w in warnings or ()],
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


class Order(NamedTuple):
    """What a tile shows of an order."""

    id: int
    number: str
    station_id: int | None
    due: dt.date
    qty: Decimal
    completed: Decimal


#: the floor's statements, written out once: peewee built each anew from its expression
#: tree and made every row through its cursor wrapper, a third of the data's time for 950
#: rows a render (bench/bench_floor.py); the same SQL on SQLite and PostgreSQL
#: `{mine}` is "" for the whole plant, else `AND "<column>" IN (<the stations' ids>)`
_STATIONS_SQL = (
    'SELECT "id", "code", "name", "active" FROM "station" WHERE 1 = 1{mine} ORDER BY "code"'
)
_MACHINES_SQL = (
    'SELECT "code", "name", "station_id", "state", "state_why", "state_since" FROM "machine" '
    'WHERE "active"{mine} ORDER BY "code"'
)
_WIP_SQL = (
    'SELECT "station_id", SUM("count") FROM "stock_counter" WHERE "stage" = \'wip\'{mine} '
    'GROUP BY "station_id"'
)
# `WHERE "held"` as written: the partial index item_held_station has that very condition
# and holds the station (server/db.py), so only held rows are read, from the index alone;
# counted in Python, as a GROUP BY would have SQLite walk the (station, stage) index over
# every item instead
_HELD_SQL = 'SELECT "station_id" FROM "item" WHERE "held"{mine}'
_SCANNERS_SQL = (
    'SELECT "id", "station_id", "operator_id", "order_id", "last_ledger_id" FROM "scanner" '
    'WHERE 1 = 1{mine} ORDER BY "id"'
)
_ORDERS_SQL = (
    'SELECT "id", "number", "station_id", "due", "qty", "completed" FROM "production_order" '
    "WHERE {where}"
)


def _orders(db, where: str, params: list) -> dict[int, Order]:
    due = ProductionOrder.due.python_value
    qty = ProductionOrder.qty.python_value
    rows = db.execute_sql(_ORDERS_SQL.format(where=where), params).fetchall()
    return {
        oid: Order(oid, number, station_id, due(d), qty(q), qty(done))
        for oid, number, station_id, d, q, done in rows
    }


def _marks(db, n: int) -> str:
    return ", ".join([db.param] * n)


def tiles(now: dt.datetime, station_ids: list[int] | None = None) -> list[dict]:
    """One dict per station (by code): see the module docstring. With `station_ids` (a
    user limited to sites), those stations only, each statement filtered in SQL."""
    db = Station._meta.database
    params: list = [] if station_ids is None else sorted(station_ids) or [-1]

    def mine(column: str) -> str:
        return "" if station_ids is None else f' AND "{column}" IN ({_marks(db, len(params))})'

    def run(sql: str, column: str = "station_id"):
        return db.execute_sql(sql.format(mine=mine(column)), params)

    stations = [
        Tile(sid, code, name, bool(active))
        for sid, code, name, active in run(_STATIONS_SQL, "id").fetchall()
    ]
    by_station: dict[int, list[dict]] = {s.id: [] for s in stations}
    since_value = _datetime
    for code, name, station_id, state, why, since in run(_MACHINES_SQL).fetchall():
        by_station.setdefault(station_id, []).append(
            Row(code=code, name=name, state=state, reason=why, since=since_value(since))
        )
    wip = dict(run(_WIP_SQL).fetchall())
    held: dict[int, int] = {}
    for (station_id,) in run(_HELD_SQL).fetchall():
        held[station_id] = held.get(station_id, 0) + 1
    scanners = run(_SCANNERS_SQL).fetchall()
    user_ids = sorted({op for _i, _s, op, *_ in scanners if op})
    users: dict[int, str] = {}
    if user_ids:
        sql = f'SELECT "id", "username" FROM "user" WHERE "id" IN ({_marks(db, len(user_ids))})'
        users = dict(db.execute_sql(sql, user_ids).fetchall())
    orders = _orders(
        db, f'"status" IN ({_marks(db, len(OPEN))}){mine("station_id")}', [*OPEN, *params]
    )
    line_order: dict[int, Order] = {}
    for o in sorted(orders.values(), key=lambda o: (o.due, o.number)):
        if o.station_id is not None:
            line_order.setdefault(o.station_id, o)
    context_ids = sorted({oid for _i, _s, _op, oid, _r in scanners if oid and oid not in orders})
    if context_ids:
        orders.update(_orders(db, f'"id" IN ({_marks(db, len(context_ids))})', context_ids))
    answers = _last_answers([(sid, row_id) for sid, _s, _op, _o, row_id in scanners])
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


_REASONS_SQL = 'SELECT "code", "text_en", "text_id" FROM "reason" WHERE "code" IN ({marks})'


def reason_texts(codes, language: str | None) -> dict[str, str]:
    """The reason list's text in `language` of each downtime reason code found as stored
    (`reasonlist.text`), in one statement: a code not found is left out (the caller looks
    it up the long way, `reasonlist.lookup`)."""
    codes = sorted({c for c in codes if c})
    if not codes:
        return {}
    db = Station._meta.database
    rows = db.execute_sql(_REASONS_SQL.format(marks=_marks(db, len(codes))), codes).fetchall()
    return {
        code: reasonlist.text(_Reason(text_en, text_id), language)
        for code, text_en, text_id in rows
    }


class _Reason(NamedTuple):
    text_en: str
    text_id: str
