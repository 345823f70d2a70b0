"""People at stations: GET /api/people."""

from __future__ import annotations

from flask import current_app

from server import scope
from server.api import current_user, op
from server.core.people import people
from server.models import utcnow


@op(
    "GET",
    "/people",
    role="supervisor",
    tag="people",
    summary="Who is signed in at which station, and their scans today",
    responses={200: ("People", None)},
)
def get_people():
    # a user limited to sites: the people at those sites' stations (siteaccess.py), read
    # once: both statements of `people` filter by them (a subquery ran in each)
    stations = scope.station_ids(current_user())
    return people(utcnow(), current_app.config.get("PLANT_TIMEZONE"), station_ids=stations)
