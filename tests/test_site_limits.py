"""A user limited to sites (issue 16, server/core/siteaccess.py) sees and acts on the
things of those sites only: items, counts, shipments, printers and print jobs, machines,
people, exports, scans through a scanner, print sheets, OEE, labour, shifts, the recall
hold, and the pages of the floor. Every route a
limited supervisor or clerk may call is in one of the tables below; each read is checked
against the whole plant's answer to an admin (so it cannot pass by showing nothing), each
refused action against the same action on the user's own site's thing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from server.core import siteaccess
from server.models import Scanner, User
from tests.ingest.test_site_bridge import SCANNER, SITE
from tests.test_site_access import _stock_plant

PRINTER = {"kind": "zpl-tcp", "address": "127.0.0.1:9"}


@pytest.fixture
def two_sites(plant, api, users):
    """MAIN and SURABAYA, each with received items (the second of each scrapped), a count,
    a shipment, a printer with a print job, a machine, an operator signed in, a shift of
    its own, an order on one of its lines and a lot of gloves near expiry; the supervisor
    and the clerk limited to SURABAYA."""
    main, sby = _stock_plant(plant, api, sby_count=2)
    for scanner, code in (("sc-recv", main[1]), (SCANNER, sby[1])):
        plant.scan(scanner, "CMD-ACT-SCRAP", expected=201)
        plant.scan(scanner, code, as_="supervisor", reason="DAMAGED", expected=201)
        plant.scan(scanner, "CMD-DONE", expected=201)
    soon = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    api.call("PATCH", "/api/products/GLOVES", {"near_expiry_days": 30}, expected=200)
    gloves = {}
    for scanner, lot in (("sc-recv", "G-MAIN"), (SCANNER, "G-SBY")):
        (gloves[lot],) = plant.items("GLOVES", qty=4, lot=lot, expiry=soon)
        plant.scan(scanner, gloves[lot], expected=201)
    api.post("/api/shifts", {"name": "Day", "start": "00:00", "end": "23:45"}, expected=201)
    for site in ("MAIN", SITE):
        body = {"name": "Late", "start": "14:00", "end": "22:00", "site": site}
        api.post("/api/shifts", body, expected=201)
    plant.order("WO-MAIN", "WIDGET", 5, station="A1")
    plant.order("WO-SBY", "WIDGET", 5, station="SBY-RECV")
    plant.scan("sc-recv", "NOT-A-LABEL", expected=422)  # a rejected scan at each site
    plant.scan(SCANNER, "NOT-A-LABEL", expected=422)
    plant.scan("sc-recv", "CMD-OP-B-CLERK", expected=201)  # people at each site
    plant.scan(SCANNER, "CMD-OP-B-OPERATOR", expected=201)

    counts = {
        site: api.post("/api/counts", {"locations": [loc]}, expected=201).get_json()["id"]
        for site, loc in (("MAIN", "RECV"), (SITE, "SBY-DOCK"))
    }
    for ref, site in (("DO-MAIN", "MAIN"), ("DO-SBY", SITE)):
        api.post("/api/shipments", {"ref": ref, "customer": "PT A", "site": site}, expected=201)
    jobs = {}
    for name, site in (("p-main", "MAIN"), ("p-sby", SITE)):
        api.post("/api/printers", {"name": name, "site": site, **PRINTER}, expected=201)
        jobs[site] = api.post(f"/api/printers/{name}/test", expected=202).get_json()["id"]
    for code, station in (("M-MAIN", "A2"), ("M-SBY", "SBY-RECV")):
        api.post("/api/machines", {"code": code, "name": code, "station": station}, expected=201)

    for role in ("supervisor", "clerk"):
        assert siteaccess.set_sites(users[role][0], [SITE]) is not None
    return {"main": main, "sby": sby, "counts": counts, "jobs": jobs, "gloves": gloves}


def _ledger_stations(resp) -> set[str]:
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    col = rows[0].index("station")
    return {r[col] for r in rows[1:]}


#: reads: path (with {main}/{sby} for item codes), role, what of the answer to compare,
#: the limited user's value, the admin's value
READS = [
    (
        "/api/counts",
        "supervisor",
        lambda r: {tuple(c["locations"]) for c in r.get_json()["counts"]},
        {("SBY-DOCK",)},
        {("SBY-DOCK",), ("RECV",)},
    ),
    (
        "/api/shipments",
        "clerk",
        lambda r: {s["ref"] for s in r.get_json()["shipments"]},
        {"DO-SBY"},
        {"DO-SBY", "DO-MAIN"},
    ),
    (
        "/api/print-jobs",
        "clerk",
        lambda r: {j["printer"] for j in r.get_json()["jobs"]},
        {"p-sby"},
        {"p-sby", "p-main"},
    ),
    (
        "/api/machines",
        "clerk",
        lambda r: {m["code"] for m in r.get_json()["machines"]},
        {"M-SBY"},
        {"M-SBY", "M-MAIN"},
    ),
    (
        "/api/people",
        "supervisor",
        lambda r: {p["station"] for p in r.get_json()["signed_in"]},
        {"SBY-RECV"},
        {"SBY-RECV", "RECV"},
    ),
    (
        "/api/exports/ledger.csv",
        "supervisor",
        _ledger_stations,
        {"SBY-RECV"},
        {"SBY-RECV", "RECV"},
    ),
    (
        "/api/exports/stock.csv",
        "supervisor",
        _ledger_stations,
        {"SBY-RECV"},
        {"SBY-RECV", "RECV"},
    ),
    (
        "/api/stations",
        "clerk",
        lambda r: {s["code"] for s in r.get_json()["stations"]},
        {"SBY-RECV"},
        {"SBY-RECV", "RECV", "A2"},
    ),
    (
        "/api/scanners",
        "supervisor",
        lambda r: {s["id"] for s in r.get_json()["scanners"]},
        {SCANNER},
        {SCANNER, "sc-recv"},
    ),
    (
        "/api/exports/scrap.csv",  # the scrap Pareto's rows (the page's is in tests/web)
        "supervisor",
        _ledger_stations,
        {"SBY-RECV"},
        {"SBY-RECV", "RECV"},
    ),
    (
        "/api/oee?shift=Day",
        "supervisor",
        lambda r: {s["station"] for s in r.get_json()["stations"]},
        {"SBY-RECV"},
        {"SBY-RECV", "RECV", "A2"},
    ),
    (
        "/api/labour",
        "supervisor",
        lambda r: {i["station"] for o in r.get_json()["operators"] for i in o["intervals"]},
        {"SBY-RECV"},
        {"SBY-RECV", "RECV"},
    ),
    (
        "/api/shifts",
        "clerk",
        lambda r: {(s["name"], s["site"]) for s in r.get_json()["shifts"]},
        {("Day", None), ("Late", SITE)},
        {("Day", None), ("Late", SITE), ("Late", "MAIN")},
    ),
    ("/api/items/{sby}", "clerk", lambda r: r.get_json()["station"], "SBY-RECV", "SBY-RECV"),
    ("/api/items/{sby}/trace", "clerk", lambda r: r.status_code, 200, 200),
    (f"/api/exports/items.csv?site={SITE}", "supervisor", _ledger_stations, {"SBY-RECV"}, None),
]

#: refused: method, path, body, role, status, reason code (the other site's thing)
REFUSED = [
    ("GET", "/api/items/{main}", None, "clerk", 404, "unknown_item"),
    ("GET", "/api/items/{main}/trace", None, "clerk", 404, "unknown_item"),
    ("POST", "/api/items/{main}/hold", {"reason": "QC_CHECK"}, "supervisor", 404, "unknown_item"),
    ("POST", "/api/items/{main}/release", {"reason": "QC_OK"}, "supervisor", 404, "unknown_item"),
    ("GET", "/api/counts/{count_main}", None, "supervisor", 404, "unknown_count"),
    ("POST", "/api/counts/{count_main}/close", None, "supervisor", 404, "unknown_count"),
    ("POST", "/api/counts/{count_main}/approve", {}, "supervisor", 404, "unknown_count"),
    ("POST", "/api/counts", {"locations": ["RECV"]}, "supervisor", 404, "unknown_location"),
    ("GET", "/api/shipments/DO-MAIN", None, "clerk", 404, "unknown_shipment"),
    (
        "POST",
        "/api/shipments",
        {"ref": "DO-X", "customer": "PT B", "site": "MAIN"},
        "clerk",
        404,
        "unknown_site",
    ),
    ("POST", "/api/printers/p-main/test", None, "clerk", 404, "unknown_printer"),
    ("POST", "/api/print-jobs/{job_main}/retry", None, "clerk", 404, "unknown_print_job"),
    ("POST", "/api/print-jobs/{job_main}/cancel", None, "clerk", 404, "unknown_print_job"),
    ("POST", "/api/machines/M-MAIN/state", {"state": "idle"}, "supervisor", 404, "unknown_machine"),
    ("GET", "/api/machines/M-MAIN/downtime", None, "supervisor", 404, "unknown_machine"),
    ("GET", "/api/exports/ledger.csv?site=MAIN", None, "supervisor", 404, "unknown_site"),
    ("GET", "/api/stock?site=MAIN", None, "supervisor", 404, "unknown_site"),
    ("GET", "/api/reports/shift.pdf?stations=RECV", None, "supervisor", 404, "unknown_station"),
    ("GET", "/api/locations/RECV", None, "clerk", 404, "unknown_location"),
    ("GET", "/api/labels/{main}.svg", None, "clerk", 404, "unknown_item"),
    ("POST", "/api/labels", {"items": ["{main}"]}, "clerk", 404, "unknown_item"),
    ("POST", "/api/print-sheets", {"codes": ["{main}"]}, "clerk", 404, "unknown_item"),
    ("POST", "/api/print-sheets", {"codes": ["{sby}", "{main}"]}, "clerk", 404, "unknown_item"),
    ("GET", "/api/oee?shift=Day&station=RECV", None, "supervisor", 404, "unknown_station"),
    ("GET", "/api/oee?shift=Day&site=MAIN", None, "supervisor", 404, "unknown_site"),
    ("GET", "/api/labour?site=MAIN", None, "supervisor", 404, "unknown_site"),
    (
        "POST",
        "/api/scans",
        {"scan_id": "lim-1", "scanner_id": "sc-recv", "code": "{main}"},
        "supervisor",
        403,
        "other_site",
    ),
    (  # the user's own site's scanner, the body's station (applied instead) another site's
        "POST",
        "/api/scans",
        {"scan_id": "lim-3", "scanner_id": SCANNER, "code": "{main}", "station": "RECV"},
        "supervisor",
        403,
        "other_site",
    ),
    (  # a scanner at no station (of no site), the body's station another site's
        "POST",
        "/api/scans",
        {"scan_id": "lim-4", "scanner_id": "sc-none", "code": "{main}", "station": "RECV"},
        "supervisor",
        403,
        "other_site",
    ),
]

#: the same actions on the user's own site's things go through
ALLOWED = [
    ("POST", "/api/items/{sby}/hold", {"reason": "QC_CHECK"}, "supervisor", 200),
    ("POST", "/api/items/{sby}/release", {"reason": "QC_OK"}, "supervisor", 200),
    ("GET", "/api/counts/{count_sby}", None, "supervisor", 200),
    ("POST", "/api/counts/{count_sby}/close", None, "supervisor", 200),
    ("POST", "/api/counts/{count_sby}/approve", {}, "supervisor", 200),
    ("POST", "/api/counts", {"locations": ["SBY-DOCK"]}, "supervisor", 201),
    ("GET", "/api/shipments/DO-SBY", None, "clerk", 200),
    ("POST", "/api/printers/p-sby/test", None, "clerk", 202),
    ("POST", "/api/print-jobs/{job_sby}/retry", None, "clerk", 200),
    ("POST", "/api/print-jobs/{job_sby}/cancel", None, "clerk", 200),
    ("POST", "/api/machines/M-SBY/state", {"state": "idle"}, "supervisor", 200),
    ("GET", "/api/machines/M-SBY/downtime", None, "supervisor", 200),
    ("GET", f"/api/exports/ledger.csv?site={SITE}", None, "supervisor", 200),
    ("GET", "/api/reports/shift.pdf?stations=SBY-RECV", None, "supervisor", 200),
    ("GET", "/api/reports/shift.pdf", None, "supervisor", 200),
    ("GET", "/api/labels/{sby}.svg", None, "clerk", 200),
    ("POST", "/api/labels", {"items": ["{sby}"]}, "clerk", 200),
    ("POST", "/api/print-sheets", {"codes": ["{sby}"]}, "clerk", 202),
    ("GET", "/api/oee?shift=Day&station=SBY-RECV", None, "supervisor", 200),
    ("GET", f"/api/oee?shift=Day&site={SITE}", None, "supervisor", 200),
    ("GET", f"/api/labour?site={SITE}", None, "supervisor", 200),
    ("GET", "/api/labour?shift=Late", None, "supervisor", 200),
]


def _call(api, method, path, body=None, role="admin"):
    """The answer as it is (a CSV export is no JSON, which `api.call` insists on)."""
    headers = {"Authorization": f"Bearer {api.tokens[role]}"}
    return api.client.open(path, method=method, json=body, headers=headers)


def _fill(text, ctx):
    if isinstance(text, dict):
        return {k: _fill(v, ctx) for k, v in text.items()}
    if isinstance(text, list):
        return [_fill(v, ctx) for v in text]
    if not isinstance(text, str):
        return text
    return text.format(
        main=ctx["main"][0],
        sby=ctx["sby"][0],
        count_main=ctx["counts"]["MAIN"],
        count_sby=ctx["counts"][SITE],
        job_main=ctx["jobs"]["MAIN"],
        job_sby=ctx["jobs"][SITE],
    )


def test_a_limited_user_reads_only_its_sites_things(two_sites, api):
    for path, role, what, mine, whole in READS:
        path = _fill(path, two_sites)
        resp = _call(api, "GET", path, role=role)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:300])
        got = what(resp)
        assert got == mine, (path, role, got)
        if whole is not None:
            everything = what(_call(api, "GET", path))
            if isinstance(whole, set):  # the other site's too (and rows of no site)
                assert whole <= everything, (path, everything)
            else:
                assert everything == whole, (path, everything)


def test_a_limited_user_is_refused_another_sites_things_as_unknown(two_sites, api, users):
    Scanner.create(id="sc-none", station=None)  # at no station (the API asks for one)
    for method, path, body, role, status, code in REFUSED:
        path, body = _fill(path, two_sites), _fill(body, two_sites)
        resp = api.call(method, path, body, as_=role, expected=status)
        assert resp.get_json()["error"] == code, (method, path, resp.get_json())
    # nothing of the refused actions happened
    item = api.get(f"/api/items/{two_sites['main'][0]}", expected=200).get_json()
    assert item["status"] == "ok"
    assert not [h for h in item["history"] if h["action"] in ("hold", "release")]
    assert not [h for h in item["history"] if h["action"] in ("print", "reprint")]
    refused_scans = ("lim-1", "lim-3", "lim-4")
    assert not [h for h in item["history"] if h["scan_id"] in refused_scans]
    main_count = api.get(f"/api/counts/{two_sites['counts']['MAIN']}").get_json()
    assert main_count["status"] == "open"
    assert {s["ref"] for s in api.get("/api/shipments").get_json()["shipments"]} == {
        "DO-MAIN",
        "DO-SBY",
    }
    machines = {m["code"]: m for m in api.get("/api/machines").get_json()["machines"]}
    assert machines["M-MAIN"]["state"] == "running"
    # the admin may do each of them (a limit stored on an admin is ignored)
    admin = users["admin"][0]
    siteaccess.set_sites(admin, [SITE])
    assert User.get_by_id(admin.id).site_ids is not None
    for method, path, body, _role, _status, _code in REFUSED:
        path, body = _fill(path, two_sites), _fill(body, two_sites)
        if method == "POST" and "/scans" in path:
            body = {**body, "scan_id": "admin-" + body["scan_id"]}
        resp = _call(api, method, path, body)
        assert resp.status_code < 300 or resp.get_json().get("error") not in (
            "unknown_item",
            "unknown_count",
            "unknown_location",
            "unknown_shipment",
            "unknown_site",
            "unknown_printer",
            "unknown_print_job",
            "unknown_machine",
            "unknown_station",
            "other_site",
        ), (method, path, resp.get_json())


def test_a_limited_user_acts_on_its_own_sites_things(two_sites, api):
    for method, path, body, role, status in ALLOWED:
        path, body = _fill(path, two_sites), _fill(body, two_sites)
        resp = _call(api, method, path, body, role)
        assert resp.status_code == status, (method, path, resp.get_data(as_text=True)[:300])
    # a scan through the user's own site's scanner is applied (accepted or not: not 403)
    body = {"scan_id": "lim-2", "scanner_id": SCANNER, "code": two_sites["sby"][1]}
    assert api.post("/api/scans", body, as_="supervisor").status_code in (201, 422)
    body = {**body, "scan_id": "lim-5", "station": "SBY-RECV"}  # naming its own station
    assert api.post("/api/scans", body, as_="supervisor").status_code in (201, 422)
    # a shipment with no site is made at the user's site, not the default one
    made = api.post("/api/shipments", {"ref": "DO-Y", "customer": "PT C"}, as_="clerk")
    assert made.status_code == 201 and made.get_json()["site"] == SITE


def test_a_print_sheet_by_product_or_lot_takes_the_users_items_only(two_sites, api):
    """Items chosen by product, order or lot are the limited user's only (a code of another
    site's item is refused, in REFUSED); none left is "no items chosen"."""
    for body, mine, whole in [
        ({"product": "GLOVES"}, 1, 2),
        ({"lot": "G-SBY"}, 1, 1),
    ]:
        got = api.post("/api/print-sheets", body, as_="clerk", expected=202).get_json()
        assert got["total"] == mine, (body, got)
        got = api.post("/api/print-sheets", body, as_="admin", expected=202).get_json()
        assert got["total"] == whole, (body, got)
    resp = api.post("/api/print-sheets", {"lot": "G-MAIN"}, as_="clerk", expected=400)
    assert resp.get_json()["error"] == "bad_payload"
    gloves = two_sites["gloves"]["G-MAIN"]
    item = api.get(f"/api/items/{gloves}").get_json()
    assert [h["action"] for h in item["history"] if h["action"] in ("print", "reprint")] == [
        "print"  # the admin's sheet only
    ], item["history"]


