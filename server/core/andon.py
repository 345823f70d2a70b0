"""The andon colour of a station, for a stack light: green, amber or red.

The rule (docs/events.md "Andon"), from what the database says now:

- **red**: a held unit is at the station (`Item.held` and `Item.station`), or one of the
  station's last `LAST_ANSWERS` answers (scans) within `RECENT_MINUTES` was a rejection;
- **amber**: a flag stands that touches the station (its dwell flag, or a late, behind or
  short flag of an order on its line), or one of those last answers carried a warning;
- **green** otherwise.

`stations_of(event)` says which stations an event may change the colour of, so the
dispatcher's andon sink recomputes only those; a time-based change (a rejection growing
older than the window) is caught by the sink's periodic refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from server.models import FlagState, Item, LedgerEntry, ProductionOrder, Station

GREEN, AMBER, RED = "green", "amber", "red"
#: how many of the station's latest scan answers count, and how recent they must be
LAST_ANSWERS = 3
RECENT_MINUTES = 5
#: event types that may change a colour (the andon sink takes only these)
TYPES = [
    "scan.accepted",
    "scan.rejected",
    "item.held",
    "item.released",
    "item.scrapped",
    "item.reworked",
    "flag.raised",
    "flag.cleared",
]
_ORDER_FLAGS = ("late", "behind", "short")


@dataclasses.dataclass(frozen=True)
class Andon:
    station: str
    colour: str
    #: why, as short codes: `held:<n>`, `rejected:<reason>`, `flag:<key>`, `warning:<code>`
    why: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"station": self.station, "colour": self.colour, "why": list(self.why)}


def colour(station: Station, now: dt.datetime) -> Andon:
    """The colour of `station` at `now` and why."""
    red: list[str] = []
    amber: list[str] = []
    held = Item.select().where(Item.held & (Item.station == station.id)).count()
    if held:
        red.append(f"held:{held}")
    cutoff = now - dt.timedelta(minutes=RECENT_MINUTES)
    answers = (
        LedgerEntry.select(LedgerEntry.status, LedgerEntry.reason, LedgerEntry.warnings)
        .where(
            (LedgerEntry.received_at >= cutoff)
            & (LedgerEntry.station == station.id)
            & (LedgerEntry.origin == "scan")
            & LedgerEntry.scan_id.is_null(False)
        )
        .order_by(LedgerEntry.id.desc())
        .limit(LAST_ANSWERS)
    )
    for row in answers:
        if row.status == "rejected":
            red.append(f"rejected:{row.reason}")
        for warning in row.warnings or []:
            code = warning.get("code") if isinstance(warning, dict) else warning
            amber.append(f"warning:{code}")
    orders = {
        o.number
        for o in ProductionOrder.select(ProductionOrder.number).where(
            ProductionOrder.station == station.id
        )
    }
    for f in FlagState.select().order_by(FlagState.key):
        flag, _kind, name = (f.key.split(":", 2) + ["", ""])[:3]
        if (flag == "dwell" and name == station.code) or (flag in _ORDER_FLAGS and name in orders):
            amber.append(f"flag:{f.key}")
    if red:
        return Andon(station.code, RED, tuple(red + amber))
    return Andon(station.code, AMBER if amber else GREEN, tuple(amber))


def stations_of(event_type: str, payload: dict) -> set[str]:
    """The codes of the stations whose colour `event_type` with `payload` may change."""
    if event_type.startswith(("scan.", "item.")):
        out = {payload["station"]} if payload.get("station") else set()
        if event_type.startswith("item.") and payload.get("item"):
            # held by a scan elsewhere, or scrapped: where the unit is, or was
            item = Item.get_or_none(Item.code == payload["item"])
            if item is not None and item.station_id:
                out.add(item.station.code)
        return out
    if event_type.startswith("flag."):
        if payload.get("flag") == "dwell" and payload.get("station"):
            return {payload["station"]}
        if payload.get("order"):
            order = ProductionOrder.get_or_none(ProductionOrder.number == payload["order"])
            if order is not None and order.station_id:
                return {order.station.code}
    return set()


def all_colours(now: dt.datetime) -> list[Andon]:
    """Every active station's colour."""
    return [colour(s, now) for s in Station.select().where(Station.active).order_by(Station.code)]


def colour_of(code: str, now: dt.datetime) -> Andon | None:
    station = Station.get_or_none(Station.code == code)
    return None if station is None else colour(station, now)
