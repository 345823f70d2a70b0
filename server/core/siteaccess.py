"""Users limited to sites: what a user of one site sees of the stock and the places.

`User.site_ids` is null for a user of the whole plant (every user until an admin limits
one) or the ids of the sites the user is limited to. A limited user's listings cover
those sites only: the sites and locations listed, stock by place (no `unplaced` row: an
item with no location is in no site), and the stock counters by stage, product and
station, which count the counters of the sites' stations (a station belongs to the site
its line side lies in, `locations.station_ids_of_site`; new items, at no station yet,
are in no site). A site outside the user's is answered as unknown (`unknown_site`), as
if it did not exist. Scans, the schedule and the admin pages are not limited.
"""

from __future__ import annotations

from server.core import locations
from server.core.errors import Invalid, NotFound
from server.models import Location, Site, User


def site_ids(user: User | None) -> set[int] | None:
    """The ids of the sites `user` is limited to, or None: every site."""
    if user is None or user.site_ids is None:
        return None
    return {int(i) for i in user.site_ids}


def visible_sites(user: User | None) -> list[Site]:
    ids = site_ids(user)
    query = Site.select().order_by(Site.code)
    if ids is not None:
        query = query.where(Site.id.in_(list(ids) or [-1]))
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


def station_ids(user: User | None) -> list[int] | None:
    """The stations of the user's sites, or None: every station."""
    ids = site_ids(user)
    if ids is None:
        return None
    out: set[int] = set()
    for site in Site.select().where(Site.id.in_(list(ids) or [-1])):
        out.update(locations.station_ids_of_site(site))
    return sorted(out)


def location_ids(user: User | None) -> list[int] | None:
    ids = site_ids(user)
    if ids is None:
        return None
    query = Location.select(Location.id).where(Location.site_id.in_(list(ids) or [-1]))
    return [loc.id for loc in query]


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
