"""Sites and locations: where stock lies, as a tree site -> area -> bin.

A location has a kind: `area` (a store, a warehouse bay, a zone; under its site or under
another area), `bin` (a shelf place; under an area) or `line` (a station's line side; under
its site or an area). Its `code` is unique over all sites and is what its label carries,
`LOC-<code>`. Locations are deactivated, never deleted: items and history keep naming them.

Every item has a location beside its stage (`Item.location_id`): a scan puts it at its
station's location (the line side), a receive or a transfer at the scanner's current
location, the last location label scanned (server/core/scans.py). A location may say what
may be stored there (`allow`: product SKUs and/or product kinds); a scan putting anything
else there is `wrong_location`, rejected or warned per the station's policy.

Stock by place (`stock_by_place`) reads the location counters (`LocationCounter`, kept in
step by server/core/stock.py), and for some levels of a site the subtree totals kept beside
them (`LocationTotal`, `SiteCounter`); it never adds quantities of different units: a
location's figures are an item count and one quantity per unit. Moving a location in the
tree (`edit`) moves its subtree's totals in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from decimal import Decimal

from server.core import stock
from server.core.errors import Conflict, Invalid, NotFound, Rejected
from server.core.stages import ON_HAND, Kind
from server.models import Item, Location, Product, Site, Station

KINDS = ("area", "bin", "line")
#: kind -> the kinds its parent may have (None: directly under the site)
PARENTS = {"area": (None, "area"), "bin": ("area",), "line": (None, "area")}
LABEL_PREFIX = "LOC-"
#: the site existing databases get (migration 0009) and new stations fall into
DEFAULT_SITE = "MAIN"
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def label_text(code: str) -> str:
    """What a location's label carries."""
    return f"{LABEL_PREFIX}{code}"


def normal_code(code: str) -> str:
    return code.strip().upper()


def default_site() -> Site:
    site = Site.get_or_none(Site.code == DEFAULT_SITE)
    if site is None:  # the first site (siteaccess reads it so in SQL)
        site = Site.select().order_by(Site.id).first()
    if site is None:
        site = Site.create(code=DEFAULT_SITE, name="Main site")
    return site


def by_code(code: str) -> Location | None:
    return Location.get_or_none(Location.code == normal_code(code))


def site_by_code(code: str) -> Site | None:
    return Site.get_or_none(Site.code == normal_code(code))


def known_site(code: str) -> Site:
    """Site `code` (any case); `404 unknown_site` when there is none."""
    site = site_by_code(code)
    if site is None:
        raise NotFound("unknown_site", f"No site {normal_code(code)}")
    return site


def station_ids_of_site(site: Site) -> list[int]:
    """The stations of `site`: those whose line side lies in it, and, for the default site,
    those without a line side yet (they fall into it, `line_side`)."""
    query = (
        Station.select(Station.id)
        .join(Location, on=(Station.location_id == Location.id))
        .where(Location.site_id == site.id)
    )
    ids = [s.id for s in query]
    if site.id == default_site().id:
        unplaced = Station.select(Station.id).where(
            Station.location_id.is_null() | ~Station.location_id.in_(Location.select(Location.id))
        )
        ids += [s.id for s in unplaced]
    return sorted(set(ids))


def station_ids_under(location: Location) -> list[int]:
    """The stations whose line side lies at `location` or anywhere below it (one
    statement: the subtree by a recursive read, not an id list)."""
    db = Location._meta.database
    db = getattr(db, "obj", db)
    rows = db.execute_sql(
        f'{_subtree(db)} SELECT "id" FROM "station" '
        'WHERE "location_id" IN (SELECT "id" FROM "sub")',
        [location.id],
    ).fetchall()
    return sorted(sid for (sid,) in rows)


def create_site(code: str, name: str) -> Site:
    code = normal_code(code)
    if not CODE.match(code):
        raise Invalid("bad_payload", f"Site code {code!r}: letters, digits, . _ - only")
    if site_by_code(code) is not None:
        raise Conflict("exists", f"Site {code} exists")
    return Site.create(code=code, name=name)


def _check_allow(allow: dict | None) -> dict | None:
    if not allow:
        return None
    products = [str(s).strip() for s in allow.get("products") or [] if str(s).strip()]
    kinds = [str(k).strip().lower() for k in allow.get("kinds") or [] if str(k).strip()]
    bad = [k for k in kinds if k not in {x.value for x in Kind}]
    if bad:
        raise Invalid("bad_payload", f"allow: kind {bad[0]!r} is not a product kind")
    known = {p for (p,) in Product.select(Product.sku).where(Product.sku.in_(products)).tuples()}
    missing = [s for s in products if s not in known]
    if missing:
        raise NotFound("unknown_product", f"allow: no product {missing[0]}")
    out = {}
    if products:
        out["products"] = sorted(set(products))
    if kinds:
        out["kinds"] = sorted(set(kinds))
    return out or None