def test_a_limited_supervisors_recall_hold_holds_its_sites_items_only(two_sites, plant, api):
    """One lot received at both sites: the limited supervisor's recall hold holds the
    Surabaya item and lists the Main one (left for Main's supervisor or an admin); the
    recall report still lists every item of the lot, wherever it lies."""
    (at_main,) = plant.items("STEEL", qty=3, lot="L-R")
    (at_sby,) = plant.items("STEEL", qty=3, lot="L-R")
    plant.scan("sc-recv", at_main, expected=201)
    plant.scan(SCANNER, at_sby, expected=201)

    report = api.get("/api/recall?product=STEEL&lot=L-R", as_="supervisor").get_json()
    assert {i["code"] for i in report["lot_items"]} == {at_main, at_sby}

    body = {"product": "STEEL", "lot": "L-R", "reason": "QC_CHECK"}
    out = api.post("/api/recall/hold", body, as_="supervisor", expected=200).get_json()
    assert (out["held"], out["held_codes"]) == (1, [at_sby]), out
    assert (out["other_sites"], out["other_site_codes"]) == (1, [at_main]), out
    assert api.get(f"/api/items/{at_sby}").get_json()["status"] == "held"
    assert api.get(f"/api/items/{at_main}").get_json()["status"] == "ok"

    # an admin's recall hold holds the rest
    out = api.post("/api/recall/hold", body, as_="admin", expected=200).get_json()
    assert (out["held_codes"], out["already_held_codes"]) == ([at_main], [at_sby]), out
    assert out["other_sites"] == 0
    assert api.get(f"/api/items/{at_main}").get_json()["status"] == "held"


