"""GET /api/stock: stock by stage, product x stage and station, from the counters.

`by_stage` lists every stage, zeros included; `by_product` and `by_station` list the
non-zero combinations only (a missing one is zero), `by_station` only stages still in the
plant: docs/api.md."""

from __future__ import annotations

import peewee as pw
import pydantic

from server.api import current_user, op
from server.api.schemas import QueryInt, Strict, num
from server.core import locations, scrapreport, siteaccess
from server.core.stages import GONE, Stage
from server.models import Product, Station, StockCounter

#: places in `places.locations` of one answer, by default and at most (docs/api.md)
PLACES_LIMIT = 500
PLACES_LIMIT_MAX = 2000


class StockQuery(Strict):
    site: str | None = pydantic.Field(
        default=None, max_length=32, description="a site's code: `places` covers that site"
    )
    location: str | None = pydantic.Field(
        default=None,
        max_length=32,
        description="a location's code: `places` covers it and every location below it",
    )
    depth: QueryInt | None = pydantic.Field(
        default=None,
        ge=0,
        le=100,
        description="`places.locations` lists this many levels below the scope's top "
        "(0: the top only); absent: every level. Totals always count the whole subtree",
    )
    limit: QueryInt = pydantic.Field(
        default=PLACES_LIMIT,
        ge=1,
        le=PLACES_LIMIT_MAX,
        description=f"at most this many places in `places.locations` (default {PLACES_LIMIT}, "
        f"at most {PLACES_LIMIT_MAX}); `places.more` says whether more remain and "
        "`places.next` is the cursor to them",
    )
    after: str | None = pydantic.Field(
        default=None,
        description="the `places.next` of the page before: the places after it, in the same "
        "order (the same `site`, `location` and `depth`); `400 bad_cursor` for any other text",
    )


def _places(query: StockQuery) -> dict:
    """Stock on hand by place: the location tree with counts and quantities per unit
    (never added across units), and per product x unit x stage (server/core/locations.py)."""
    user = current_user()
    siteaccess.check_site(user, query.site)
    siteaccess.check_location(user, query.location)
    data = locations.stock_by_place(
        query.site,
        query.location,
        siteaccess.site_ids(user),
        depth=query.depth,
        limit=query.limit,
        after=query.after,
    )
    for loc in data["locations"]:
        loc["qty"] = {unit: num(q) for unit, q in loc["qty"].items()}
    if data["unplaced"] is not None:
        data["unplaced"]["qty"] = {u: num(q) for u, q in data["unplaced"]["qty"].items()}
    for row in data["products"]:
        row["qty"] = num(row["qty"])
    return data


def _mine(query, stations: pw.Select | None):
    """The counters of the user's stations only, for a user limited to sites."""
    if stations is None:
        return query
    return query.where(StockCounter.station_id.in_(stations))


def _by_unit(
    *keys, stations: pw.Select | None = None, sites: tuple[int, ...] | None = None
) -> dict[tuple, dict[str, float | int]]:
    """{keys: {unit: qty}} over the counters with items: the quantity of each unit apart
    (kilograms and pieces are never added)."""
    query = (
        StockCounter.select(*keys, Product.unit, pw.fn.SUM(StockCounter.qty))
        .join(Product)
        .switch(StockCounter)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(StockCounter.station_id == Station.id))
        .where(StockCounter.count != 0)
    )
    query = _mine(query, stations).group_by(*keys, Product.unit).order_by(*keys, Product.unit)
    out: dict[tuple, dict] = {}
    for *key, unit, qty in _fetch(query, f"by_unit:{keys}", sites):
        out.setdefault(tuple(key), {})[unit] = num(_qty(qty))
    return out


def _fetch(query, name: str, sites: tuple[int, ...] | None) -> list[tuple]:
    """The rows of a query as the driver gives them: peewee's row conversion took most
    of the request on a plant of 200 products (docs/benchmarks.md, bench_places.py).
    The SQL of each query is built once per database and set of sites (`sites`: those of
    a user limited to them, whose stations' subquery is a function of them alone)."""
    db = StockCounter._meta.database
    db = getattr(db, "obj", db)
    key = (name, type(db), db.param, sites)  # not id(db): a freed database's id may be reused
    sql = _SQL.get(key)
    if sql is None:
        if len(_SQL) > _SQL_MAX:  # a few sets of sites in a plant; bounded all the same
            _SQL.clear()
        sql = _SQL[key] = query.sql()
    return db.execute_sql(*sql).fetchall()