def _check_parent(kind: str, site: Site, parent: Location | None, self_id: int | None = None):
    if kind not in KINDS:
        raise Invalid("bad_payload", f"kind {kind!r}: one of {', '.join(KINDS)}")
    allowed = PARENTS[kind]
    if parent is None:
        if None not in allowed:
            raise Invalid("bad_parent", f"A {kind} lies in an area: give its parent")
        return
    if parent.kind not in allowed:
        raise Invalid("bad_parent", f"A {kind} cannot lie in a {parent.kind}")
    if parent.site_id != site.id:
        raise Invalid("bad_parent", f"{parent.code} is in another site")
    if self_id is not None and (parent.id == self_id or self_id in ancestors(parent)):
        raise Invalid("bad_parent", "A location cannot lie inside itself")


def ancestors(location: Location) -> list[int]:
    """Ids of the locations above `location`, nearest first."""
    out: list[int] = []
    parent_id = location.parent_id
    while parent_id is not None and parent_id not in out:
        out.append(parent_id)
        parent_id = Location.get_by_id(parent_id).parent_id
    return out


def create(
    *,
    code: str,
    kind: str,
    name: str = "",
    site: str | None = None,
    parent: str | None = None,
    allow: dict | None = None,
) -> Location:
    """A new location; refused with a reason code (bad code, kind, parent or site)."""
    code = normal_code(code)
    if not CODE.match(code):
        raise Invalid("bad_payload", f"Location code {code!r}: letters, digits, . _ - only")
    parent_loc = _parent(parent)
    the_site = _site_for(site, parent_loc)
    _check_parent(kind, the_site, parent_loc)
    if by_code(code) is not None:
        raise Conflict("exists", f"Location {code} exists")
    return Location.create(
        site_id=the_site.id,
        kind=kind,
        code=code,
        name=name or code,
        parent_id=parent_loc.id if parent_loc else None,
        allow=_check_allow(allow),
    )


def _parent(code: str | None) -> Location | None:
    if not code:
        return None
    loc = by_code(code)
    if loc is None:
        raise NotFound("unknown_location", f"No location {normal_code(code)}")
    return loc


def _site_for(code: str | None, parent: Location | None) -> Site:
    if code:
        site = site_by_code(code)
        if site is None:
            raise NotFound("unknown_site", f"No site {normal_code(code)}")
        return site
    if parent is not None:
        return Site.get_by_id(parent.site_id)
    return default_site()


_UNSET = object()


def edit(
    location: Location,
    *,
    name=None,
    parent=_UNSET,
    allow=_UNSET,
    active=None,
) -> Location:
    """Rename, move in the tree, change what may be stored there, (de)activate. A
    location holding stock may be deactivated: its items stay there (and are counted)
    until moved; only new scans of its label are refused."""
    changes: dict = {}
    if name is not None:
        changes["name"] = name
    if parent is not _UNSET:
        site = Site.get_by_id(location.site_id)
        parent_loc = _parent(parent)
        _check_parent(location.kind, site, parent_loc, location.id)
        new_parent = parent_loc.id if parent_loc else None
        now = Location.select(Location.parent_id).where(Location.id == location.id).scalar()
        if now != new_parent:
            # a move. The totals are locked first (PostgreSQL: against every scan batch,
            # so only for a real move, not a form sent back with its parent unchanged),
            # then the tree is read and checked again under the lock: two moves racing
            # (A under B, B under A), each checked before the other committed, would
            # otherwise make a loop between them
            stock.lock_totals()
            if parent_loc is not None:
                parent_loc = Location.get_by_id(parent_loc.id)
            _check_parent(location.kind, site, parent_loc, location.id)
            # its subtree's totals go with it (server/core/stock.py), in this transaction;
            # it reads the parent it leaves itself, under the lock (`location` may be stale)
            stock.move_subtree(location.id, location.parent_id, new_parent)
            changes["parent_id"] = new_parent
    if allow is not _UNSET:
        changes["allow"] = _check_allow(allow)
    if active is not None:
        changes["active"] = active
    if changes:
        Location.update(**changes).where(Location.id == location.id).execute()
    return Location.get_by_id(location.id)


def line_side(station: Station) -> Location:
    """The station's own location, made (a `line` under the default site, its code the
    station's, or a free variant of it) when it has none yet."""
    if station.location_id:
        loc = Location.get_or_none(Location.id == station.location_id)
        if loc is not None:
            return loc
    code = normal_code(station.code)[:32]
    loc = by_code(code)
    if loc is not None and loc.kind == "line" and not _is_line_of_another(loc, station):
        pass
    else:
        base, n = code[:28], 2
        while by_code(code) is not None:
            code = f"{base}-{n}"
            n += 1
        loc = Location.create(
            site_id=default_site().id, kind="line", code=code, name=station.name or code
        )
    Station.update(location_id=loc.id).where(Station.id == station.id).execute()
    station.location_id = loc.id
    return loc


def _is_line_of_another(loc: Location, station: Station) -> bool:
    return (
        Station.select()
        .where((Station.location_id == loc.id) & (Station.id != station.id))
        .exists()
    )


def check_allowed(location: Location, product: Product) -> str | None:
    """Why `product` may not be stored at `location` (its `allow` rule), or None."""
    allow = location.allow
    if not allow:
        return None
    if product.sku in (allow.get("products") or ()):
        return None
    if product.kind in (allow.get("kinds") or ()):
        return None
    return f"{product.sku} is not stored at {location.code}"