def test_a_users_stations_are_one_statement_and_read_once_a_request(two_sites, app, db, users):
    """`station_ids` is one SELECT however many sites the user has (it was 2-4 a site), a
    station without a line side is the default site's, and the adapters' `scope` reads it
    once a request."""
    from server import scope
    from server.core import locations
    from server.models import Station

    Station.create(code="LOOSE", name="No line side", default_action="move", location_id=None)
    supervisor = users["supervisor"][0]
    siteaccess.set_sites(supervisor, ["MAIN", SITE])
    run = db.execute_sql
    statements = []

    def counted(*args, **kw):
        statements.append(args[0])
        return run(*args, **kw)

    db.execute_sql = counted
    try:
        both = siteaccess.station_ids(supervisor)
        assert len(statements) == 1, statements
        with app.test_request_context():
            assert scope.station_ids(supervisor) == both
            assert scope.station_ids(supervisor) == both
            assert len(statements) == 2, statements
    finally:
        db.execute_sql = run
    codes = {s.code for s in Station.select().where(Station.id.in_(both))}
    assert {"LOOSE", "RECV", "SBY-RECV"} <= codes
    siteaccess.set_sites(supervisor, [SITE])
    assert "LOOSE" not in {
        s.code for s in Station.select().where(Station.id.in_(siteaccess.station_ids(supervisor)))
    }
    # the same stations as a site's own listing (locations.station_ids_of_site)
    main = locations.site_by_code("MAIN")
    siteaccess.set_sites(supervisor, ["MAIN"])
    assert siteaccess.station_ids(supervisor) == locations.station_ids_of_site(main)


