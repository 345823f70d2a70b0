"""OEE, labour and operation times: GET /api/oee, /api/labour, /api/orders/<number>/times
(server/core/oee.py, server/core/labour.py)."""

from __future__ import annotations

import datetime as dt

import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import IsoDate, StationCode, Strict
from server.core import labour, oee, plantday, shifts
from server.core.errors import NotFound
from server.models import ProductionOrder, Station, utcnow


class OeeQuery(Strict):
    station: StationCode | None = pydantic.Field(
        default=None, description="a station code; left out: every active station"
    )
    shift: str = pydantic.Field(min_length=1, max_length=64, description="a shift's name")
    day: IsoDate | None = pydantic.Field(
        default=None, description="the local day the shift starts on; default today"
    )


class LabourQuery(Strict):
    day: IsoDate | None = pydantic.Field(default=None, description="local day; default today")
    shift: str | None = pydantic.Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a shift's name: only its hours of the day; left out: the whole day",
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
    responses={200: ("Figures and inputs", None), 404: ("unknown_station, unknown_shift", None)},
)
def get_oee(query: OeeQuery):
    now = utcnow()
    shift = shifts.find(query.shift)
    day = query.day or plantday.local_date(now, _tz())
    if query.station is not None:
        station = Station.get_or_none(Station.code == query.station)
        if station is None:
            raise NotFound("unknown_station", f"No station {query.station}")
        return oee.station_oee(station, shift, day, now, _tz())
    stations = Station.select().where(Station.active == True).order_by(Station.code)  # noqa: E712
    return {
        "shift": shift.name,
        "day": day.isoformat(),
        "stations": [oee.station_oee(s, shift, day, now, _tz()) for s in stations],
    }


@op(
    "GET",
    "/labour",
    role="supervisor",
    tag="people",
    summary="Labour by operator: signed-in intervals, minutes and scans in a day or shift",
    query=LabourQuery,
    responses={200: ("Operators", None), 404: ("unknown_shift", None)},
)
def get_labour(query: LabourQuery):
    now = utcnow()
    day = query.day or plantday.local_date(now, _tz())
    if query.shift is not None:
        start, end = shifts.window(shifts.find(query.shift), day, _tz())
    else:
        start = plantday.day_start(day, _tz())
        end = plantday.day_start(day + dt.timedelta(days=1), _tz())
    out = labour.labour(start, end, now)
    return {"day": day.isoformat(), "shift": query.shift, **out}


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