# --- reading ---------------------------------------------------------------------------------


def as_dict(loc: Location, sites: dict[int, str], codes: dict[int, str]) -> dict:
    return {
        "code": loc.code,
        "kind": loc.kind,
        "name": loc.name,
        "site": sites.get(loc.site_id),
        "parent": codes.get(loc.parent_id) if loc.parent_id else None,
        "allow": loc.allow,
        "active": loc.active,
        "label": label_text(loc.code),
    }


def listing(
    site: str | None = None, include_inactive: bool = True, site_ids: set[int] | None = None
) -> list[dict]:
    """Every location (of `site`; of `site_ids` if given), parents before children,
    siblings by code."""
    query = Location.select()
    if site:
        s = site_by_code(site)
        if s is None:
            raise NotFound("unknown_site", f"No site {normal_code(site)}")
        query = query.where(Location.site_id == s.id)
    if not include_inactive:
        query = query.where(Location.active == True)  # noqa: E712
    if site_ids is not None:
        query = query.where(Location.site_id.in_(list(site_ids) or [-1]))
    locs = list(query)
    sites = {s.id: s.code for s in Site.select()}
    codes = {loc.id: loc.code for loc in Location.select(Location.id, Location.code)}
    out = []
    for loc, depth in _tree_order(locs):
        row = as_dict(loc, sites, codes)
        row["depth"] = depth
        out.append(row)
    return out


def choices(
    site: str | None = None, most: int = 500, site_ids: set[int] | None = None
) -> list[tuple[str, int]]:
    """(code, depth) of the locations (of `site`; of `site_ids` if given) for a page's
    picker, parents before children; past `most` locations, the areas and line sides
    only (a bin is reached through its area)."""
    query = Location.select(Location.id, Location.parent_id, Location.site_id, Location.code,
                            Location.kind)  # fmt: skip
    if site:
        s = site_by_code(site)
        query = query.where(Location.site_id == (s.id if s else -1))
    if site_ids is not None:
        query = query.where(Location.site_id.in_(list(site_ids) or [-1]))
    if query.count() > most:  # the bins are most of them: not read at all
        query = query.where(Location.kind != "bin")
    db = Location._meta.database
    rows = db.execute_sql(*query.sql()).fetchall()
    ids = {r[0] for r in rows}
    children: dict[int | None, list[tuple]] = defaultdict(list)
    for r in rows:
        children[r[1] if r[1] in ids else None].append(r)
    for kids in children.values():
        kids.sort(key=lambda r: (r[2], r[3]))
    out: list[tuple[str, int]] = []
    stack = [(r, 0) for r in reversed(children[None])]
    while stack:
        r, level = stack.pop()
        out.append((r[3], level))
        stack.extend((kid, level + 1) for kid in reversed(children.get(r[0], [])))
    return out


def _tree_order(locs: list[Location]):
    ids = {loc.id for loc in locs}
    children: dict[int | None, list[Location]] = defaultdict(list)
    for loc in locs:
        parent = loc.parent_id if loc.parent_id in ids else None
        children[parent].append(loc)
    for kids in children.values():
        kids.sort(key=lambda x: (x.site_id, x.code))
    stack = [(loc, 0) for loc in reversed(children[None])]
    while stack:
        loc, depth = stack.pop()
        yield loc, depth
        stack.extend((kid, depth + 1) for kid in reversed(children.get(loc.id, [])))


def subtree_ids(location: Location) -> list[int]:
    """`location` and every location below it."""
    children: dict[int, list[int]] = defaultdict(list)
    rows = Location.select(Location.id, Location.parent_id).where(
        Location.site_id == location.site_id
    )
    for lid, pid in rows.tuples():
        if pid is not None:
            children[pid].append(lid)
    return _below([location.id], children)


def _below(roots: list[int], children: dict[int, list[int]]) -> list[int]:
    """`roots` and everything under them, each once (a cycle cannot loop)."""
    out: list[int] = []
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        lid = todo.pop()
        if lid in seen:
            continue
        seen.add(lid)
        out.append(lid)
        todo.extend(children.get(lid, ()))
    return out


#: the location columns stock by place reads, in this order (one plain SELECT: on a
#: site of 10,000 bins, peewee's model rows took most of the request)
_LOC_COLUMNS = ("id", "parent_id", "site_id", "code", "kind", "name", "allow", "active")
#: at most this many ids in an IN list; a larger scope reads its site and filters
_IN_LIMIT = 500


