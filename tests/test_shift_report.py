"""The shift report PDF (GET /api/reports/shift.pdf): it parses, and says the day's
figures — production by order planned vs done, scrap by reason, holds raised and open,
flags, downtime — in the reader's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from server.core.errors import NotFound
from server.models import LedgerEntry, User
from tests.test_exports import D, at, get, shop  # noqa: F401 - the fixture

D1 = D + dt.timedelta(days=1)


def pdf_text(api, qs: str, as_: str = "supervisor") -> str:
    resp, data = get(api, f"/api/reports/shift.pdf{qs}", as_=as_)
    assert resp.status_code == 200, data[:300]
    assert resp.mimetype == "application/pdf" and data.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(data)
    text = "\n".join(page.get_textpage().get_text_range() for page in doc)
    return " ".join(text.split())


@pytest.fixture
def held(shop, api, db):  # noqa: F811
    """The bracket at A1 held DAMAGED at 12:00 on the 20th."""
    api.post(f"/api/items/{shop['b3']}/hold", {"reason": "DAMAGED"}, expected=200)
    LedgerEntry.update(received_at=at(12)).where(LedgerEntry.action == "hold").execute()
    return shop


def test_the_days_figures(held, api):
    text = pdf_text(api, "?day=2026-11-20")
    assert "Shift report Plant day: Nov 20, 2026 Stations: all" in text
    # WO-1: 2 planned on the 20th (4 over two days), 2 done that day, 4 ordered, 2 done
    assert "WO-1 BRACKET Bracket in progress 2 2 4 2 Total 2 2" in text
    assert "No scrap on this day." in text
    b3 = held["b3"]
    assert f"Holds raised on this day (1) Item Product Why Station When {b3} BRACKET " in text
    assert "DAMAGED · Damaged A1 2026-11-20 12:00" in text
    assert f"Holds still open (1) Item Product Why Station When {b3} BRACKET" in text
    assert "late WO-1 due 2026-11-21" in text  # the order is past due now
    assert "Flags raised on this day (0) None." in text
    assert "Downtime No machine was down on this day." in text

    text = pdf_text(api, "?day=2026-11-21")
    assert "WO-1 BRACKET Bracket in progress 2 0 4 2 Total 2 0" in text
    assert "Reason Events Quantity DAMAGED · Damaged 1 2 Total 1 2" in text
    assert "Holds raised on this day (0) None. Holds still open (1)" in text

    text = pdf_text(api, "?day=2026-11-22")
    assert "No order planned or completed on this day." in text


def test_stations(held, api):
    # WO-1 has no line: at A1 nothing was completed; at END its 2 were
    text = pdf_text(api, "?day=2026-11-20&stations=A1")
    assert "Stations: A1" in text and "No order planned or completed on this day." in text
    assert "Holds raised on this day (1)" in text and "Holds still open (1)" in text
    text = pdf_text(api, "?day=2026-11-20&stations=END,%20RECV")
    assert "Stations: END, RECV" in text
    assert "WO-1 BRACKET Bracket in progress 2 2 4 2" in text
    assert "Holds raised on this day (0)" in text and "Holds still open (0)" in text
    assert "Scrap by reason No scrap" in pdf_text(api, "?day=2026-11-21&stations=A1")
    assert "DAMAGED · Damaged 1 2" in pdf_text(api, "?day=2026-11-21&stations=LINE")
    # a page's form sends an empty field: the whole plant
    assert "Stations: all" in pdf_text(api, "?day=2026-11-20&stations=")


def test_in_bahasa_indonesia(held, api, db):
    User.update(language="id").where(User.username == "supervisor1").execute()
    text = pdf_text(api, "?day=2026-11-21")
    assert "Laporan shift Hari pabrik: 21 Nov 2026 Stasiun: semua" in text
    assert "Scrap per alasan" in text and "DAMAGED · Rusak 1 2" in text
    assert "Tanda yang muncul pada hari ini (0)" in text
    assert "Waktu henti Tidak ada mesin yang berhenti pada hari ini." in text
    assert "Shift report" not in text


@pytest.mark.parametrize(
    "qs, as_, status, error",
    [
        ("?day=2026-11-20", "operator", 403, "forbidden"),
        ("?stations=NOPE", "supervisor", 404, "not_found"),
        ("?stations=A1;DROP", "supervisor", 400, "bad_payload"),
        ("?day=20-11-2026", "supervisor", 400, "bad_payload"),
        ("?day=1999-12-31", "supervisor", 400, "bad_date"),
    ],
)
def test_refusals(plant, api, qs, as_, status, error):
    resp, data = get(api, f"/api/reports/shift.pdf{qs}", as_=as_)
    assert resp.status_code == status and resp.get_json()["error"] == error, data[:200]


def test_today_by_default(plant, api):
    assert "Shift report" in pdf_text(api, "", as_="admin")


def test_flags_raised_and_downtime_of_the_day(held, api, db):
    """The flags that rose on the day, each with when it rose and cleared (or that it still
    stands), from the event outbox; each machine's down stretches with their minutes
    inside the day, an open one counted until the report is printed."""
    from server.core import events, machines
    from server.models import Event, Machine, Station

    late = {"flag": "late", "subject": "order:WO-1", "order": "WO-1", "days": 1,
            "message": "1 day(s) past due"}  # fmt: skip
    short = {"flag": "reorder", "subject": "product:STEEL", "product": "STEEL",
             "message": "2 kg in stock, reorder at 10 kg"}  # fmt: skip
    with db.atomic():
        events.write([("flag.raised", "flag:late:order:WO-1", {"key": "k", **late})], at(13))
        events.write([("flag.cleared", "flag:late:order:WO-1", {"key": "k", **late})], at(15))
        events.write([("flag.raised", "flag:reorder:product:STEEL", short)], at(16))
        # the next day's rise is not the 20th's
        events.write([("flag.raised", "flag:late:order:WO-1", late)], at(8, day=D1))
        a1 = Station.get(Station.code == "A1")
        press = Machine.create(code="PRESS-1", name="Press", station=a1)
        machines.set_state(press, "down", "BREAKDOWN", now=at(9, 30), source="api")
        machines.set_state(press, "running", None, now=at(10, 15), source="api")
        # down at 23:00, up the next morning: 60 minutes on the 20th
        machines.set_state(press, "down", "NO_MATERIAL", now=at(23), source="api")
        machines.set_state(press, "running", None, now=at(7, day=D1), source="api")
    assert Event.select().where(Event.type == "flag.raised").count() == 3

    text = pdf_text(api, "?day=2026-11-20")
    assert (
        "Flags raised on this day (2) Flag On Detail Raised Cleared "
        "late WO-1 1 day(s) past due 2026-11-20 13:00 2026-11-20 15:00 "
        "reorder STEEL 2 kg in stock, reorder at 10 kg 2026-11-20 16:00 still standing"
    ) in text
    assert "Downtime Machine Station Why From To Minutes" in text
    assert "PRESS-1 A1 BREAKDOWN · Machine breakdown 2026-11-20 09:30 2026-11-20 10:15 45" in text
    assert (
        "PRESS-1 A1 NO_MATERIAL · Waiting for material 2026-11-20 23:00 2026-11-21 07:00 60" in text
    )
    assert "Total 105" in text
    # the stations asked for: A1's downtime, not another station's; product flags stay,
    # an order's flag where the order is listed
    assert "Total 105" in pdf_text(api, "?day=2026-11-20&stations=A1")
    # at RECV no order was listed: its late flag is not RECV's
    text = pdf_text(api, "?day=2026-11-20&stations=RECV")
    assert "Downtime No machine was down on this day." in text
    assert "Flags raised on this day (1)" in text and "reorder STEEL" in text
    # the 21st: its own rise, standing; the night's downtime from midnight
    text = pdf_text(api, "?day=2026-11-21")
    assert "Flags raised on this day (1)" in text and "2026-11-21 08:00 still standing" in text
    assert "2026-11-20 23:00 2026-11-21 07:00 420 Total 420" in text


# --- the report of one shift ---------------------------------------------------------------


@pytest.fixture
def shifts_of_day(held, api, db):
    """A plant-wide Early 06:00-14:00 with a break 10:00-10:30 and Late 14:00-22:00; the
    press at A1 down 09:30-10:15 (15 of its minutes in the break) and 15:00-15:20."""
    from server.core import machines
    from server.models import Machine, Station

    api.post(
        "/api/shifts",
        {"name": "Early", "start": "06:00", "end": "14:00", "breaks": ["10:00-10:30"]},
        expected=201,
    )
    api.post("/api/shifts", {"name": "Late", "start": "14:00", "end": "22:00"}, expected=201)
    with db.atomic():
        press = Machine.create(code="PRESS-1", name="Press", station=Station.get(code="A1"))
        machines.set_state(press, "down", "BREAKDOWN", now=at(9, 30), source="api")
        machines.set_state(press, "running", None, now=at(10, 15), source="api")
        machines.set_state(press, "down", "BREAKDOWN", now=at(15), source="api")
        machines.set_state(press, "running", None, now=at(15, 20), source="api")
    return held


def test_one_shift_of_the_day(shifts_of_day, api):
    """Early: its hours and break in the heading, the two brackets completed at 10:00 (in
    the break: a scan in a break still counts), the day's plan of 2 shared by planned
    minutes (Early 450 of 930: 0.97 → 1.0), the hold of 12:00, the press's downtime less
    the break's 15 minutes; Late: nothing done, its share of the plan, its own downtime."""
    text = pdf_text(api, "?day=2026-11-20&shift=Early")
    assert "Plant day: Nov 20, 2026 Shift: Early 06:00–14:00 (breaks 10:00-10:30)" in text
    assert "Order Product Status Planned (shift) Done (shift)" in text
    assert "WO-1 BRACKET Bracket in progress 1 2 4 2 Total 1 2" in text
    assert "Holds raised in this shift (1)" in text
    assert "PRESS-1 A1 BREAKDOWN · Machine breakdown 2026-11-20 09:30 2026-11-20 10:15 30" in text
    assert "Total 30" in text and "15:00" not in text.split("Downtime")[1]
    assert "on this day" not in text

    text = pdf_text(api, "?day=2026-11-20&shift=Late")
    assert "Shift: Late 14:00–22:00 Stations:" in text
    assert "WO-1 BRACKET Bracket in progress 1 0 4 2" in text
    assert "Holds raised in this shift (0) None." in text
    assert "2026-11-20 15:00 2026-11-20 15:20 20 Total 20" in text
    # the whole day is still the day's report
    text = pdf_text(api, "?day=2026-11-20&shift=")
    assert "Shift:" not in text and "Total 2 2" in text and "Total 65" in text


