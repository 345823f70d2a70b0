"""The master production schedule: planning (edit, reschedule, close, filters), every flag
raised and cleared by the scans that should raise and clear it, the schedule view's
adherence against a hand-computed schedule, and people at stations."""

from __future__ import annotations

import datetime as dt

import pytest

from server.core.scans import ScanIn, apply_scan
from server.models import Station, utcnow
from tests.conftest import GTIN_BOLT, new_scan_id

TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def order(api, number, product, qty, start, due, *, release=True, station=None):
    body = {"number": number, "product": product, "qty": qty, "start": day(start), "due": day(due)}
    if station:
        body["station"] = station
    api.post("/api/orders", body, as_="supervisor", expected=201)
    if release:
        api.post(f"/api/orders/{number}/release", as_="supervisor", expected=200)


def patch(api, number, body, expected):
    return api.call("PATCH", f"/api/orders/{number}", body, as_="supervisor", expected=expected)


def flags_of(api, number) -> dict[str, dict]:
    shown = api.get(f"/api/orders/{number}", as_="operator", expected=200).get_json()
    return {f["flag"]: f for f in shown["flags"]}


def all_flags(api) -> list[dict]:
    return api.get("/api/flags", as_="operator", expected=200).get_json()["flags"]


def make_brackets(plant, n, *, at=None):
    """n brackets started at A1 and completed at END (BRACKET has no BOM and no routing)."""
    units = plant.items("BRACKET", count=n)
    for u in units:
        for scanner in ("sc-a1", "sc-end"):
            if at is None:
                plant.scan(scanner, u, expected=201)
            else:
                r = apply_scan(plant.db, ScanIn(new_scan_id(), scanner, u), now=at)
                assert r.accepted, r
    return units


# --- planning ------------------------------------------------------------------------------


def test_edit_and_reschedule(plant, api):
    order(api, "WO-1", "BRACKET", 5, 0, 4)
    out = patch(api, "WO-1", {"qty": 6, "due": day(6), "station": "A1"}, 200).get_json()
    assert (out["qty"], out["due"], out["station"]) == (6, day(6), "A1")
    assert len(out["changes"]) == 3
    out = patch(api, "WO-1", {"station": None, "note": "any line"}, 200).get_json()
    assert out["station"] is None
    assert [h["action"] for h in out["history"]] == ["plan", "release", "plan", "plan"]
    assert out["history"][-1]["note"] == "any line"
    body = patch(api, "WO-1", {"start": day(7)}, 400).get_json()  # after due
    assert body["error"] == "bad_payload"
    body = patch(api, "WO-1", {"qty": 0}, 400).get_json()
    assert body["error"] == "bad_payload"
    assert patch(api, "NOPE", {"qty": 1}, 404).get_json()["error"] == "not_found"
    patch(api, "WO-1", {"station": "NOWHERE"}, 404)
    patch(api, "WO-1", {"colour": "red"}, 400)
    api.call("PATCH", "/api/orders/WO-1", {"qty": 2}, as_="operator", expected=403)


def test_qty_not_below_completed_and_lowering_to_completed_is_done(plant, api):
    order(api, "WO-1", "BRACKET", 5, 0, 4)
    make_brackets(plant, 2)
    body = patch(api, "WO-1", {"qty": 1}, 400).get_json()
    assert body["error"] == "bad_quantity" and "2 completed" in body["message"]
    out = patch(api, "WO-1", {"qty": 2}, 200).get_json()
    assert out["status"] == "done" and out["changes"][-1] == "done"
    assert patch(api, "WO-1", {"qty": 3}, 409).get_json()["error"] == "bad_status"


@pytest.mark.parametrize(
    ("release", "units", "reason", "status", "closed_as"),
    [
        (False, 0, "customer cancelled", 200, "cancelled"),
        (True, 0, "customer cancelled", 200, "cancelled"),
        (True, 0, None, 400, None),
        (False, 0, "  ", 400, None),
        (True, 1, "line down, rest moved to WO-9", 200, "short_closed"),
        (True, 2, None, 200, "closed"),
    ],
)
def test_close(plant, api, release, units, reason, status, closed_as):
    order(api, "WO-1", "BRACKET", 2, 0, 4, release=release)
    if units:
        make_brackets(plant, units)
    resp = api.post("/api/orders/WO-1/close", {"reason": reason}, as_="supervisor")
    assert resp.status_code == status, resp.get_json()
    shown = api.get("/api/orders/WO-1", as_="operator", expected=200).get_json()
    if status == 200:
        assert resp.get_json()["closed_as"] == closed_as
        assert shown["status"] == "closed" and shown["flags"] == []
        assert shown["history"][-1]["action"] == "close"
        assert shown["history"][-1]["note"] == reason
        again = api.post("/api/orders/WO-1/close", {"reason": "x"}, as_="supervisor")
        assert again.status_code == 409
        assert patch(api, "WO-1", {"qty": 9}, 409).get_json()["error"] == "bad_status"
    else:
        assert resp.get_json()["error"] == "reason_required"
        assert shown["status"] != "closed"