def stock_by_place(
    site: str | None = None,
    location: str | None = None,
    site_ids: set[int] | None = None,
    depth: int | None = None,
    most: int | None = None,
    limit: int | None = None,
    after: str | None = None,
) -> dict:
    """Stock on hand under a site and/or location (a location includes its subtree).

    `locations`: the locations in scope, in tree order, each with its own items and those
    of its subtree (`count`, `total_count`) and quantities per unit (`qty`: {unit: qty},
    never added across units); `depth` lists only that many levels below the scope's top
    (0: the top only; None: every level), the totals still count the whole subtree;
    `most`: with no `depth`, a scope of more locations than that lists a location and
    its children, or a site's top level (a page of a site with 10,000 bins shows its
    areas; `listed_depth` says which depth was listed, None: all).
    `products`: per product, unit and stage, the count and quantity. Items with no
    location (labelled before migration 0009 without a station, made by the API in a
    stock stage) are counted under `location: null` when no filter is given.

    `site_ids` (a user limited to sites, server/core/siteaccess.py) narrows every scope
    to those sites.

    Where the places listed are some levels of a site (or of the plant, or of a subtree
    of more than `_IN_LIMIT` places), each one's totals are read from the kept subtree
    totals (`LocationTotal`) and a site's products from `SiteCounter`: a site of 10,000
    bins listed at depth 1 reads its ~100 areas' rows. Otherwise (every place of a site,
    or a small subtree) the database sums the location counters per location and unit,
    and they are folded up the tree here.

    `limit` pages the listing (the API): at most that many places, in tree order, after
    the place the cursor `after` (a `next` of the page before) names; `more` says whether
    places remain and `next` is the cursor to the rest (None on the last page). A listing
    that fits in one page and has no cursor is the unpaged answer; a paged one reads its
    page's figures from the kept totals (its own rows only). A cursor that does not
    decode is `400 bad_cursor`.
    """
    after_key = _uncursor(after) if after else None
    the_site = None
    if site:
        the_site = site_by_code(site)
        if the_site is None:
            raise NotFound("unknown_site", f"No site {normal_code(site)}")
    root = None
    if location:
        root = by_code(location)
        if root is None or (site_ids is not None and root.site_id not in site_ids):
            raise NotFound("unknown_location", f"No location {normal_code(location)}")
        if the_site is not None and root.site_id != the_site.id:
            raise Invalid("bad_parent", f"{root.code} is not in site {the_site.code}")
    db = Location._meta.database
    db = getattr(db, "obj", db)
    site_id = root.site_id if root is not None else (the_site.id if the_site else None)
    # the sites read: the one asked for (or the location's), else the user's, else all
    sites_read: list[int] | None = None
    if site_id is not None:
        sites_read = [site_id] if site_ids is None or site_id in site_ids else []
    elif site_ids is not None:
        sites_read = sorted(site_ids)
    size = None  # the places in scope, where it decides
    if root is not None and (depth is not None or most is not None):
        size = _count(db, _SUBTREE + ' SELECT COUNT(*) FROM "sub"', [root.id])
    elif root is None and depth is None and most is not None:
        where, args = _in_sites(db, '"site_id"', sites_read)
        size = _count(db, f'SELECT COUNT(*) FROM "location" WHERE {where}', args)
    if depth is None and most is not None and size > most:
        # a location and its children; a site's (or the plant's) top level
        depth = 1 if root is not None else 0
    sites = {s.id: s.code for s in Site.select(Site.id, Site.code)}
    whole_plant = root is None and the_site is None and site_ids is None
    scope: list[int] | None = None
    page = None
    if limit is not None:
        page = _page(db, root, sites_read, depth, limit, after_key)
    more, next_cursor = False, None
    if page is not None:
        out_locs, more, next_cursor = _page_rows(db, page, sites, limit)
        unplaced = _unplaced(db) if whole_plant else None
    elif depth is not None and (root is None or size > _IN_LIMIT):
        out_locs = _listed_from_totals(db, root, sites_read, depth, sites)
        unplaced = _unplaced(db) if whole_plant else None
    else:
        out_locs, unplaced, scope = _folded(db, root, sites_read, depth, sites)
        if not whole_plant:
            unplaced = None
    products = _products(db, root, sites_read, scope)
    return {
        "site": the_site.code if the_site else None,
        "location": root.code if root else None,
        "listed_depth": depth,
        "locations": out_locs,
        "more": more,
        "next": next_cursor,
        "unplaced": unplaced,
        "products": [
            {"sku": sku, "name": name, "unit": unit, "stage": stage, "count": n, "qty": q}
            for (sku, name, unit, stage), (n, q) in sorted(products.items())
            if n
        ],
    }


#: a location's subtree, `"sub"("id")`, from the id given as its one parameter
_SUBTREE = (
    'WITH RECURSIVE "sub"("id") AS (SELECT "id" FROM "location" WHERE "id" = {p} '
    'UNION SELECT l."id" FROM "location" l JOIN "sub" ON l."parent_id" = "sub"."id")'
)


def _subtree(db) -> str:
    return _SUBTREE.replace("{p}", db.param)


def _count(db, sql: str, args: list) -> int:
    return db.execute_sql(sql.replace("{p}", db.param), args).fetchone()[0]


def _in_sites(db, column: str, sites_read: list[int] | None) -> tuple[str, list]:
    """A condition on `column` keeping the sites read (any, for None)."""
    if sites_read is None:
        return "1 = 1", []
    marks = ", ".join([db.param] * len(sites_read)) or "NULL"
    return f"{column} IN ({marks})", list(sites_read)


def _on_hand(db) -> tuple[str, list[str]]:
    stages = [s.value for s in ON_HAND]
    return ", ".join([db.param] * len(stages)), stages