def test_the_floor_of_a_limited_user_is_its_stations_tiles_read_in_sql(two_sites, app, db, users):
    """`plantfloor.tiles` with a user's stations gives exactly the whole floor's tiles of
    those stations (machines, operators, WIP, held, order, last answer) and reads no row
    of another station: the statements choose them, not Python after reading them all."""
    from server.core import plantfloor
    from server.models import Station, utcnow

    now = utcnow()
    supervisor = users["supervisor"][0]
    mine = siteaccess.station_ids(supervisor)
    whole = plantfloor.tiles(now)
    assert {t["code"] for t in whole} > {"SBY-RECV"}
    expected = [t for t in whole if t["station"].id in set(mine)]
    assert [t["code"] for t in expected] == ["SBY-RECV"]
    assert expected[0]["machines"] and expected[0]["operators"] and expected[0]["order"]
    assert expected[0]["last"] is not None

    others = {sid for (sid,) in Station.select(Station.id).tuples()} - set(mine)
    run, rows_read = db.execute_sql, []

    def reading(sql, params=None, *a, **kw):
        cursor = run(sql, params, *a, **kw)
        rows = cursor.fetchall()
        rows_read.append((sql, rows))
        return _Rows(rows)

    db.execute_sql = reading
    try:
        assert plantfloor.tiles(now, mine) == expected
    finally:
        db.execute_sql = run
    by_station = [(sql, rows) for sql, rows in rows_read if '"station_id"' in sql.split("FROM")[0]]
    assert by_station, rows_read
    for sql, rows in by_station:
        column = [c.strip().strip('"') for c in sql.split("FROM")[0][6:].split(",")]
        at = column.index("station_id")
        assert not {r[at] for r in rows} & others, (sql, rows)
    stations_sql, station_rows = rows_read[0]
    assert [r[1] for r in station_rows] == ["SBY-RECV"], stations_sql


