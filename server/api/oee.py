"""OEE, labour and operation times: GET /api/oee, /api/labour, /api/orders/<number>/times
(server/core/oee.py, server/core/labour.py)."""

from __future__ import annotations

import pydantic
from flask import current_app

from server import scope
from server.api import current_user, op
from server.api.schemas import IsoDate, StationCode, Strict
from server.core import labour, oee, plantday, shifts, siteaccess
from server.core.errors import NotFound
from server.models import ProductionOrder, Station, utcnow


class OeeQuery(Strict):
    station: StationCode | None = pydantic.Field(
        default=None, description="a station code; left out: every active station"
    )
    shift: str = pydantic.Field(
        min_length=1,
        max_length=64,
        description="a shift's name: each station's shift of that name at its site, else "
        "the plant-wide one",
    )
    site: StationCode | None = pydantic.Field(
        default=None, description="a site's code: only its stations; left out: every site"
    )
    day: IsoDate | None = pydantic.Field(
        default=None, description="the local day the shift starts on; default today"
    )


class LabourQuery(Strict):
    day: IsoDate | None = pydantic.Field(default=None, description="local day; default today")
    shift: str | None = pydantic.Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a shift's name: only its hours of the day, at each station those of "
        "its site's shift of that name (else the plant-wide one); left out: the whole day",
    )
    site: StationCode | None = pydantic.Field(
        default=None, description="a site's code: only its stations; left out: every site"
    )


def _tz() -> str | None:
    return current_app.config.get("PLANT_TIMEZONE")


@op(
    "GET",
    "/oee",
    role="supervisor",
    tag="oee",
    summary="OEE of a station (or every station) in a shift of a day, with its inputs",
    query=OeeQuery,
    responses={
        200: ("Figures and inputs", None),
        404: ("unknown_station, unknown_shift, unknown_site", None),
    },
)
def get_oee(query: OeeQuery):
    now = utcnow()
    day = query.day or plantday.local_date(now, _tz())
    user = current_user()
    siteaccess.check_site(user, query.site)  # a user limited to sites: another is unknown
    site_id = shifts.site_id_of(query.site)
    if query.station is not None:
        station = Station.get_or_none(Station.code == query.station)
        siteaccess.check_station(user, station, query.station)  # none, or another site's
        stations = [station]
    else:
        listed = Station.select().where(Station.active == True)  # noqa: E712
        mine = siteaccess.stations_query(user)  # a user limited to sites: their stations
        if mine is not None:
            listed = listed.where(Station.id.in_(mine))
        stations = list(listed.order_by(Station.code))
    sites = shifts.station_sites([s.id for s in stations])
    if site_id is not None:
        stations = [s for s in stations if sites.get(s.id) == site_id]
    by_site: dict[int | None, object] = {}
    rows = []
    for st in stations:
        st_site = sites.get(st.id)
        if st_site not in by_site:
            by_site[st_site] = shifts.for_site(query.shift, st_site)
        shift = by_site[st_site]
        if shift is not None:
            rows.append(oee.station_oee(st, shift, day, now, _tz()))
    if not rows and not (query.station is None and stations and shifts.exists(query.shift)):
        where = f" at station {query.station}" if query.station else ""
        raise NotFound("unknown_shift", f"No shift {query.shift}{where}")
    if query.station is not None:
        return rows[0]
    return {"shift": query.shift, "site": query.site, "day": day.isoformat(), "stations": rows}


@op(
    "GET",
    "/labour",
    role="supervisor",
    tag="people",
    summary="Labour by operator: signed-in intervals, minutes and scans in a day or shift",
    query=LabourQuery,
    responses={200: ("Operators", None), 404: ("unknown_shift, unknown_site", None)},
)
def get_labour(query: LabourQuery):
    now = utcnow()
    day = query.day or plantday.local_date(now, _tz())
    user = current_user()
    siteaccess.check_site(user, query.site)  # a user limited to sites: another is unknown
    site_id = shifts.site_id_of(query.site)
    mine = scope.station_ids(user)  # a user limited to sites: their stations' labour
    out = labour.labour_of(day, query.shift, site_id, now, _tz(), only=mine)
    return {"day": day.isoformat(), "shift": query.shift, "site": query.site, **out}


@op(
    "GET",
    "/orders/<number>/times",
    role="supervisor",
    tag="orders",
    summary="Operation times of an order: per unit and station, actual against standard",
    responses={200: ("Times", None), 404: ("unknown_order", None)},
)
def order_times(number: str):
    order = ProductionOrder.get_or_none(ProductionOrder.number == number)
    if order is None:
        raise NotFound("unknown_order", f"No order {number}")
    return labour.operation_times(order)
