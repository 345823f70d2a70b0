"""The andon colour of a station: one rule (`rule()`), for the stack light the dispatcher's
andon sink drives and for the plant floor page's tiles.

The rule (docs/events.md "Andon"), the first that holds wins:

- **grey**: the station is inactive (the floor page also shows grey for a station that has
  answered nothing yet; a light is not lit for it);
- **red**: a machine of the station is down, a held unit is at the station (`Item.held`
  and `Item.station`), or a recent answer of the station was a rejection;
- **amber**: a flag stands that touches the station (its dwell flag, or a late, behind or
  short flag of an order on its line), or a recent answer carried a warning;
- **green** otherwise.

"Recent answers" are, for the light (`colour()`), the station's last `LAST_ANSWERS` scans
within `RECENT_MINUTES`, so a red clears by itself; the floor page
(server/core/plantfloor.py) passes its tile's last answer.

`stations_of(event)` says which stations an event may change the colour of, so the
dispatcher's andon sink recomputes only those; a time-based change (a rejection growing
older than the window) is caught by the sink's periodic refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from server.core import hot
from server.models import FlagState, Item, LedgerEntry, ProductionOrder, Station

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
COLOURS = (RED, AMBER, GREEN, GREY)
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


def rule(
    *,
    active: bool = True,
    machine_down: bool = False,
    held: int = 0,
    rejected: bool = False,
    warned: bool = False,
    flagged: bool = False,
    answered: bool = True,
) -> str:
    """The colour from plain inputs (see the module's list); no database."""
    if not active:
        return GREY
    if machine_down or held > 0 or rejected:
        return RED
    if flagged or warned:
        return AMBER
    return GREEN if answered else GREY


def colour(station: Station, now: dt.datetime) -> Andon:
    """The colour of `station` at `now` and why."""
    red: list[str] = []
    amber: list[str] = []
    down = hot.down_machines().get(station.id)
    if down:
        red.append(f"down:{down[0]}")
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
    lit = rule(
        machine_down=bool(down),
        held=held,
        rejected=any(w.startswith("rejected:") for w in red),
        warned=bool(amber),
    )
    return Andon(station.code, lit, tuple(red + amber) if lit == RED else tuple(amber))


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