class _Rows:
    """A cursor's rows read already (what `fetchall()` and iteration give)."""

    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


@pytest.mark.parametrize(("path", "runs"), [("/api/people", 1), ("/supplies/live", 1)])
def test_a_limited_users_stations_are_chosen_once_a_listing(two_sites, app, api, db, path, runs):
    """`/api/people` filtered its two statements (sign-ins, scans today) each by the
    stations' subquery: the user's stations (`siteaccess.stations_query`) are read once a
    request, or once a listing. The supplies page reads them once, for its near-expiry
    lots (its supplies are the site counters of the user's sites, no station in them)."""
    from server.auth import hash_password
    from tests.web.conftest import PASSWORD, Browser

    supervisor = User.get(User.username == "supervisor1")
    User.update(password_hash=hash_password(PASSWORD)).where(User.id == supervisor.id).execute()
    browser = Browser(app.test_client())
    assert browser.login("supervisor1").status_code == 302
    run, statements = db.execute_sql, []

    def counted(sql, *args, **kw):
        statements.append(sql)
        return run(sql, *args, **kw)

    db.execute_sql = counted
    try:
        if path.startswith("/api/"):
            resp = _call(api, "GET", path, role="supervisor")
        else:
            resp = browser.get(path)
    finally:
        db.execute_sql = run
    assert resp.status_code == 200
    chosen = re.compile(r'SELECT "t\d+"\."id" FROM "station" AS "t\d+" LEFT OUTER JOIN "location"')
    assert sum(len(chosen.findall(sql)) for sql in statements) == runs, statements