def test_a_shift_in_bahasa_indonesia(shifts_of_day, api, db):
    User.update(language="id").where(User.username == "supervisor1").execute()
    text = pdf_text(api, "?day=2026-11-20&shift=Late")
    assert "Shift: Late 14:00–22:00" in text
    assert "Rencana (shift) Selesai (shift)" in text
    assert "Penahanan dalam shift ini (0)" in text
    assert "in this shift" not in text


def test_a_sites_own_shift(shifts_of_day, api, db):
    """EAST's own Early (07:00-15:00) is the Early of its station A2; the plant-wide Early
    leaves A2 out. Several sites' own shifts of a name with no plant-wide one: name the
    site."""
    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    api.post("/api/locations", {"code": "A2-EAST", "kind": "line", "site": "EAST"}, expected=201)
    api.call("PATCH", "/api/stations/A2", {"location": "A2-EAST"}, expected=200)
    api.post(
        "/api/shifts",
        {"name": "Early", "start": "07:00", "end": "15:00", "site": "EAST"},
        expected=201,
    )
    text = pdf_text(api, "?day=2026-11-20&shift=Early&site=EAST")
    assert "Shift: Early 07:00–15:00, site EAST Stations: A2 " in text
    assert "Downtime No machine was down in this shift." in text  # the press is A1's
    text = pdf_text(api, "?day=2026-11-20&shift=Early")
    assert "Shift: Early 06:00–14:00 (breaks 10:00-10:30) Stations: A1," in text
    assert "A2" not in text.split("Stations:")[1].split("Printed")[0]
    # a site with no own Night: none plant-wide either
    resp, data = get(api, "/api/reports/shift.pdf?shift=Night&site=EAST")
    assert resp.status_code == 404 and resp.get_json()["error"] == "unknown_shift"
    api.post("/api/sites", {"code": "WEST", "name": "West hall"}, expected=201)
    for site, start in (("EAST", "22:00"), ("WEST", "21:00")):
        body = {"name": "Night", "start": start, "end": "06:00", "site": site}
        api.post("/api/shifts", body, expected=201)
    resp, data = get(api, "/api/reports/shift.pdf?shift=Night")
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_payload"
    assert "EAST, WEST" in resp.get_json()["message"]
    # WEST has no station: nothing to report
    resp, data = get(api, "/api/reports/shift.pdf?shift=Night&site=WEST")
    assert resp.status_code == 404 and resp.get_json()["error"] == "unknown_station"
    # a night shift crosses midnight: EAST's from 22:00 on the 20th
    assert "Shift: Night 22:00–06:00, site EAST" in pdf_text(
        api, "?day=2026-11-20&shift=Night&site=EAST"
    )


