"""Absurd dates: an order from year 1 to 9999 once made every GET /api/schedule take 12 s.

Orders are planned inside a window of dates (planning.EARLIEST..LATEST) and span at most
planning.MAX_SPAN_DAYS, on create, edit and CSV import alike (`bad_date`); the schedule
view refuses dates outside the window, and its cost follows the days it shows, not the
span of the orders it shows (an order saved before the window existed stays cheap).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from server.core import planning
from server.core.adherence import daily_plan
from server.models import Product, ProductionOrder, utcnow

TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def new_order(api, start: str, due: str, expected: int, number: str = "WO-D"):
    body = {"number": number, "product": "WIDGET", "qty": 5, "start": start, "due": due}
    return api.post("/api/orders", body, as_="supervisor", expected=expected).get_json()


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("0001-01-01", "9999-12-31"),
        ("1999-12-31", "2000-01-05"),
        ("2099-12-30", "2100-01-01"),
        ("2026-01-01", "2027-06-01"),  # longer than a year
    ],
)
def test_absurd_order_dates_are_refused(plant, api, start, due):
    body = new_order(api, start, due, 400)
    assert body["error"] == "bad_date", body
    assert ProductionOrder.select().count() == 0


def test_window_edges_are_accepted(plant, api):
    new_order(api, "2000-01-01", "2000-12-31", 201, "WO-LO")  # 366 days, a leap year
    new_order(api, "2099-12-31", "2099-12-31", 201, "WO-HI")


def test_edit_to_an_absurd_date_is_refused(plant, api):
    plant.order("WO-E", "WIDGET", 5)
    for body in ({"due": "9999-12-31"}, {"start": "0001-01-01"}, {"due": day(400)}):
        resp = api.call("PATCH", "/api/orders/WO-E", body, as_="supervisor", expected=400)
        assert resp.get_json()["error"] == "bad_date"
    shown = api.get("/api/orders/WO-E", as_="operator", expected=200).get_json()
    assert shown["due"] == day(5)


def test_import_reports_absurd_dates_by_line(plant, api):
    text = (
        "number,product,qty,start,due\n"
        f"WO-OK,WIDGET,5,{day(0)},{day(3)}\n"
        "WO-Y1,WIDGET,5,0001-01-01,9999-12-31\n"
    )
    resp = api.call(
        "POST",
        "/api/import/orders",
        None,
        as_="supervisor",
        expected=400,
        data=text.encode(),
        content_type="text/csv",
    ).get_json()
    assert resp["error"] == "bad_csv"
    assert [d["line"] for d in resp["details"]] == [3]
    assert "0001-01-01" in resp["details"][0]["error"]
    assert ProductionOrder.select().count() == 0


@pytest.mark.parametrize(
    "qs",
    ["?from=9999-12-31", "?from=0001-01-01&to=0001-01-07", "?to=9999-12-31", "?from=1999-12-31"],
)
def test_schedule_refuses_dates_outside_the_window(plant, api, qs):
    # ?from=9999-12-31 once overflowed computing the default end: a 500
    body = api.get(f"/api/schedule{qs}", as_="operator", expected=400).get_json()
    assert body["error"] == "bad_date", body


def test_schedule_cost_follows_the_window_not_the_order_span(plant, api, db):
    # a row written before the window existed (or by hand): it must not cost its span
    widget = Product.get(Product.sku == "WIDGET")
    ProductionOrder.create(
        number="WO-LEGACY",
        product=widget,
        qty=Decimal(3652059),
        start=dt.date(1, 1, 1),
        due=dt.date(9999, 12, 31),
        status="released",
    )
    t0 = time.perf_counter()
    view = api.get("/api/schedule", as_="operator", expected=200).get_json()
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"GET /api/schedule took {elapsed:.1f} s"
    (row,) = view["rows"]
    # 3,652,059 days from 0001-01-01 to 9999-12-31: one unit a day
    assert all(c["planned"] == 1 for c in row["cells"]), row["cells"]


def test_daily_plan_of_a_window_equals_the_slice_of_the_whole_plan():
    start, due = dt.date(2026, 1, 1), dt.date(2026, 1, 31)
    whole = daily_plan(Decimal(10), start, due)
    lo, hi = dt.date(2026, 1, 10), dt.date(2026, 1, 20)
    assert daily_plan(Decimal(10), start, due, lo, hi) == {
        d: q for d, q in whole.items() if lo <= d <= hi
    }
    assert sum(whole.values()) == 10
    assert daily_plan(Decimal(10), start, due, dt.date(2027, 1, 1), dt.date(2027, 2, 1)) == {}


def test_window_constants_are_what_the_docs_say():
    assert (planning.EARLIEST, planning.LATEST, planning.MAX_SPAN_DAYS) == (
        dt.date(2000, 1, 1),
        dt.date(2099, 12, 31),
        366,
    )