def test_closed_order_takes_no_more_units(plant, api):
    order(api, "WO-1", "BRACKET", 2, 0, 4)
    (u,) = plant.items("BRACKET")
    plant.scan("sc-a1", u, expected=201)
    api.post("/api/orders/WO-1/close", {"reason": "stop"}, as_="supervisor", expected=200)
    assert plant.scan("sc-end", u, expected=422)["reason"] == "not_scheduled"


def test_lifecycle_through_scans(plant, api):
    order(api, "WO-1", "BRACKET", 2, 0, 4, release=False)
    status = lambda: api.get("/api/orders/WO-1", as_="operator").get_json()["status"]  # noqa: E731
    assert status() == "planned"
    api.post("/api/orders/WO-1/release", as_="supervisor", expected=200)
    assert status() == "released"
    (u1, u2) = plant.items("BRACKET", count=2)
    plant.scan("sc-a1", u1, expected=201)
    assert status() == "in_progress"
    plant.scan("sc-end", u1, expected=201)
    plant.scan("sc-a1", u2, expected=201)
    plant.scan("sc-end", u2, expected=201)
    assert status() == "done"
    api.post("/api/orders/WO-1/close", {}, as_="supervisor", expected=200)
    assert status() == "closed"


def test_list_filters(plant, api):
    order(api, "WO-1", "BRACKET", 1, 0, 2, release=False)
    order(api, "WO-2", "BRACKET", 1, 0, 5)
    order(api, "WO-3", "WIDGET", 1, 0, 8)
    api.post("/api/orders/WO-1/close", {"reason": "dup"}, as_="supervisor", expected=200)

    def numbers(qs):
        resp = api.get(f"/api/orders{qs}", as_="operator", expected=200)
        return [o["number"] for o in resp.get_json()["orders"]]

    assert numbers("") == ["WO-1", "WO-2", "WO-3"]
    assert numbers("?status=released") == ["WO-2", "WO-3"]
    assert numbers("?status=open") == ["WO-2", "WO-3"]
    assert numbers("?status=closed,planned") == ["WO-1"]
    assert numbers("?product=WIDGET") == ["WO-3"]
    assert numbers(f"?due_from={day(3)}") == ["WO-2", "WO-3"]
    assert numbers(f"?due_from={day(3)}&due_to={day(6)}") == ["WO-2"]
    for bad in ("?status=lost", "?due_from=soon", f"?due_from={day(5)}&due_to={day(1)}", "?x=1"):
        assert api.get(f"/api/orders{bad}", as_="operator", expected=400).get_json()["error"]


# --- flags, each raised and cleared by scans --------------------------------------------------


def test_late_raised_by_the_calendar_cleared_by_completing(plant, api):
    order(api, "WO-1", "BRACKET", 2, -5, -1)
    assert flags_of(api, "WO-1")["late"]["days"] == 1
    make_brackets(plant, 1)
    assert "late" in flags_of(api, "WO-1")  # still one to make
    make_brackets(plant, 1)
    assert flags_of(api, "WO-1") == {}
    assert not [f for f in all_flags(api) if f.get("order") == "WO-1"]


def test_behind_raised_and_cleared_by_complete_scans(plant, api):
    # 4 over 4 days starting yesterday: 2 expected by the end of today
    order(api, "WO-1", "BRACKET", 4, -1, 2)
    behind = flags_of(api, "WO-1")["behind"]
    assert (behind["expected"], behind["completed"]) == ("2", "0")
    make_brackets(plant, 1)
    assert flags_of(api, "WO-1")["behind"]["missing"] == "1"
    make_brackets(plant, 1)
    assert "behind" not in flags_of(api, "WO-1")
    # planned orders are not behind (not on the floor yet), only short or late
    order(api, "WO-2", "BRACKET", 4, -1, 2, release=False)
    assert flags_of(api, "WO-2") == {}