#: (query name, database kind, its placeholder, the user's sites or None) -> (sql, params)
_SQL: dict[tuple, tuple[str, list]] = {}
_SQL_MAX = 512


def _qty(value):
    """A summed quantity: SQLite sums a fractional one as a float, rounded here to the
    models' 4 places (a sum of floats may end in ...0000000004)."""
    return round(value, 4) if isinstance(value, float) else value


@op(
    "GET",
    "/stock",
    role="operator",
    tag="stock",
    summary="Counts and quantities by stage, product x stage, station and place "
    "(site, location and its subtree)",
    query=StockQuery,
    responses={
        200: ("Stock", None),
        400: ("bad_payload, bad_cursor", None),
        404: ("unknown_site, unknown_location", None),
    },
)
def get_stock(query: StockQuery):
    user = current_user()
    # a user limited to sites: the counters of those sites' stations (siteaccess.py)
    stations = siteaccess.stations_query(user)  # a subquery of each statement below
    ids = siteaccess.site_ids(user)
    sites = None if ids is None else tuple(sorted(ids))
    places = _places(query)
    by_stage = _mine(
        StockCounter.select(
            StockCounter.stage,
            pw.fn.SUM(StockCounter.count).alias("n"),
            pw.fn.SUM(StockCounter.qty).alias("q"),
        ),
        stations,
    ).group_by(StockCounter.stage)
    by_product = (
        _mine(
            StockCounter.select(
                Product.sku,
                Product.name,
                StockCounter.stage,
                pw.fn.SUM(StockCounter.count).alias("n"),
                pw.fn.SUM(StockCounter.qty).alias("q"),
            ).join(Product),
            stations,
        )
        .group_by(Product.sku, Product.name, StockCounter.stage)
        .order_by(Product.sku, StockCounter.stage)
    )
    by_station = (
        _mine(
            StockCounter.select(
                Station.code,
                StockCounter.stage,
                pw.fn.SUM(StockCounter.count).alias("n"),
                pw.fn.SUM(StockCounter.qty).alias("q"),
            )
            .join(Station, on=(StockCounter.station_id == Station.id))
            # a shipped, consumed or scrapped item is at no station (its station column
            # keeps the last one it passed): stations hold only what is in the plant
            .where(StockCounter.stage.not_in([s.value for s in GONE])),
            stations,
        )
        .group_by(Station.code, StockCounter.stage)
        .order_by(Station.code, StockCounter.stage)
    )
    totals = {
        stage: (int(n or 0), _qty(q) or 0) for stage, n, q in _fetch(by_stage, "stage", sites)
    }
    by_product = _fetch(by_product, "product", sites)
    by_station = _fetch(by_station, "station", sites)
    stage_units = _by_unit(StockCounter.stage, stations=stations, sites=sites)
    station_units = _by_unit(Station.code, StockCounter.stage, stations=stations, sites=sites)
    return {
        # every stage, in the table's order, zeros included: the same shape every time
        "by_stage": [
            {
                "stage": s.value,
                "count": n,
                "qty": num(q),
                "qty_by_unit": stage_units.get((s.value,), {}),
            }
            for s in Stage
            for n, q in [totals.get(s.value, (0, 0))]
        ],
        "by_product": [
            {"sku": sku, "name": name, "stage": s, "count": int(n), "qty": num(_qty(q))}
            for sku, name, s, n, q in by_product
            if n
        ],
        "by_station": [
            {
                "station": code,
                "stage": s,
                "count": int(n),
                "qty": num(_qty(q)),
                "qty_by_unit": station_units.get((code, s), {}),
            }
            for code, s, n, q in by_station
            if n
        ],
        "places": places,
        # held stock, shown apart (it is counted in the figures above as well)
        "held": [
            {"stage": s, "count": n, "qty": num(q)}
            for s, (n, q) in sorted(
                scrapreport.held_by_stage(siteaccess.locations_query(user)).items()
            )
        ],
    }