def _place_row(row, level: int, parent_code, sites, own: int, total: int, qty: dict) -> dict:
    allow = row[6]
    return {
        "code": row[3],
        "kind": row[4],
        "name": row[5],
        "site": sites.get(row[2]),
        "parent": parent_code,
        "allow": json.loads(allow) if isinstance(allow, str) else allow,
        "active": bool(row[7]),
        "label": label_text(row[3]),
        "depth": level,
        "count": own,
        "total_count": total,
        "qty": qty,
    }


def _listed_from_totals(db, root, sites_read, depth: int, sites) -> list[dict]:
    """The places of `depth` levels below the scope's top, in tree order, their figures
    read from the kept totals: rows of the listed places only."""
    columns = ", ".join(f'l."{c}"' for c in _LOC_COLUMNS)
    if root is not None:
        top, args = f"SELECT {db.param}, 0", [root.id]
        below, below_args = "", []
    else:
        where, args = _in_sites(db, 'l."site_id"', sites_read)
        inner, inner_args = _in_sites(db, 'p."site_id"', sites_read)
        # a top: no parent, or one outside the sites read
        top = (
            f'SELECT l."id", 0 FROM "location" l WHERE {where} AND (l."parent_id" IS NULL OR '
            f'NOT EXISTS (SELECT 1 FROM "location" p WHERE p."id" = l."parent_id" AND {inner}))'
        )
        args = args + inner_args
        below, below_args = _in_sites(db, 'l."site_id"', sites_read)
        below = f" AND {below}"
    sql = (
        f'WITH RECURSIVE "t"("id", "lvl") AS ({top} UNION ALL SELECT l."id", t."lvl" + 1 '
        f'FROM "location" l JOIN "t" ON l."parent_id" = t."id" WHERE t."lvl" < {db.param}'
        f'{below}) SELECT {columns}, t."lvl" FROM "location" l JOIN "t" ON l."id" = t."id"'
    )
    rows = db.execute_sql(sql, [*args, depth, *below_args]).fetchall()
    locs = {row[0]: row for row in rows}
    children: dict[int, list[int]] = defaultdict(list)
    tops = []
    for lid, row in locs.items():
        if row[-1] == 0:
            tops.append(lid)
        else:
            children[row[1]].append(lid)
    for kids in children.values():
        kids.sort(key=lambda i: (locs[i][2], locs[i][3]))
    tops.sort(key=lambda i: (locs[i][2], locs[i][3]))
    own, totals = _figures(db, sorted(locs))
    out = []
    stack = [(lid, 0) for lid in reversed(tops)]
    while stack:
        lid, level = stack.pop()
        row = locs[lid]
        if row[1] is None:
            parent_code = None
        elif row[1] in locs:
            parent_code = locs[row[1]][3]
        else:  # the scope's top: its parent is outside
            parent_code = Location.get_by_id(row[1]).code
        n, qty = totals.get(lid, (0, {}))
        out.append(_place_row(row, level, parent_code, sites, own.get(lid, 0), n, _units(qty)))
        if level < depth:
            stack.extend((kid, level + 1) for kid in reversed(children.get(lid, [])))
    return out


#: the most levels a cursor's path may have (a tree deeper than this is not a plant's)
_DEEPEST = 1_000


class _Page:
    """One page of a listing: the places read, id -> (id, parent_id, site_id, code, kind),
    and the page's places in tree order, one more than the limit when more remain, as
    (id, level, path)."""

    __slots__ = ("rows", "listed")

    def __init__(self, rows, listed):
        self.rows, self.listed = rows, listed


#: the kinds a place may lie in (`PARENTS`): only these are asked for their children
_PARENT_KINDS = frozenset(k for kinds in PARENTS.values() for k in kinds if k)
_TREE_COLUMNS = '"id", "parent_id", "site_id", "code", "kind"'