# (product, qty, start and due as days from today, completed, expected by today or None
#  when not behind); BRACKET is unit-tracked, BOLT lot-tracked
BEHIND_CASES = [
    ("BRACKET", 5, 0, 6, 0, None),  # day 1 of 7: 5/7 = 0.71 is no whole unit yet
    ("BRACKET", 5, -1, 5, 0, "1"),  # day 2: 10/7 = 1.43, one unit due
    ("BRACKET", 5, -1, 5, 1, None),
    ("BRACKET", 3, 0, 2, 0, "1"),  # 3/3 is exactly 1 on day 1, not 0.9999
    ("BRACKET", 1, 0, 1, 0, None),  # one unit over two days: due by the end of day 2
    ("BRACKET", 1, -1, 0, 0, "1"),
    ("BOLT", 5, 0, 6, 0, "0.7143"),  # a lot is made in any quantity: its share to 4 places
]


@pytest.mark.parametrize(("sku", "qty", "start", "due", "done", "expected"), BEHIND_CASES)
def test_behind_rounds_unit_products_down_to_whole_units(
    plant, api, sku, qty, start, due, done, expected
):
    order(api, "WO-1", sku, qty, start, due)
    if done:
        make_brackets(plant, done)
    behind = flags_of(api, "WO-1").get("behind")
    if expected is None:
        assert behind is None, behind
    else:
        assert (behind["expected"], behind["completed"]) == (expected, str(done)), behind


def test_short_raised_and_cleared_by_receive_issue_and_scrap(plant, api):
    plant.order("WO-1", "WIDGET", 2)  # needs STEEL 4, BOLT 8
    short = flags_of(api, "WO-1")["short"]
    assert {m["material"]: m["missing"] for m in short["materials"]} == {"STEEL": "4", "BOLT": "8"}
    assert "STEEL 4 kg" in short["message"]
    (steel,) = plant.items("STEEL", qty=3, lot="S-1")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-1\x1d378", expected=201)
    short = flags_of(api, "WO-1")["short"]
    assert [(m["material"], m["missing"], m["available"]) for m in short["materials"]] == [
        ("STEEL", "1", "3")
    ]
    plant.scan("sc-line", steel, qty=2, expected=201)  # issuing moves stock, need is the same
    assert flags_of(api, "WO-1")["short"]["materials"][0]["missing"] == "1"
    (more,) = plant.items("STEEL", qty=1, lot="S-2")
    plant.scan("sc-recv", more, expected=201)
    assert "short" not in flags_of(api, "WO-1")
    # scrapping stock raises it again
    for code in ("CMD-OP-B-SUPERVISOR", "CMD-ACT-SCRAP"):
        plant.scan("sc-recv", code, expected=201)
    plant.scan("sc-recv", more, note="rusty", expected=201)
    assert flags_of(api, "WO-1")["short"]["materials"][0]["missing"] == "1"


def test_short_shares_stock_earliest_due_first(plant, api):
    (steel,) = plant.items("STEEL", qty=10, lot="S-1")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-1\x1d3716", expected=201)
    order(api, "WO-LATER", "WIDGET", 2, 1, 9)  # starting tomorrow: not behind yet
    order(api, "WO-SOON", "WIDGET", 2, 1, 3, release=False)  # planned orders load stock too
    order(api, "WO-LAST", "WIDGET", 2, 1, 12)
    assert flags_of(api, "WO-SOON") == {}
    assert flags_of(api, "WO-LATER") == {}
    short = flags_of(api, "WO-LAST")["short"]["materials"]
    assert [
        (m["material"], m["needed"], m["available"], m["on_hand"], m["missing"]) for m in short
    ] == [
        ("STEEL", "4", "2", "10", "2"),
        ("BOLT", "8", "0", "16", "8"),
    ]


def test_reorder_raised_by_use_cleared_by_receive(plant, api):
    def reorder():
        return [f for f in all_flags(api) if f["flag"] == "reorder"]

    assert reorder()[0]["product"] == "GLOVES"  # nothing on hand, point 5
    (box,) = plant.items("GLOVES", qty=6, lot="G-1")
    plant.scan("sc-recv", box, expected=201)
    assert reorder() == []
    plant.scan("sc-stores", box, qty=2, expected=201)  # 4 left
    (flag,) = reorder()
    assert (flag["on_hand"], flag["reorder_point"]) == ("4", "5")
    (more,) = plant.items("GLOVES", qty=1, lot="G-2")
    plant.scan("sc-recv", more, expected=201)  # 5: not under the point
    assert reorder() == []


