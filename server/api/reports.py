"""GET /api/reports/shift.pdf: the shift report as a PDF (server/core/shiftreport.py), in
the reader's language. Supervisors and admins print it (the schedule and scrap pages link
to it)."""

from __future__ import annotations

import re

import pydantic
from flask import Response, current_app
from flask_babel import force_locale

from server.api import current_user, op
from server.api.schemas import IsoDate, Strict
from server.core import planning, plantday, shiftreport, shifts, siteaccess
from server.core.errors import Invalid
from server.models import utcnow


class ShiftQuery(Strict):
    day: IsoDate | None = pydantic.Field(
        default=None, description="the plant day (YYYY-MM-DD); today when left out"
    )
    stations: str | None = pydantic.Field(
        default=None,
        max_length=1000,
        description="station codes separated by commas; the whole plant when left out",
    )
    shift: str | None = pydantic.Field(
        default=None,
        max_length=64,
        description="a shift's name: the report of that shift of the day (its hours, the "
        "stations that work it, the planned quantities of its share of the day); left out "
        "or empty: the whole plant day",
    )
    site: str | None = pydantic.Field(
        default=None,
        max_length=32,
        description="a site's code: only its stations, and its own shift of the name "
        "(else the plant-wide one); left out or empty: every site",
    )


def station_codes(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None  # a page's form sends an empty field
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes or any(not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", c) for c in codes):
        raise Invalid("bad_payload", "stations: station codes separated by commas")
    return codes


def shift_pdf(
    day, stations: list[str] | None, lang: str, shift=None, site_id: int | None = None
) -> bytes:
    """The PDF of `day` (or of its `shift`) in `lang` (the words worded through the pages'
    catalogues)."""
    from server.web import i18n

    tz = current_app.config.get("PLANT_TIMEZONE")
    report = shiftreport.gather(
        day, stations=stations, tz=tz, now=utcnow(), shift=shift, site_id=site_id
    )
    lang = lang if lang in i18n.languages() else i18n.DEFAULT
    with force_locale(lang):
        return shiftreport.render_pdf(report, i18n.shift_report_words())


@op(
    "GET",
    "/reports/shift.pdf",
    role="supervisor",
    tag="export",
    summary="The shift report of a plant day as PDF: production, scrap, holds, flags",
    query=ShiftQuery,
    responses={200: ("PDF", None)},
    produces={200: ("application/pdf",)},
)
def shift_report(query: ShiftQuery):
    tz = current_app.config.get("PLANT_TIMEZONE")
    day = query.day or plantday.local_date(utcnow(), tz)
    if not planning.EARLIEST <= day <= planning.LATEST:
        raise Invalid(
            "bad_date",
            f"day {day.isoformat()} is outside "
            f"{planning.EARLIEST.isoformat()}..{planning.LATEST.isoformat()}",
        )
    user = current_user()
    site_code = (query.site or "").strip() or None
    siteaccess.check_site(user, site_code)
    site_id = shifts.site_id_of(site_code)
    mine = siteaccess.site_ids(user)
    if site_id is None and mine is not None and len(mine) == 1:
        site_id = next(iter(mine))  # a user of one site: its own shifts
    shift_name = (query.shift or "").strip() or None
    shift = shiftreport.resolve_shift(shift_name, site_id, mine) if shift_name else None
    # a user limited to sites: those sites' stations (siteaccess.py)
    codes = siteaccess.station_codes(user, station_codes(query.stations))
    pdf = shift_pdf(day, codes, user.language or "en", shift, site_id)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="shift-{day.isoformat()}.pdf"',
            "Cache-Control": "no-store",
        },
    )
