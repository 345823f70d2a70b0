"""CSV import and export: one transaction per file, every bad row reported by its line,
the database unchanged by a refused file, and exports that import back unchanged."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from server.models import (
    BomLine,
    LedgerEntry,
    Product,
    ProductionOrder,
    RoutingStep,
    Station,
    utcnow,
)

TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def post_csv(api, kind, text, *, as_="admin", expected=200, qs=""):
    return api.call(
        "POST",
        f"/api/import/{kind}{qs}",
        None,
        as_=as_,
        expected=expected,
        data=text.encode(),
        content_type="text/csv",
    ).get_json()


def export(api, kind) -> str:
    resp = api.client.get(
        f"/api/export/{kind}.csv", headers={"Authorization": f"Bearer {api.tokens['supervisor']}"}
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return resp.get_data(as_text=True)


def snapshot():
    return [
        sorted(Product.select(Product.sku, Product.name).tuples()),
        sorted(BomLine.select(BomLine.product, BomLine.component, BomLine.qty).tuples()),
        sorted(RoutingStep.select(RoutingStep.product, RoutingStep.station).tuples()),
        sorted(Station.select(Station.code, Station.name).tuples()),
        sorted(ProductionOrder.select(ProductionOrder.number, ProductionOrder.qty).tuples()),
        LedgerEntry.select().count(),
    ]


PRODUCTS = """sku,name,kind,tracking,gtin,unit,reorder_point
P-RAW,Aluminium bar,raw,lot,,kg,50
P-CMP,Bracket,component,unit,,,
P-FIN,Lamp,finished,unit,4006381333931,ea,
"""


def test_import_products_then_reimport_is_unchanged(api, db):
    out = post_csv(api, "products", PRODUCTS)
    assert (out["rows"], out["created"], out["updated"]) == (3, 3, 0)
    p = Product.get(Product.sku == "P-RAW")
    assert (p.tracking, p.unit, float(p.reorder_point)) == ("lot", "kg", 50.0)
    assert Product.get(Product.sku == "P-FIN").gtin == "04006381333931"
    again = post_csv(api, "products", PRODUCTS.replace("Lamp", "Desk lamp"))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 2)


# (file body without the header, the lines expected in the error list)
BAD_PRODUCTS = [
    ("A,Ok,raw\nB,Bad kind,metal\n", [3]),
    ("A,Ok,raw\nB,,raw\nC,Bad gtin,finished,unit,4006381333932\n", [3, 4]),
    ("A,One,raw\nA,Again,raw\n", [3]),
    ("A,One,raw,lot,,kg,-1\n", [2]),
    ('A,"multi\nline name",raw\nB,x,raw,unit,,,,extra\n', [4]),
    ("A,Ok,raw\n,,\nB,Ok,raw,sideways\n", [4]),  # blank rows are skipped but counted
]


@pytest.mark.parametrize(("body", "lines"), BAD_PRODUCTS)
def test_bad_rows_are_reported_by_line_and_change_nothing(api, db, body, lines):
    post_csv(api, "products", "sku,name,kind\nKEEP,Kept,raw\n")
    before = snapshot()
    header = "sku,name,kind,tracking,gtin,unit,reorder_point\n"
    out = post_csv(api, "products", header + body, expected=400)
    assert out["error"] == "bad_csv" and "nothing was imported" in out["message"]
    assert [d["line"] for d in out["details"]] == lines, out["details"]
    assert all(d["error"] for d in out["details"])
    assert snapshot() == before


def test_a_row_refused_by_the_database_rolls_back_the_rows_before_it(plant, api, db):
    before = snapshot()
    text = (
        "number,product,qty,start,due\n"
        f"WO-A,WIDGET,5,{day(0)},{day(3)}\n"
        f"WO-B,BRACKET,5,{day(0)},{day(3)}\n"
        f"WO-C,NOSUCH,5,{day(0)},{day(3)}\n"
        f"WO-D,STEEL,5,{day(0)},{day(3)}\n"
        f"WO-E,WIDGET,5,{day(3)},{day(0)}\n"
    )
    out = post_csv(api, "orders", text, as_="supervisor", expected=400)
    assert [(d["line"], d["error"]) for d in out["details"]] == [
        (4, "No product NOSUCH"),
        (5, "STEEL is raw, not made in the plant"),
        (6, "Value error, due is before start"),
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "no header row"),
        ("sku,name\nA,B\n", "missing column(s) kind"),
        ("sku,name,kind,colour\n", "unknown column(s) colour"),
        ("sku,sku,name,kind\n", "a column appears twice"),
    ],
)
def test_bad_header(api, db, text, error):
    out = post_csv(api, "products", text, expected=400)
    assert out["details"][0]["line"] == 1 and error in out["details"][0]["error"]


def test_not_utf8_and_unknown_kind(api, db):
    resp = api.call("POST", "/api/import/products", None, data=b"sku\xff", content_type="text/csv")
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_csv"
    assert post_csv(api, "widgets", "a\n", expected=404)["error"] == "not_found"


def test_multipart_upload_and_dry_run(api, db):
    resp = api.call(
        "POST",
        "/api/import/products?dry_run=1",
        None,
        data={"file": (io.BytesIO(b"\xef\xbb\xbf" + PRODUCTS.encode()), "products.csv")},
        content_type="multipart/form-data",
        expected=200,
    )
    assert resp.get_json()["created"] == 3 and resp.get_json()["dry_run"] is True
    assert Product.select().count() == 0
    resp = api.call(
        "POST",
        "/api/import/products",
        None,
        data={"file": (io.BytesIO(PRODUCTS.encode()), "products.csv")},
        content_type="multipart/form-data",
        expected=200,
    )
    assert Product.select().count() == 3


def test_roles(plant, api):
    post_csv(api, "products", PRODUCTS, as_="supervisor", expected=403)
    post_csv(api, "orders", "number,product,qty,start,due\n", as_="operator", expected=403)
    text = f"number,product,qty,start,due\nWO-1,WIDGET,2,{day(0)},{day(1)}\n"
    assert post_csv(api, "orders", text, as_="supervisor")["created"] == 1


def test_master_data_import_and_export_round_trip(api, db):
    stations = (
        "code,name,default_action,operator_required,dwell_limit_minutes,policy\n"
        "RCV,Receiving,receive,false,,\n"
        "L1,Line 1,start,true,45,over_plan=warn;short_material=reject\n"
        "L2,Line 2,move,,,\n"
        "OUT,End,complete,no,,\n"
    )
    assert post_csv(api, "stations", stations)["created"] == 4
    l1 = Station.get(Station.code == "L1")
    assert (l1.operator_required, l1.dwell_limit_minutes) == (True, 45)
    assert l1.policy == {"over_plan": "warn", "short_material": "reject"}
    post_csv(api, "products", PRODUCTS)
    bom = "product,component,qty\nP-FIN,P-CMP,2\nP-FIN,P-RAW,0.25\nP-CMP,P-RAW,1.5\n"
    assert post_csv(api, "bom", bom)["created"] == 2
    routings = "product,station,seq\nP-FIN,L2,2\nP-FIN,L1,1\nP-CMP,L1,\n"
    assert post_csv(api, "routings", routings)["created"] == 2
    orders = (
        "number,product,qty,start,due,station,status\n"
        f"WO-1,P-FIN,10,{day(0)},{day(4)},L1,released\n"
        f"WO-2,P-CMP,20,{day(0)},{day(2)},,\n"
    )
    assert post_csv(api, "orders", orders, as_="supervisor")["created"] == 2
    assert ProductionOrder.get(ProductionOrder.number == "WO-1").status == "released"
    routing = api.get("/api/products/P-FIN", as_="operator").get_json()["routing"]
    assert routing == ["L1", "L2"]
    for kind in ("products", "bom", "routings", "stations", "orders"):
        text = export(api, kind)
        out = post_csv(api, kind, text, as_="admin")
        assert (out["created"], out["updated"]) == (0, 0), (kind, out, text)
    assert "WO-1,P-FIN,10," in export(api, "orders")
    assert "P-FIN,P-RAW,0.25" in export(api, "bom")


@pytest.mark.parametrize(
    ("kind", "body", "lines"),
    [
        (
            "bom",
            "product,component,qty\nWIDGET,NOPE,1\nWIDGET,WIDGET,1\nWIDGET,STEEL,x\n",
            [2, 3, 4],
        ),
        ("bom", "product,component,qty\nWIDGET,STEEL,1\nWIDGET,STEEL,2\n", [3]),
        ("routings", "product,station,seq\nWIDGET,A1,1\nWIDGET,A1,2\nWIDGET,ZZ,3\n", [3, 4]),
        ("routings", "product,station,seq\nWIDGET,A1,1\nWIDGET,A2,1\nWIDGET,A3,x\n", [3, 4]),
        ("stations", "code,name,default_action,policy\nS1,x,fly,\nS2,y,move,over_plan\n", [2, 3]),
        ("stations", "code,name,default_action,rework_to\nRW,x,rework,NOPE\n", [2]),
    ],
)
def test_bad_master_data_rows(plant, api, kind, body, lines):
    before = snapshot()
    out = post_csv(api, kind, body, expected=400)
    assert sorted({d["line"] for d in out["details"]}) == lines, out["details"]
    assert snapshot() == before


def test_stations_import_rework_stations_and_their_targets(api, db):
    # the target comes later in the file: stations are created first, targets set after
    text = (
        "code,name,default_action,rework_to\n"
        "A-RW,Rework,rework,TEST\n"
        "RET,Returns,unissue,\n"
        "TEST,Test,move,\n"
    )
    assert post_csv(api, "stations", text)["created"] == 3
    rw = Station.get(Station.code == "A-RW")
    assert (rw.default_action, rw.rework_to_id) == (
        "rework",
        Station.get(Station.code == "TEST").id,
    )
    exported = export(api, "stations")
    assert "A-RW,Rework,rework,false,,,TEST" in exported
    out = post_csv(api, "stations", exported)
    assert (out["created"], out["updated"]) == (0, 0), out


def test_orders_import_edits_open_orders_by_the_planning_rules(plant, api):
    plant.order("WO-1", "BRACKET", 3)
    units = plant.items("BRACKET", count=2)
    for u in units:
        plant.scan("sc-a1", u, expected=201)
        plant.scan("sc-end", u, expected=201)
    text = "number,product,qty,start,due\n" + f"WO-1,BRACKET,1,{day(-1)},{day(5)}\n"
    out = post_csv(api, "orders", text, as_="supervisor", expected=400)
    assert out["details"] == [{"line": 2, "error": "Order WO-1 has 2 completed"}]
    text = "number,product,qty,start,due\n" + f"WO-1,BRACKET,4,{day(-1)},{day(9)}\n"
    assert post_csv(api, "orders", text, as_="supervisor")["updated"] == 1
    shown = api.get("/api/orders/WO-1", as_="operator").get_json()
    assert (shown["qty"], shown["due"]) == (4, day(9))
    assert shown["history"][-1]["note"] == "CSV import"