def _page(db, root, sites_read, depth, limit: int, after: list | None) -> _Page | None:
    """The places of the page after the cursor's (`after`, a path of (site_id, code)),
    or None when the listing fits in one page and no cursor was given (the unpaged
    answer).

    Walks the tree in order from the scope's top, reading a place's children only when
    the walk reaches it (and only an area's: nothing else holds places), a few areas a
    statement (one, then twice as many while they hold fewer places than the page still
    needs); the cursor's path skips whole subtrees before it unread. A page of the
    bench's site reads its ~100 areas and the bins of the ~5 it lists, not its 10,100
    places; a page's cost does not grow with the site."""
    rows: dict[int, tuple] = {}
    where, site_args = _in_sites(db, '"site_id"', sites_read)
    if root is not None:
        found = db.execute_sql(
            f'SELECT {_TREE_COLUMNS} FROM "location" WHERE "id" = {db.param}', [root.id]
        ).fetchall()
    else:  # a top: no parent, or one outside the sites read
        inner, inner_args = _in_sites(db, 'p."site_id"', sites_read)
        found = db.execute_sql(
            f'SELECT {_TREE_COLUMNS} FROM "location" l WHERE {where} AND ("parent_id" IS NULL '
            f'OR NOT EXISTS (SELECT 1 FROM "location" p WHERE p."id" = l."parent_id" AND '
            f"{inner}))",
            site_args + inner_args,
        ).fetchall()
    for row in found:
        rows[row[0]] = row
    children: dict[int, list[int]] = {}

    def key(lid: int) -> tuple:
        return (rows[lid][2], rows[lid][3])

    def load(ids: list[int]) -> int:
        """The children of the places `ids`, sorted; how many places were read."""
        got: dict[int, list[int]] = {i: [] for i in ids}
        n = 0
        for i in range(0, len(ids), _IN_LIMIT):
            chunk = ids[i : i + _IN_LIMIT]
            marks = ", ".join([db.param] * len(chunk))
            for row in db.execute_sql(
                f'SELECT {_TREE_COLUMNS} FROM "location" '
                f'WHERE "parent_id" IN ({marks}) AND {where}',
                [*chunk, *site_args],
            ).fetchall():
                rows.setdefault(row[0], row)
                got[row[1]].append(row[0])
                n += 1
        for pid, kids in got.items():
            children[pid] = sorted(kids, key=key, reverse=True)  # a stack's order
        return n

    listed: list[tuple] = []
    # (id, level, path, on the cursor's path: every place above it is the cursor's)
    stack = [(lid, 0, (), after is not None) for lid in sorted(rows, key=key, reverse=True)]
    seen: set[int] = set()
    ahead = 1
    while stack and len(listed) <= limit:
        lid, level, above, on_path = stack.pop()
        if lid in seen:
            continue
        seen.add(lid)
        here = key(lid)
        path = (*above, here)
        if on_path and level < len(after):
            if here < after[level]:
                continue  # it and its subtree lie before the cursor
            on_path = here == after[level]
        else:
            on_path = False
        if not on_path:
            listed.append((lid, level, path))
        if rows[lid][4] not in _PARENT_KINDS or (depth is not None and level >= depth):
            continue
        if lid not in children:
            want = [lid]
            for other, other_level, _p, _o in reversed(stack):
                if len(want) >= ahead:
                    break
                if (
                    rows[other][4] in _PARENT_KINDS
                    and other not in children
                    and (depth is None or other_level < depth)
                ):
                    want.append(other)
            read = load(want)
            ahead = min(ahead * 2, _IN_LIMIT) if read < limit + 1 - len(listed) else 1
        stack.extend((kid, level + 1, path, on_path) for kid in children[lid])
    if after is None and not stack and len(listed) <= limit:
        return None
    return _Page(rows, listed)


def _page_rows(db, page: _Page, sites, limit: int) -> tuple[list[dict], bool, str | None]:
    """The page's places with their figures from the kept totals, whether more remain,
    and the cursor to them."""
    more = len(page.listed) > limit
    listed = page.listed[:limit]
    ids = sorted(lid for lid, _level, _path in listed)
    columns = ", ".join(f'"{c}"' for c in _LOC_COLUMNS)
    full: dict[int, tuple] = {}
    for i in range(0, len(ids), _IN_LIMIT):
        chunk = ids[i : i + _IN_LIMIT]
        marks = ", ".join([db.param] * len(chunk))
        for row in db.execute_sql(
            f'SELECT {columns} FROM "location" WHERE "id" IN ({marks})', chunk
        ).fetchall():
            full[row[0]] = row
    own, totals = _figures(db, ids)
    codes = {lid: row[3] for lid, row in page.rows.items()}
    out = []
    for lid, level, _path in listed:
        row = full[lid]
        if row[1] is None:
            parent_code = None
        elif row[1] in codes:
            parent_code = codes[row[1]]
        else:  # a top: its parent is outside the scope
            parent_code = Location.get_by_id(row[1]).code
        n, qty = totals.get(lid, (0, {}))
        out.append(_place_row(row, level, parent_code, sites, own.get(lid, 0), n, _units(qty)))
    return out, more, _cursor(listed[-1][2]) if more and listed else None


def _figures(db, ids: list[int]) -> tuple[dict[int, int], dict[int, list]]:
    """Of the places `ids`: their own items on hand, and their subtree totals (count, {unit:
    qty}) kept in `location_total`; an IN list of at most `_IN_LIMIT` ids a statement."""
    own: dict[int, int] = defaultdict(int)
    totals: dict[int, list] = {}
    marks, stages = _on_hand(db)
    for i in range(0, len(ids), _IN_LIMIT):
        chunk = ids[i : i + _IN_LIMIT]
        in_ids = ", ".join([db.param] * len(chunk))
        for lid, n in db.execute_sql(
            'SELECT "location_id", SUM("count") FROM "location_counter" '
            f'WHERE "location_id" IN ({in_ids}) AND "stage" IN ({marks}) AND "count" != 0 '
            'GROUP BY "location_id"',
            [*chunk, *stages],
        ).fetchall():
            own[lid] += int(n)
        for lid, unit, n, q in db.execute_sql(
            'SELECT "location_id", "unit", "count", "qty" FROM "location_total" '
            f'WHERE "location_id" IN ({in_ids}) AND "count" != 0',
            chunk,
        ).fetchall():
            entry = totals.setdefault(lid, [0, {}])
            entry[0] += int(n)
            entry[1][unit] = _dec(q)
    return own, totals


_CURSOR = re.compile(r"^[A-Za-z0-9_-]+$")