def test_the_reorder_point_applies_to_each_sites_own_stock(two_sites, plant, app, api, db):
    """GLOVES (reorder point 5) has 4 at MAIN and 4 at SURABAYA: 8 in the plant hid two
    sites below the point. Stocked at two sites, each site's stock is checked: a flag per
    site naming it (its own key and event, alerting that site's people), the supplies page
    a row per site; a product stocked nowhere keeps the plant-wide flag."""
    from server.auth import hash_password
    from server.core import alerts, events, locations
    from server.models import Product, utcnow
    from tests.web.conftest import PASSWORD, Browser

    Product.update(reorder_point=3).where(Product.sku == "NUT").execute()

    def reorder():
        flags = api.get("/api/flags", as_="operator", expected=200).get_json()["flags"]
        return {
            (f["product"], f.get("site"), f["on_hand"]) for f in flags if f["flag"] == "reorder"
        }

    assert reorder() == {("GLOVES", "MAIN", "4"), ("GLOVES", SITE, "4"), ("NUT", None, "0")}
    keys = set(events.evaluate_flags(db, utcnow()))
    assert {"reorder:product:GLOVES@MAIN", f"reorder:product:GLOVES@{SITE}"} <= keys
    assert "reorder:product:NUT" in keys
    (raised,) = [
        e.payload
        for e in events.Event.select().where(
            events.Event.subject == "flag:reorder:product:GLOVES@MAIN"
        )
    ]
    assert "on hand at MAIN" in raised["message"]
    main = locations.site_by_code("MAIN").id
    assert alerts.event_site("flag.raised", raised) == main  # MAIN's people are alerted
    assert alerts.event_site("flag.raised", {"flag": "reorder", "product": "NUT"}) is None

    def supplies(who: str) -> dict:
        User.update(password_hash=hash_password(PASSWORD)).where(User.username == who).execute()
        browser = Browser(app.test_client())
        assert browser.login(who).status_code == 302
        html = browser.get("/supplies/live").get_data(as_text=True)
        rows = re.findall(
            r'<tr( class="alert")? data-product="GLOVES"(?: data-site="(\w+)")?>', html
        )
        return {site: bool(alert) for alert, site in rows}

    assert supplies("admin1") == {"MAIN": True, SITE: True}
    assert supplies("supervisor1") == {SITE: True}  # limited to SURABAYA

    # more gloves at SURABAYA: its flag clears, MAIN's stands
    (more,) = plant.items("GLOVES", qty=4, lot="G-SBY2")
    plant.scan(SCANNER, more, expected=201)
    assert reorder() == {("GLOVES", "MAIN", "4"), ("NUT", None, "0")}
    assert events.evaluate_flags(db, utcnow()) == [f"reorder:product:GLOVES@{SITE}"]
    assert supplies("admin1") == {"MAIN": True, SITE: False}