@pytest.mark.parametrize(
    "qs, status, error",
    [
        ("?shift=Nope", 404, "unknown_shift"),
        ("?site=NOPE", 404, "unknown_site"),
        ("?shift=Early&site=NOPE", 404, "unknown_site"),
        (f"?shift={'x' * 65}", 400, "bad_payload"),
    ],
)
def test_shift_refusals(shifts_of_day, api, qs, status, error):
    resp, data = get(api, f"/api/reports/shift.pdf{qs}")
    assert resp.status_code == status and resp.get_json()["error"] == error, data[:200]


def test_the_share_of_a_plant_wide_shift_at_a_site_counts_the_sites_own_shifts(plant, api, db):
    """Plant-wide Day and Night of 8 h; EAST has its own Night of 12 h. At EAST, Day's
    share is 8 of the 8 + 12 hours its stations work (0.4), not the plant's 8 of 16."""
    from server.core import locations, shiftreport

    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    for body in (
        {"name": "Day", "start": "06:00", "end": "14:00"},
        {"name": "Night", "start": "22:00", "end": "06:00"},
        {"name": "Night", "start": "18:00", "end": "06:00", "site": "EAST"},
    ):
        api.post("/api/shifts", body, expected=201)
    east = locations.known_site("EAST").id
    day = shiftreport.resolve_shift("Day", east)
    assert shiftreport.shift_share(day, east) == Decimal("0.4")
    assert shiftreport.shift_share(day) == Decimal("0.5")
    # a user limited to another site is not told of EAST's own shifts
    api.post("/api/sites", {"code": "WEST", "name": "West hall"}, expected=201)
    api.post("/api/shifts", {"name": "Late", "start": "14:00", "end": "22:00", "site": "EAST"},
             expected=201)  # fmt: skip
    assert shiftreport.resolve_shift("Late", None).site_id == east
    west = locations.known_site("WEST").id
    with pytest.raises(NotFound):
        shiftreport.resolve_shift("Late", None, {west})