def test_held_stock_is_not_available_to_short_or_reorder(plant, api):
    (steel,) = plant.items("STEEL", qty=4, lot="S-1")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-1\x1d378", expected=201)
    plant.order("WO-1", "WIDGET", 2)  # needs STEEL 4, BOLT 8: covered
    assert "short" not in flags_of(api, "WO-1")
    (box,) = plant.items("GLOVES", qty=6, lot="G-1")
    plant.scan("sc-recv", box, expected=201)
    assert not [f for f in all_flags(api) if f["flag"] == "reorder"]
    for code in (steel, box):
        api.post(f"/api/items/{code}/hold", {"reason": "QC_CHECK"}, expected=200)
    short = flags_of(api, "WO-1")["short"]["materials"]
    assert [(m["material"], m["on_hand"], m["missing"]) for m in short] == [("STEEL", "0", "4")]
    (flag,) = [f for f in all_flags(api) if f["flag"] == "reorder"]
    assert (flag["product"], flag["on_hand"]) == ("GLOVES", "0")
    for code in (steel, box):
        api.post(f"/api/items/{code}/release", {"reason": "QC_OK"}, expected=200)
    assert "short" not in flags_of(api, "WO-1")
    assert not [f for f in all_flags(api) if f["flag"] == "reorder"]


def test_dwell_raised_by_time_cleared_by_a_move(plant, api, db):
    Station.update(dwell_limit_minutes=30).where(Station.code == "A1").execute()
    order(api, "WO-1", "BRACKET", 2, 0, 3)
    (old, fresh) = plant.items("BRACKET", count=2)
    r = apply_scan(db, ScanIn(new_scan_id(), "sc-a1", old), now=utcnow() - dt.timedelta(hours=2))
    assert r.accepted
    plant.scan("sc-a1", fresh, expected=201)
    body = api.get("/api/flags", as_="operator", expected=200).get_json()
    (dwell,) = [f for f in body["flags"] if f["flag"] == "dwell" and "order" not in f]
    assert (dwell["station"], dwell["count"], dwell["limit_minutes"]) == ("A1", 1, 30)
    assert dwell["items"][0]["code"] == old and dwell["items"][0]["minutes"] >= 119
    assert body["counts"]["dwell"] == 1
    assert flags_of(api, "WO-1")["dwell"]["count"] == 1
    plant.scan("sc-a2", old, expected=201)  # moved on: A2 has no limit
    assert not [f for f in all_flags(api) if f["flag"] == "dwell"]
    assert "dwell" not in flags_of(api, "WO-1")


def test_flags_list_names_what_each_is_on(plant, api):
    order(api, "WO-1", "WIDGET", 2, -5, -1)
    body = api.get("/api/flags", as_="operator", expected=200).get_json()
    kinds = {(f["flag"], f.get("order") or f.get("product")) for f in body["flags"]}
    assert {("late", "WO-1"), ("behind", "WO-1"), ("short", "WO-1"), ("reorder", "GLOVES")} <= kinds
    assert body["counts"] == {
        "late": 1,
        "behind": 1,
        "short": 1,
        "reorder": 1,
        "dwell": 0,
        "near_expiry": 0,
    }
    assert all(isinstance(f["message"], str) and f["message"] for f in body["flags"])


# --- the schedule view: adherence, hand-computed -------------------------------------------------


@pytest.fixture
def two_products(plant, api):
    api.post(
        "/api/products", {"sku": "GADGET", "name": "Gadget", "kind": "component"}, expected=201
    )
    return plant


def _complete_on(plant, sku, when: dt.datetime, n: int):
    for u in plant.items(sku, count=n):
        for scanner in ("sc-a1", "sc-end"):
            r = apply_scan(plant.db, ScanIn(new_scan_id(), scanner, u), now=when)
            assert r.accepted, r


def _setup_history(plant, api, d0: dt.date):
    def make(number, sku, qty, start, due):
        body = {
            "number": number,
            "product": sku,
            "qty": qty,
            "start": (d0 + dt.timedelta(days=start)).isoformat(),
            "due": (d0 + dt.timedelta(days=due)).isoformat(),
        }
        api.post("/api/orders", body, as_="supervisor", expected=201)
        api.post(f"/api/orders/{number}/release", as_="supervisor", expected=200)

    make("WO-B", "BRACKET", 4, 0, 1)  # planned 2, 2
    make("WO-G", "GADGET", 3, 0, 2)  # planned 1, 1, 1
    at = lambda k: dt.datetime.combine(d0 + dt.timedelta(days=k), dt.time(10))  # noqa: E731
    _complete_on(plant, "BRACKET", at(0), 1)
    _complete_on(plant, "BRACKET", at(1), 3)
    _complete_on(plant, "GADGET", at(1), 2)
    _complete_on(plant, "GADGET", at(2), 1)


