"""What one request asks more than once, kept for that request (`flask.g`): the adapters'
side of server/core, which never sees a request.

`station_ids(user)`: the stations of a user limited to sites (server/core/siteaccess.py),
read once a request however many listings of the page or answer filter by it.
"""

from __future__ import annotations

from flask import g

from server.core import siteaccess
from server.models import User


def station_ids(user: User | None) -> list[int] | None:
    """`siteaccess.station_ids(user)`, once a request (None: every station)."""
    cache = g.setdefault("site_station_ids", {})
    key = None if user is None else user.id
    if key not in cache:
        cache[key] = siteaccess.station_ids(user)
    return cache[key]
