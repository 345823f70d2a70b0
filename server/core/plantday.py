"""The plant's calendar day: which local day a stored moment falls on, and when a local day
begins in stored (naive UTC) time.

Times are stored as naive UTC. Days — "today" of the flags, the schedule's pro-rata plan,
the scans of today — are the plant's local days, so a plant in Jakarta does not roll over
at 07:00. The adapters hand the plant's IANA time zone name in as a plain value (the
`PLANT_TIMEZONE` setting); `None` means UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = "UTC"


@functools.lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo of an IANA name; ValueError for a name the tz database does not know."""
    try:
        return ZoneInfo(name or UTC)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Jakarta)") from exc


def local(moment: dt.datetime, tz: str | None) -> dt.datetime:
    """A naive UTC moment as an aware local time of the plant."""
    return moment.replace(tzinfo=dt.UTC).astimezone(zone(tz))


def local_date(moment: dt.datetime, tz: str | None) -> dt.date:
    """The plant's calendar day of a naive UTC moment."""
    return local(moment, tz).date()


def day_start(day: dt.date, tz: str | None) -> dt.datetime:
    """When the plant's local `day` begins, as naive UTC (for comparing stored times)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone(tz))
    return start.astimezone(dt.UTC).replace(tzinfo=None)
