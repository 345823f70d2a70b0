"""Users limited to sites: what a user of one site sees and may change.

`User.site_ids` is null for a user of the whole plant (every user until an admin limits
one) or the ids of the sites the user is limited to. **An admin is never limited**, even
with sites stored (an admin sets up every site's stations, printers and users).

Where each thing lies (one rule per kind, each in one helper below):

- a *station* belongs to the site its line side lies in (`locations.station_ids_of_site`;
  a station without a line side falls into the default site);
- an *item* to the site of its location, else of its station; an item at neither (a
  label printed, not yet received) is in no site and seen by every user, so a limited
  clerk still finds the items just made;
- a *cycle count* and a *shipment* to their own site; a *printer* to its site, else its
  station's; a printer with neither serves every site; a *print job* to its printer's;
- a *machine* to its station's site; a *scanner* to its station's (none: no site).

A limited user's listings cover those sites only: sites, locations, stock by place (no
`unplaced` row) and the stock counters of the sites' stations, items (a listing, a
search, an item's page, the scan station's item answer, `GET /api/items/{code}` and an
item's label, `GET /api/labels/{code}` or `POST /api/labels`, a print sheet), counts,
shipments, print jobs, stations, scanners, machines, the people at stations, the rejected
scans, the plant floor, the exports and the shift report, the scrap Pareto, supplies, the
timeline, OEE, labour and shifts, and alerts (those sites' events and the plant-wide
ones, decided as the alert is recorded: `alerts.record`).
A thing of another site is answered as unknown, as if it did not exist (`unknown_site`,
`unknown_location`, `unknown_item`, `unknown_count`, `unknown_shipment`,
`unknown_printer`, `unknown_print_job`, `unknown_machine`, `unknown_station`), and so is
an action on it (hold, release, a count's close, a shipment at that site, a test print,
a machine's state). An HTTP scan by a limited user through a scanner of another site's
station (or naming such a station in the scan's `station`) is refused `403 other_site`
before the scan is applied (no ledger row: the scan
was not the scanner's, it was the user's), since the user holds the scanner's id in
hand anyway. Scans over MQTT are never limited: a scanner is not a user. A recall hold
holds the user's sites' items only (`holds.hold_recall`); the recall report and the
schedule board (orders, adherence) are not limited.

A user's stations are one statement (`station_ids`), or a subquery of the caller's own
(`stations_query`, `locations_query`, `items_where`) where a listing only filters by them.

The helpers take the user (a `User` row, or None for a caller with no user) and never a
request: the HTTP and page adapters pass `current_user()` / `web_user()` in.
"""

from __future__ import annotations

import peewee as pw

from server.core import locations
from server.core.errors import Forbidden, Invalid, NotFound
from server.models import (
    CycleCount,
    Item,
    Location,
    Machine,
    Printer,
    PrintJob,
    Scanner,
    Shipment,
    Site,
    Station,
    User,
)


def site_ids(user: User | None) -> set[int] | None:
    """The ids of the sites `user` is limited to, or None: every site (no user, a user of
    the whole plant, an admin)."""
    if user is None or user.site_ids is None or user.role == "admin":
        return None
    return {int(i) for i in user.site_ids}


def _in(ids) -> list[int]:
    return sorted(ids) or [-1]


def visible_sites(user: User | None) -> list[Site]:
    ids = site_ids(user)
    query = Site.select().order_by(Site.code)
    if ids is not None:
        query = query.where(Site.id.in_(_in(ids)))
    return list(query)


def check_site(user: User | None, code: str | None) -> None:
    """Refuse a site code outside the user's sites as unknown (its existence is not told)."""
    ids = site_ids(user)
    if ids is None or not code:
        return
    site = locations.site_by_code(code)
    if site is None or site.id not in ids:
        raise NotFound("unknown_site", f"No site {locations.normal_code(code)}")


def check_location(user: User | None, code: str | None) -> None:
    ids = site_ids(user)
    if ids is None or not code:
        return
    loc = locations.by_code(code)
    if loc is None or loc.site_id not in ids:
        raise NotFound("unknown_location", f"No location {locations.normal_code(code)}")


def station_site_sql() -> pw.Node:
    """A station's site as SQL, for a query joined to `Location` on the station's line side
    (`Station.location_id`): the line side's site, else the default site."""
    return pw.fn.COALESCE(Location.site_id, _default_site_id())


