"""The scrap page's shift report form and export links: a supervisor signed in on the
pages downloads each file (the session is enough), in the page's period."""

from __future__ import annotations

import html
import re

import pypdfium2 as pdfium

from server.core import exports
from server.models import User
from tests.test_exports import shop  # noqa: F401 - the fixture


def test_scrap_page_links_download(shop, as_role, db):  # noqa: F811
    b = as_role("supervisor")
    page = b.get("/scrap?from=2026-11-21&to=2026-11-21").get_data(as_text=True)
    links = dict(
        (kind, html.unescape(href))
        for href, kind in re.findall(r'<a href="([^"]+)" data-export="([^"]+)"', page)
    )
    assert sorted(links) == sorted(
        f"{k}.{f}"
        for k in ("scrap", "ledger", "production", "items", "stock")
        for f in ("csv", "xlsx")
    )
    assert links["scrap.csv"] == "/api/exports/scrap.csv?from=2026-11-21&to=2026-11-21"
    for kind, href in links.items():
        resp = b.get(href)
        data = resp.get_data()
        resp.close()
        assert resp.status_code == 200, (kind, data[:200])
        assert resp.mimetype == exports.MEDIA[kind.rsplit(".", 1)[1]]
    resp = b.get(links["scrap.csv"])
    rows = resp.get_data(as_text=True).splitlines()
    resp.close()
    assert len(rows) == 2 and ",DAMAGED,Damaged,LINE," in rows[1]

    form = re.search(r'<form method="get" action="([^"]+)" target="_blank"', page)
    assert form and form.group(1) == "/api/reports/shift.pdf"
    assert 'name="day" value="2026-11-21"' in page
    resp = b.get(f"{form.group(1)}?day=2026-11-21&stations=")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = " ".join(pdfium.PdfDocument(resp.get_data())[0].get_textpage().get_text_range().split())
    assert "Shift report" in text and "DAMAGED · Damaged 1 2" in text


def test_in_bahasa(shop, as_role, db, web_users):  # noqa: F811
    User.update(language="id").where(User.username == web_users["supervisor"]).execute()
    b = as_role("supervisor")
    page = b.get("/scrap").get_data(as_text=True)
    assert "Laporan shift (PDF)" in page and "Laporan shift dan ekspor" in page
    resp = b.get("/api/reports/shift.pdf?day=2026-11-21")
    text = " ".join(pdfium.PdfDocument(resp.get_data())[0].get_textpage().get_text_range().split())
    assert "Laporan shift" in text and "Scrap per alasan" in text


def test_the_form_chooses_a_shift(shop, as_role, api, db):  # noqa: F811
    """With shifts defined, the form offers each name once (Early exists plant-wide and at
    a site) and the whole day; the chosen shift's report names it."""
    api.post("/api/shifts", {"name": "Early", "start": "06:00", "end": "14:00"}, expected=201)
    api.post("/api/shifts", {"name": "Late", "start": "14:00", "end": "22:00"}, expected=201)
    api.post("/api/sites", {"code": "EAST", "name": "East hall"}, expected=201)
    body = {"name": "Early", "start": "07:00", "end": "15:00", "site": "EAST"}
    api.post("/api/shifts", body, expected=201)
    b = as_role("supervisor")
    page = b.get("/scrap").get_data(as_text=True)
    select = re.search(r'<select name="shift">(.*?)</select>', page)
    assert select, page
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1)) == [
        "Whole day", "Early", "Late"
    ]  # fmt: skip
    sites = re.search(r'<select name="site">(.*?)</select>', page)
    assert sites and "EAST" in sites.group(1)
    resp = b.get("/api/reports/shift.pdf?day=2026-11-20&shift=Early&site=&stations=")
    assert resp.status_code == 200, resp.get_data()[:200]
    text = " ".join(pdfium.PdfDocument(resp.get_data())[0].get_textpage().get_text_range().split())
    assert "Shift: Early 06:00–14:00" in text and "WO-1 BRACKET Bracket" in text