def _reorder_flags() -> set[tuple]:
    from server.core import flags
    from server.models import utcnow

    return {
        (f["product"], f.get("site"), f.get("stocked_at"), f["on_hand"])
        for f in flags.compute(utcnow()).flat()
        if f["flag"] == "reorder"
    }


def _supplies_page(app, who: str) -> str:
    from server.auth import hash_password
    from tests.web.conftest import PASSWORD, Browser

    User.update(password_hash=hash_password(PASSWORD)).where(User.username == who).execute()
    browser = Browser(app.test_client())
    assert browser.login(who).status_code == 302
    return browser.get("/supplies/live").get_data(as_text=True)


def _supplies_rows(app, who: str, sku: str) -> dict:
    """{site or None: marked} of `sku`'s rows on the supplies page as `who` sees it."""
    html = _supplies_page(app, who)
    rows = re.findall(rf'<tr( class="alert")? data-product="{sku}"(?: data-site="(\w+)")?>', html)
    return {site or None: bool(alert) for alert, site in rows}


def test_recount_stock_keeps_a_site_that_ran_out_flagged(two_sites, plant, db):
    """GLOVES: 14 at MAIN; SURABAYA's lot scrapped (0 on hand). SURABAYA is flagged at 0,
    the case the plant's sum hid. `recount-stock` (a repair: it changes no figure) used to
    drop SURABAYA's zero counter, so the product counted as stocked at one site, the
    plant's 14 hid SURABAYA again and its flag was cleared. The site counter stays, at 0."""
    from server.core import events, stock
    from server.models import Product, SiteCounter, utcnow

    Product.update(reorder_point=5).where(Product.sku == "GLOVES").execute()
    (lot,) = plant.items("GLOVES", qty=10, lot="G-MAIN-2")
    plant.scan("sc-recv", lot, expected=201)
    plant.scan(SCANNER, "CMD-OP-B-SUPERVISOR", expected=201)  # a supervisor scraps
    plant.scan(SCANNER, "CMD-ACT-SCRAP", expected=201)
    gloves = two_sites["gloves"]["G-SBY"]
    plant.scan(SCANNER, gloves, as_="supervisor", reason="DAMAGED", expected=201)
    plant.scan(SCANNER, "CMD-DONE", expected=201)

    before = {f for f in _reorder_flags() if f[0] == "GLOVES"}
    assert before == {("GLOVES", SITE, None, "0")}, before
    events.evaluate_flags(db, utcnow())
    rows = SiteCounter.select().count()

    stock.rebuild(db)  # python -m server recount-stock
    assert {f for f in _reorder_flags() if f[0] == "GLOVES"} == before
    assert events.evaluate_flags(db, utcnow()) == []  # nothing cleared, nothing raised
    assert SiteCounter.select().count() == rows  # the zero rows kept
    assert stock.stored_totals()[1] == stock.recount_totals_from_items()[1]