def _default_site_id() -> pw.Node:
    """The default site's id as SQL, as `locations.default_site` finds it (MAIN, else the
    first site): a station without a line side falls into it."""
    return pw.fn.COALESCE(
        Site.select(Site.id).where(Site.code == locations.DEFAULT_SITE),
        Site.select(pw.fn.MIN(Site.id)),
    )


def stations_query(user: User | None) -> pw.Select | None:
    """The ids of the stations of the user's sites as one SELECT (None: every station),
    for a caller to filter by as a subquery (`Station.id.in_(...)`) instead of a list of
    ids: a station's site is its line side's, else the default site's."""
    ids = site_ids(user)
    if ids is None:
        return None
    site = station_site_sql()
    return (
        Station.select(Station.id)
        .join(Location, pw.JOIN.LEFT_OUTER, on=(Station.location_id == Location.id))
        .where(site.in_(_in(ids)))
    )


def among(column: pw.Field, ids) -> pw.Expression:
    """`column IN ids` for ids given as a list (none: matches nothing) or as a subquery
    (`stations_query`; never tested for truth: peewee would run it to count its rows)."""
    if isinstance(ids, pw.SelectBase):
        return column.in_(ids)
    return column.in_(sorted(ids) or [-1])


def station_ids(user: User | None) -> list[int] | None:
    """The stations of the user's sites, or None: every station. One statement; a request
    that asks more than once keeps the answer (the adapters' `flask.g`, server/scope.py)."""
    query = stations_query(user)
    if query is None:
        return None
    return [sid for (sid,) in query.order_by(Station.id).tuples()]


def locations_query(user: User | None) -> pw.Select | None:
    """The ids of the locations of the user's sites as one SELECT (None: every one)."""
    ids = site_ids(user)
    if ids is None:
        return None
    return Location.select(Location.id).where(Location.site_id.in_(_in(ids)))


def location_ids(user: User | None) -> list[int] | None:
    query = locations_query(user)
    if query is None:
        return None
    return [lid for (lid,) in query.tuples()]


def station_site(station_id: int) -> int:
    """The site of one station: its line side's, else the default site (one query, where
    `station_ids` lists every station of the user's sites)."""
    row = (
        Station.select(Location.site_id)
        .join(Location, pw.JOIN.LEFT_OUTER, on=(Station.location_id == Location.id))
        .where(Station.id == station_id)
        .tuples()
        .first()
    )
    if row is None or row[0] is None:
        return locations.default_site().id
    return int(row[0])


def check_station(user: User | None, station: Station | None, code: str = "") -> None:
    """`unknown_station` for a station outside the user's sites (or none at all)."""
    ids = site_ids(user)
    if station is None or (ids is not None and station_site(station.id) not in ids):
        raise NotFound("unknown_station", f"No station {code or station.code}")


def station_codes(user: User | None, codes: list[str] | None) -> list[str] | None:
    """The stations a report covers for `user`: the codes named (`unknown_station` for one
    outside the user's sites), or, none named, every station of them (None: every station
    of the plant, for a user who is not limited)."""
    stations = stations_query(user)
    if stations is None:
        return codes
    if codes:
        for code in codes:
            check_station(user, Station.get_or_none(Station.code == code), code)
        return codes
    mine = [s.code for s in Station.select(Station.code).where(Station.id.in_(stations))]
    if not mine:  # an empty list is the whole plant to a report
        raise NotFound("unknown_station", "No station at your sites")
    return mine


# --- items ----------------------------------------------------------------------------------


def items_where(user: User | None) -> pw.Expression | None:
    """The condition on `Item` of the items the user sees (None: every item): lying in a
    location of the user's sites, or with no location at a station of them, or at
    neither. Subqueries, not lists of ids: the caller's one statement does it all."""
    locs = locations_query(user)
    if locs is None:
        return None
    unplaced = Item.location_id.is_null() | ~Item.location_id.in_(Location.select(Location.id))
    return Item.location_id.in_(locs) | (
        unplaced & (Item.station.is_null() | Item.station.in_(stations_query(user)))
    )


def item_visible(user: User | None, item: Item) -> bool:
    ids = site_ids(user)
    if ids is None:
        return True
    if item.location_id:
        loc = Location.get_or_none(Location.id == item.location_id)
        if loc is not None:
            return loc.site_id in ids
    if item.station_id:
        return station_site(item.station_id) in ids
    return True


def check_item(user: User | None, item: Item | None, code: str) -> Item:
    """The item, or `unknown_item` when there is none or it lies at another site."""
    if item is None or not item_visible(user, item):
        raise NotFound("unknown_item", f"No item {code}")
    return item