def _cursor(path: tuple) -> str:
    """The opaque cursor after a place: its path from the scope's top, (site id, code) a
    level, as base64url JSON."""
    text = json.dumps([[site, code] for site, code in path], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _uncursor(text: str) -> list[tuple[int, str]]:
    """A cursor's path; `400 bad_cursor` for anything `_cursor` did not make."""
    try:
        if len(text) > 4000 or not _CURSOR.match(text):
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        path = json.loads(raw.decode())
        if not isinstance(path, list) or not 1 <= len(path) <= _DEEPEST:
            raise ValueError
        out = []
        for site, code in path:
            if type(site) is not int or not isinstance(code, str) or not CODE.match(code):
                raise ValueError
            out.append((site, code))
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error, RecursionError):
        # RecursionError: JSON nested a thousand deep fits under the length cap
        raise Invalid("bad_cursor", "after: not a cursor of this listing (its `next`)") from None
    return out


def _unplaced(db) -> dict | None:
    """Items on hand with no location (the whole plant's stock by place only)."""
    marks, stages = _on_hand(db)
    rows = db.execute_sql(
        'SELECT p."unit", SUM(lc."count"), SUM(lc."qty") FROM "location_counter" lc '
        'JOIN "product" p ON p."id" = lc."product_id" '
        f'WHERE lc."location_id" = 0 AND lc."stage" IN ({marks}) AND lc."count" != 0 '
        'GROUP BY p."unit"',
        stages,
    ).fetchall()
    if not rows:
        return None
    qty: dict[str, Decimal] = defaultdict(Decimal)
    for unit, _n, q in rows:
        qty[unit] += _dec(q)
    return {"count": sum(int(n) for _u, n, _q in rows), "qty": _units(qty)}


def _folded(db, root, sites_read, depth, sites) -> tuple[list[dict], dict | None, list | None]:
    """Every listed place's figures summed from the location counters and folded up the
    tree (every place of a site, or a small subtree); also the unplaced items, and the
    ids of a subtree's scope."""
    columns = ", ".join(f'"{c}"' for c in _LOC_COLUMNS)
    sql, params = f'SELECT {columns} FROM "location"', []
    if root is not None:  # its subtree only (a bin's page reads one row, not its site's)
        sql = f'{_subtree(db)} {sql} WHERE "id" IN (SELECT "id" FROM "sub")'
        params = [root.id]
    elif sites_read is not None:
        marks = ", ".join([db.param] * len(sites_read)) or "NULL"
        sql, params = sql + f' WHERE "site_id" IN ({marks})', list(sites_read)
    locs = {row[0]: row for row in db.execute_sql(sql, params).fetchall()}
    children: dict[int, list[int]] = defaultdict(list)
    for lid, pid, *_rest in locs.values():
        if pid is not None and pid in locs:
            children[pid].append(lid)
    for kids in children.values():
        kids.sort(key=lambda i: (locs[i][2], locs[i][3]))
    if root is not None:
        tops = [root.id]
        scope: set[int] | None = set(_below(tops, children))
    else:
        tops = sorted((i for i, r in locs.items() if r[1] is None or r[1] not in locs),
                      key=lambda i: (locs[i][2], locs[i][3]))  # fmt: skip
        scope = None if sites_read is None else set(locs)

    marks, on_hand = _on_hand(db)
    in_list = scope is not None and root is not None and len(scope) <= _IN_LIMIT
    # the scope: its ids (a small subtree), else its sites (filtered here after), else all
    if in_list:
        narrow, narrow_args = ", ".join([db.param] * len(scope)), sorted(scope)
        narrow = f'AND lc."location_id" IN ({narrow})'
    elif sites_read is not None:
        narrow_args = list(sites_read)
        marks_s = ", ".join([db.param] * len(narrow_args)) or "NULL"
        narrow = (
            f'AND lc."location_id" IN (SELECT "id" FROM "location" WHERE "site_id" IN ({marks_s}))'
        )
    else:
        narrow, narrow_args = "", []
    per_place = db.execute_sql(
        'SELECT lc."location_id", p."unit", SUM(lc."count"), SUM(lc."qty") '
        'FROM "location_counter" lc JOIN "product" p ON p."id" = lc."product_id" '
        f'WHERE lc."stage" IN ({marks}) AND lc."count" != 0 {narrow} '
        'GROUP BY lc."location_id", p."unit"',
        on_hand + narrow_args,
    ).fetchall()

    own: dict[int, dict] = defaultdict(lambda: {"count": 0, "qty": defaultdict(Decimal)})
    for lid, unit, n, q in per_place:
        if scope is not None and lid not in scope:
            continue  # a large subtree read through its site
        entry = own[lid]
        entry["count"] += int(n)
        entry["qty"][unit] += _dec(q)
    total: dict[int, dict] = defaultdict(lambda: {"count": 0, "qty": defaultdict(Decimal)})
    for lid, entry in own.items():
        at: int | None = lid
        seen: set[int] = set()
        while at is not None and at in locs and (scope is None or at in scope):
            if at in seen:
                break
            seen.add(at)
            total[at]["count"] += entry["count"]
            for unit, q in entry["qty"].items():
                total[at]["qty"][unit] += q
            at = locs[at][1]
    out_locs = []
    stack = [(lid, 0) for lid in reversed(tops)]
    while stack:
        lid, level = stack.pop()
        row = locs[lid]
        parent = locs.get(row[1]) if row[1] is not None else None
        if parent is None and row[1] is not None:  # the scope's top: its parent is outside
            parent = (None, None, None, Location.get_by_id(row[1]).code)
        out_locs.append(
            _place_row(
                row,
                level,
                parent[3] if parent else None,
                sites,
                own[lid]["count"] if lid in own else 0,
                total[lid]["count"] if lid in total else 0,
                _units(total[lid]["qty"]) if lid in total else {},
            )
        )
        if depth is None or level < depth:
            stack.extend((kid, level + 1) for kid in reversed(children.get(lid, [])))
    unplaced = own.get(0)
    return (
        out_locs,
        {"count": unplaced["count"], "qty": _units(unplaced["qty"])} if unplaced else None,
        sorted(scope) if root is not None and scope is not None else None,
    )


