"""Registered label printers: where each stands (site, station), its print head's
resolution and the media loaded, and whether a label fits that media.

A printer is registered, edited and switched off here (the API and the admin page both call
these); print jobs name printers only by name (server/core/printjobs.py). `dpi` is one of
203, 300, 600: a zpl-tcp printer's ZPL is drawn in its dots (server/labelling.py). The
media is `width_mm` x `height_mm`, `gap` (die-cut labels with a gap between them: a label
fits when it is no wider and no longer than one) or `continuous` (a roll cut to any
length: only the width counts, a height is not asked for). A printer whose media is not
known (no width) is not checked. A label that does not fit is never cropped: its job fails
with `media_mismatch` (docs/labels.md "Printers").
"""

from __future__ import annotations

from server.core import locations
from server.core.errors import Conflict, Invalid, NotFound
from server.models import Printer, PrintJob, Site, Station

DPIS = (203, 300, 600)
MEDIA_KINDS = ("gap", "continuous")
#: media sizes a thermal printer takes, in mm (the widest Zebra desktop/industrial head
#: is 8.5 in; a label shorter than 5 mm cannot be peeled or sensed)
MEDIA_WIDTH_MM = (10.0, 220.0)
MEDIA_HEIGHT_MM = (5.0, 1000.0)
#: a label this much larger than the media still fits: a design is drawn in whole dots and
#: its sizes are typed in mm (50.8 for 2 in), a label roll is sold in whole mm (51)
FIT_SLACK_MM = 0.5


def check_media(width: float | None, height: float | None, kind: str) -> None:
    """Refuse media that no printer loads: `bad_media` naming what is wrong."""
    if kind not in MEDIA_KINDS:
        raise Invalid("bad_media", f"media kind is one of {', '.join(MEDIA_KINDS)}")
    if width is None:
        if height is not None:
            raise Invalid("bad_media", "a media height needs a media width")
        return
    low, high = MEDIA_WIDTH_MM
    if not low <= width <= high:
        raise Invalid("bad_media", f"media width is {low:g} to {high:g} mm")
    if height is None:
        if kind == "gap":
            raise Invalid("bad_media", "gap media needs its label height")
        return
    low, high = MEDIA_HEIGHT_MM
    if not low <= height <= high:
        raise Invalid("bad_media", f"media height is {low:g} to {high:g} mm")


def check_dpi(dpi: int) -> None:
    if dpi not in DPIS:
        raise Invalid("bad_dpi", f"dpi is one of {', '.join(map(str, DPIS))}")


def media_text(printer: Printer) -> str:
    """`50.8 x 25.4 mm gap`, `104 mm continuous`, or '' when not known."""
    if printer.media_width_mm is None:
        return ""
    if printer.media_kind == "continuous" or printer.media_height_mm is None:
        return f"{printer.media_width_mm:g} mm {printer.media_kind}"
    return f"{printer.media_width_mm:g} x {printer.media_height_mm:g} mm {printer.media_kind}"


def misfit(printer: Printer, width: float, height: float, what: str) -> str | None:
    """Why a `width` x `height` mm label (`what`: "template default") does not fit the
    printer's media, or None when it does (or the media is not known)."""
    if printer.media_width_mm is None:
        return None
    too_wide = width > printer.media_width_mm + FIT_SLACK_MM
    too_long = (
        printer.media_kind == "gap"
        and printer.media_height_mm is not None
        and height > printer.media_height_mm + FIT_SLACK_MM
    )
    if not (too_wide or too_long):
        return None
    return (
        f"{what} is {width:g} x {height:g} mm, printer {printer.name} holds "
        f"{media_text(printer)} labels"
    )


def check_fits(printer: Printer, width: float, height: float, what: str) -> None:
    why = misfit(printer, width, height, what)
    if why is not None:
        raise Conflict("media_mismatch", why)


# --- register, edit, switch off ---------------------------------------------------------


def station_by_code(code: str | None) -> Station | None:
    if code is None:
        return None
    station = Station.get_or_none(Station.code == code)
    if station is None:
        raise NotFound("unknown_station", f"No station {code}")
    return station


def site_by_code(code: str | None) -> Site | None:
    return None if code is None else locations.known_site(code)


def by_name(name: str) -> Printer:
    printer = Printer.get_or_none(Printer.name == name)
    if printer is None:
        raise NotFound("unknown_printer", f"No printer {name}")
    return printer


def apply_fields(printer: Printer, fields: dict) -> Printer:
    """Set the given fields of `printer` (codes resolved, values checked) and save it:
    `kind`, `address`, `station` and `site` (codes or None), `dpi`, `media` (a dict
    `width_mm`, `height_mm`, `kind`, or None: not known), `active`. The caller checks the
    address against the kind (server/labelling.py `check_address`)."""
    if "station" in fields:
        printer.station = station_by_code(fields["station"])
    if "site" in fields:
        site = site_by_code(fields["site"])
        printer.site_id = site.id if site is not None else None
    if "dpi" in fields:
        check_dpi(fields["dpi"])
        printer.dpi = fields["dpi"]
    if "media" in fields:
        media = fields["media"] or {}
        width, height = media.get("width_mm"), media.get("height_mm")
        kind = media.get("kind") or "gap"
        check_media(width, height, kind)
        printer.media_width_mm = width
        printer.media_height_mm = None if kind == "continuous" else height
        printer.media_kind = kind
    for name in ("kind", "address", "active"):
        if name in fields:
            setattr(printer, name, fields[name])
    printer.save()
    return printer


def last_error(printer: Printer) -> dict | None:
    """The error of the printer's last attempted job, or None when that one went through
    (a printer that did not take it, a label that does not fit its media)."""
    job = (
        PrintJob.select(PrintJob.id, PrintJob.last_error, PrintJob.last_attempt_at)
        .where((PrintJob.printer == printer) & PrintJob.last_attempt_at.is_null(False))
        .order_by(PrintJob.last_attempt_at.desc(), PrintJob.id.desc())
        .first()
    )
    if job is None or not job.last_error:
        return None
    return {"job": job.id, "error": job.last_error, "at": job.last_attempt_at.isoformat() + "Z"}


def printer_dict(printer: Printer, state: dict) -> dict:
    """A printer as the API and the admin page show it; `state`: printjobs.printer_state."""
    station = Station.get_or_none(Station.id == printer.station_id) if printer.station_id else None
    site = Site.get_or_none(Site.id == printer.site_id) if printer.site_id else None
    media = None
    if printer.media_width_mm is not None:
        media = {
            "width_mm": printer.media_width_mm,
            "height_mm": printer.media_height_mm,
            "kind": printer.media_kind,
        }
    error = last_error(printer)
    return {
        "name": printer.name,
        "kind": printer.kind,
        "address": printer.address,
        "station": station.code if station else None,
        "site": site.code if site else None,
        "dpi": printer.dpi,
        "media": media,
        "active": printer.active,
        **state,
        "last_error": error["error"] if error else None,
        "last_error_at": error["at"] if error else None,
    }
