"""The shift report PDF (GET /api/reports/shift.pdf): it parses, and says the day's
figures — production by order planned vs done, scrap by reason, holds raised and open,
flags, downtime — in the reader's language."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from server.models import LedgerEntry, User
from tests.test_exports import at, get, shop  # noqa: F401 - the fixture


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
    assert "No downtime recorded: machine states are not tracked yet." in text

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
    assert "Tidak ada waktu henti tercatat" in text
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