def test_a_product_one_site_stocks_alerts_that_sites_people_only(two_sites, plant, app, db, users):
    """A supplies product received at MAIN only is checked against the plant's stock (the
    plant-wide flag, key unchanged), which names the one site that stocks it
    (`stocked_at`): the alert goes to MAIN's people and every unlimited one, not to the
    supervisor limited to SURABAYA, who never had it; on the supplies page that supervisor
    has no row of it (another site's), an admin its row marked."""
    from server.core import alerts, events, locations
    from server.models import Alert, Event, utcnow

    plant.api.post(
        "/api/products",
        {"sku": "TAPE", "name": "Tape", "kind": "supplies", "tracking": "lot", "reorder_point": 5},
        expected=201,
    )
    (lot,) = plant.items("TAPE", qty=2, lot="T-1")
    plant.scan("sc-recv", lot, expected=201)
    admin, supervisor = users["admin"][0], users["supervisor"][0]  # the latter: SURABAYA
    for user in (admin, supervisor):
        alerts.subscribe(user, ["reorder"], email=False, now=utcnow())

    assert ("TAPE", None, "MAIN", "2") in _reorder_flags()
    assert "reorder:product:TAPE" in events.evaluate_flags(db, utcnow())
    raised = Event.get(Event.subject == "flag:reorder:product:TAPE")
    main = locations.site_by_code("MAIN").id
    assert alerts.event_site(raised.type, raised.payload) == main
    assert alerts.record(raised, utcnow()) == 1
    alerted = {a.user_id for a in Alert.select().where(Alert.event_id == raised.id)}
    assert alerted == {admin.id}

    assert _supplies_rows(app, "admin1", "TAPE") == {None: True}
    assert _supplies_rows(app, "supervisor1", "TAPE") == {}
    assert _supplies_rows(app, "supervisor1", "GLOVES") == {SITE: True}  # its own site's

    # a supplies product with no reorder point, at MAIN: its row, with SURABAYA's stock
    body = {"sku": "RAGS", "name": "Rags", "kind": "supplies", "tracking": "lot"}
    plant.api.post("/api/products", body, expected=201)
    (lot,) = plant.items("RAGS", qty=7, lot="R-1")
    plant.scan("sc-recv", lot, expected=201)
    for who, qty in (("admin1", "7"), ("supervisor1", "0")):
        html = _supplies_page(app, who)
        row = re.search(r'data-product="RAGS">.*?<td class="num">([\d.,]+) ', html, re.S)
        assert row is not None and row.group(1) == qty, (who, html)


def test_a_sites_stock_is_what_lies_at_its_places_in_flags_and_pages(two_sites, plant, app, api):
    """A lot of gloves received by a MAIN scanner into SURABAYA's dock lies at SURABAYA:
    the stock page filtered to SURABAYA shows it, and so do the reorder check (SURABAYA is
    no longer short; it read the item's station, MAIN's) and the supplies page's rows."""
    from server.models import Product

    Product.update(reorder_point=8).where(Product.sku == "GLOVES").execute()
    assert {f for f in _reorder_flags() if f[0] == "GLOVES"} == {
        ("GLOVES", "MAIN", None, "4"),
        ("GLOVES", SITE, None, "4"),
    }
    plant.scan("sc-recv", "LOC-SBY-DOCK", expected=201)
    (lot,) = plant.items("GLOVES", qty=6, lot="G-X")
    assert plant.scan("sc-recv", lot, expected=201)["location"] == "SBY-DOCK"
    assert {f for f in _reorder_flags() if f[0] == "GLOVES"} == {("GLOVES", "MAIN", None, "4")}
    assert _supplies_rows(app, "admin1", "GLOVES") == {"MAIN": True, SITE: False}
    got = api.get(f"/api/stock?site={SITE}", as_="admin", expected=200).get_json()
    products = got["places"]["products"]
    assert [p["qty"] for p in products if p["sku"] == "GLOVES"] == [10], products