def test_adherence_by_day(two_products, api):
    d0 = TODAY - dt.timedelta(days=20)
    _setup_history(two_products, api, d0)
    d = lambda k: (d0 + dt.timedelta(days=k)).isoformat()  # noqa: E731
    view = api.get(f"/api/schedule?from={d(0)}&to={d(2)}&bucket=day", as_="operator").get_json()
    cells = {
        r["product"]: [(c["planned"], c["completed"]) for c in r["cells"]] for r in view["rows"]
    }
    assert cells == {"BRACKET": [(2, 1), (2, 3), (0, 0)], "GADGET": [(1, 0), (1, 2), (1, 1)]}
    assert view["buckets"] == [d(0), d(1), d(2)]
    assert view["totals"] == [
        {"bucket": d(0), "planned": 3, "completed": 1},
        {"bucket": d(1), "planned": 3, "completed": 5},
        {"bucket": d(2), "planned": 1, "completed": 1},
    ]
    # min(planned, completed) per cell: BRACKET 1+2+0, GADGET 0+1+1 = 5 of 7 planned
    assert view["adherence"] == round(5 / 7 * 100, 1) == 71.4
    assert view["attainment"] == 100.0  # 7 made of 7 planned, but not when planned
    assert view["flagged_orders"] == []  # both done


def test_adherence_by_week_nets_early_and_late(two_products, api):
    monday = TODAY - dt.timedelta(days=TODAY.weekday() + 14)
    _setup_history(two_products, api, monday)
    to = (monday + dt.timedelta(days=6)).isoformat()
    view = api.get(
        f"/api/schedule?from={monday.isoformat()}&to={to}&bucket=week", as_="operator"
    ).get_json()
    assert view["buckets"] == [monday.isoformat()]
    assert [(r["product"], r["planned"], r["completed"]) for r in view["rows"]] == [
        ("BRACKET", 4, 4),
        ("GADGET", 3, 3),
    ]
    assert view["adherence"] == 100.0


def test_schedule_counts_only_days_up_to_today_and_lists_flagged_orders(plant, api):
    order(api, "WO-1", "BRACKET", 10, -1, 3)  # 2 a day, 4 planned through today
    make_brackets(plant, 3)
    view = api.get(f"/api/schedule?from={day(-1)}&to={day(3)}", as_="operator").get_json()
    (row,) = view["rows"]
    assert row["planned"] == 10 and row["completed"] == 3
    assert (view["planned_to_date"], view["completed_to_date"]) == (4, 3)
    # yesterday: 2 planned, 0 made; today 2 planned, 3 made -> min 0 + 2 of 4
    assert view["adherence"] == 50.0
    (flagged,) = view["flagged_orders"]
    assert flagged["number"] == "WO-1" and {f["flag"] for f in flagged["flags"]} == {"behind"}


@pytest.mark.parametrize(
    "qs",
    [
        "?bucket=month",
        "?from=2026-02-30",
        "?from=2026-03-10&to=2026-03-01",
        "?from=2020-01-01&to=2026-01-01",
        "?when=now",
    ],
)
def test_schedule_bad_query(plant, api, qs):
    assert api.get(f"/api/schedule{qs}", as_="operator", expected=400).get_json()["error"]


def test_schedule_default_window_is_this_week(plant, api):
    view = api.get("/api/schedule", as_="operator", expected=200).get_json()
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    assert (view["from"], len(view["buckets"])) == (monday.isoformat(), 7)
    assert view["adherence"] is None  # nothing planned


# --- people at stations -----------------------------------------------------------------------


def test_people_signed_in_and_scans_today(plant, api):
    plant.scan("sc-recv", "CMD-OP-B-SUPERVISOR", expected=201)
    plant.scan("sc-line", "CMD-OP-B-OPERATOR", expected=201)
    for steel in plant.items("STEEL", count=2, qty=1):
        plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", "garbage", expected=422)
    body = api.get("/api/people", as_="supervisor", expected=200).get_json()
    where = {(p["operator"], p["station"]) for p in body["signed_in"]}
    assert where == {("supervisor1", "RECV"), ("operator1", "LINE")}
    today = {p["operator"]: p for p in body["today"]}
    assert (today["supervisor1"]["scans"], today["supervisor1"]["accepted"]) == (3, 2)
    assert today["supervisor1"]["rejected"] == 1
    assert "operator1" not in today  # signed in, no item scans yet
    plant.scan("sc-line", "CMD-OP-B-OPERATOR", expected=201)  # the same badge signs out
    body = api.get("/api/people", as_="supervisor", expected=200).get_json()
    assert [p["operator"] for p in body["signed_in"]] == ["supervisor1"]
    api.get("/api/people", as_="operator", expected=403)