# --- counts, shipments ----------------------------------------------------------------------


def check_count(user: User | None, count: CycleCount) -> CycleCount:
    ids = site_ids(user)
    if ids is not None and count.site_id not in ids:
        raise NotFound("unknown_count", f"No count {count.id}")
    return count


def check_shipment(user: User | None, shipment: Shipment | None, ref: str) -> Shipment:
    ids = site_ids(user)
    if shipment is None or (ids is not None and shipment.site_id not in ids):
        raise NotFound("unknown_shipment", f"No shipment {ref.strip().upper()}")
    return shipment


def shipment_site(user: User | None, code: str | None) -> str | None:
    """The site a user's new shipment is made at: the code given (refused `unknown_site`
    outside the user's sites), else the default site, or, for a user limited to sites
    without it, the first of the user's sites by code."""
    check_site(user, code)
    ids = site_ids(user)
    if code or ids is None or locations.default_site().id in ids:
        return code
    mine = visible_sites(user)
    return mine[0].code if mine else "-"  # "-" names no site: unknown_site


# --- printers and print jobs ----------------------------------------------------------------


def printer_ids(user: User | None) -> list[int] | None:
    """The printers the user sees (None: every printer): of the user's sites, at a station
    of them, or of no site and no station (a printer every site uses)."""
    ids = site_ids(user)
    if ids is None:
        return None
    stations = stations_query(user)
    query = Printer.select(Printer.id).where(
        Printer.site_id.in_(_in(ids))
        | (Printer.site_id.is_null() & (Printer.station.is_null() | Printer.station.in_(stations)))
    )
    return [p.id for p in query]


def check_printer(user: User | None, printer: Printer | None, name: str) -> Printer:
    allowed = printer_ids(user)
    if printer is None or (allowed is not None and printer.id not in allowed):
        raise NotFound("unknown_printer", f"No printer {name}")
    return printer


def check_print_job(user: User | None, job_id: int) -> None:
    allowed = printer_ids(user)
    if allowed is None:
        return
    job = PrintJob.get_or_none(PrintJob.id == job_id)
    if job is None or job.printer_id not in allowed:
        raise NotFound("unknown_print_job", f"No print job {job_id}")


# --- machines, scanners ---------------------------------------------------------------------


def check_machine(user: User | None, machine: Machine) -> Machine:
    ids = site_ids(user)
    if ids is not None and station_site(machine.station_id) not in ids:
        raise NotFound("unknown_machine", f"No machine {machine.code}")
    return machine


def check_scanner(user: User | None, scanner_id: str, station: str | None = None) -> None:
    """An HTTP scan of a limited user through a scanner of another site's station, or
    naming another site's station in its body (`station`, which `apply_scan` applies
    instead of the scanner's): `403 other_site`. A scanner or station unknown, or a
    scanner at no station, is left to `apply_scan` (its own `unknown_scanner` /
    `unknown_station` rejection, written to the ledger as any)."""
    ids = site_ids(user)
    if ids is None:
        return
    if station:
        named = Station.get_or_none(Station.code == station)
        if named is not None and station_site(named.id) not in ids:
            raise Forbidden("other_site", f"Station {station} is outside your sites")
    # the scanner's station and its line side's site in one query (this runs per scan)
    # (written out: peewee's building of it cost more than SQLite's running it, as hot.py)
    db = Scanner._meta.database
    row = db.execute_sql(
        'SELECT sc."station_id", l."site_id" FROM "scanner" sc'
        ' LEFT JOIN "station" st ON st."id" = sc."station_id"'
        ' LEFT JOIN "location" l ON l."id" = st."location_id"'
        f' WHERE sc."id" = {db.param}',
        (scanner_id,),
    ).fetchone()
    if row is None or row[0] is None:
        return
    site = row[1] if row[1] is not None else locations.default_site().id
    if site not in ids:
        raise Forbidden("other_site", f"Scanner {scanner_id} is at a station outside your sites")


def set_sites(user: User, codes: list[str]) -> list[int] | None:
    """Limit `user` to the sites `codes` (none: every site); `unknown_site` for a code
    that names no site. Returns what is stored."""
    ids: list[int] = []
    for code in codes:
        site = locations.site_by_code(code)
        if site is None:
            raise Invalid("unknown_site", f"No site {locations.normal_code(code)}")
        ids.append(site.id)
    stored = sorted(set(ids)) or None
    User.update(site_ids=stored).where(User.id == user.id).execute()
    user.site_ids = stored
    return stored