def _products(db, root, sites_read, scope: list[int] | None) -> dict[tuple, list]:
    """(sku, name, unit, stage) -> [count, qty] on hand in the scope: a subtree's from its
    location counters (an id list, else through its subtree), a site's (or the plant's)
    from the site counters, the plant's with its unplaced items."""
    marks, stages = _on_hand(db)
    select = 'SELECT p."sku", p."name", p."unit", c."stage", SUM(c."count"), SUM(c."qty") '
    group = ' GROUP BY p."sku", p."name", p."unit", c."stage"'
    queries: list[tuple[str, list]] = []
    if root is not None:
        if scope is not None and len(scope) <= _IN_LIMIT:
            cte, where = "", f'c."location_id" IN ({", ".join([db.param] * len(scope))})'
            args = list(scope)
        else:
            cte, where, args = (
                _subtree(db) + " ",
                'c."location_id" IN (SELECT "id" FROM "sub")',
                [root.id],
            )
        queries.append(
            (
                f'{cte}{select}FROM "location_counter" c JOIN "product" p ON p."id" = '
                f'c."product_id" WHERE {where} AND c."stage" IN ({marks}) AND c."count" != 0'
                + group,
                args + stages,
            )
        )
    else:
        where, args = _in_sites(db, 'c."site_id"', sites_read)
        # a row a site, product and stage already: no GROUP BY (sorting 1,000 rows by
        # their text took half the read); several sites' rows are added up below
        queries.append(
            (
                'SELECT p."sku", p."name", p."unit", c."stage", c."count", c."qty" '
                'FROM "site_counter" c JOIN "product" p ON p."id" = c."product_id" '
                f'WHERE {where} AND c."stage" IN ({marks}) AND c."count" != 0',
                args + stages,
            )
        )
        if sites_read is None:  # the plant: its items with no location too
            queries.append(
                (
                    f'{select}FROM "location_counter" c JOIN "product" p ON p."id" = '
                    f'c."product_id" WHERE c."location_id" = 0 AND c."stage" IN ({marks}) '
                    'AND c."count" != 0' + group,
                    stages,
                )
            )
    products: dict[tuple, list] = {}
    for sql, args in queries:
        for sku, name, unit, stage, n, q in db.execute_sql(sql, args).fetchall():
            acc = products.setdefault((sku, name, unit, stage), [0, Decimal(0)])
            acc[0] += int(n)
            acc[1] += _dec(q)
    return products


def _dec(value) -> Decimal:
    """A SUM from the database as the 4-place Decimal the models hold (SQLite sums a
    fractional quantity as a float)."""
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, Decimal):
        return value.quantize(_PLACES)
    return Decimal(repr(round(value, 4)))


_PLACES = Decimal("0.0001")


def _units(qty: dict) -> dict[str, Decimal]:
    return {unit: q for unit, q in sorted(qty.items()) if q}


def items_at(location: Location, *, limit: int = 200) -> list[Item]:
    """The items on hand at `location` and below it (drill-down), newest first."""
    return list(
        Item.select(Item, Product)
        .join(Product)
        .where(
            Item.location_id.in_(subtree_ids(location)) & Item.stage.in_([s.value for s in ON_HAND])
        )
        .order_by(Item.id.desc())
        .limit(limit)
    )


def codes_of(ids) -> dict[int, str]:
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    return dict(Location.select(Location.id, Location.code).where(Location.id.in_(ids)).tuples())


def current(scanner) -> str | None:
    """The code of a scanner's current location (its last location label), or None: the
    one context the scan page header and GET /api/scanners show."""
    if not scanner.location_id:
        return None
    return Location.select(Location.code).where(Location.id == scanner.location_id).scalar()


def where_next(scanner, station) -> str | None:
    """The code of the location the scanner's next scan puts an item at: its current
    location (the last location label), else its station's line side."""
    place = current(scanner)
    if place is None and station is not None and station.location_id:
        place = Location.select(Location.code).where(Location.id == station.location_id).scalar()
    return place


def scanning(code: str) -> Location:
    """The location a location label names, for a scan: active, else refused."""
    loc = by_code(code)
    if loc is None:
        raise Rejected("unknown_location", f"Location {normal_code(code)} not known")
    if not loc.active:
        raise Rejected("unknown_location", f"Location {loc.code} is deactivated")
    return loc
