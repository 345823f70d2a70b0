"""Labels over the API, read back by a real decoder (zxing-cpp; PDF pages rasterised by
pdfium): a clerk receives 50 items and every label on the sheet scans back to its item."""

from __future__ import annotations

import socket
import threading

import pytest

from server.models import LedgerEntry
from tests.conftest import GTIN_NUT
from tests.labels.label_helpers import decode_image, decode_png, pdf_pages, svg_to_image


def _texts(reads) -> list[str]:
    return [r.text for r in reads]


def _job(api, body, as_="supervisor"):
    """POST /api/labels, answered with a PDF or ZPL rather than JSON."""
    return api.client.post(
        "/api/labels", json=body, headers={"Authorization": f"Bearer {api.tokens[as_]}"}
    )


def test_clerk_receives_and_prints_50_items(plant, api, db):
    resp = _job(
        api,
        {
            "receive": {"product": "STEEL", "count": 50, "qty": 25, "lot": "L-77"},
            "template": "a4-3x8",
        },
    )
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    codes = resp.headers["X-Koordinator-Items"].split(",")
    assert len(codes) == 50
    pages = pdf_pages(resp.data, dpi=200)
    assert len(pages) == 3  # 24 labels a page
    read = [t for page in pages for t in _texts(decode_image(page))]
    assert sorted(read) == sorted(codes)
    for code in codes[:3]:  # new items, not yet in stock, with the print in their history
        item = api.get(f"/api/items/{code}", as_="operator").get_json()
        assert item["stage"] == "new" and item["lot"] == "L-77"
        assert [h["action"] for h in item["history"]] == ["create", "print"]
    # receiving them is then a plain scan of the printed label
    assert plant.scan("sc-recv", read[0], expected=201)["stage"] == "raw"


def test_reprint_is_recorded(plant, api, db):
    (code,) = plant.items("WIDGET")
    for _ in range(2):
        assert (
            _job(api, {"items": [code], "format": "zpl", "template": "thermal-2x1"}).status_code
            == 200
        )
    history = api.get(f"/api/items/{code}", as_="operator").get_json()["history"]
    assert [h["action"] for h in history] == ["create", "print", "reprint"]


@pytest.mark.parametrize("fmt", ["png", "svg", "zpl"])
def test_one_label_formats(plant, api, fmt):
    (code,) = plant.items("BRACKET")
    resp = api.client.get(
        f"/api/labels/{code}.{fmt}", headers={"Authorization": f"Bearer {api.tokens['operator']}"}
    )
    assert resp.status_code == 200
    if fmt == "png":
        assert _texts(decode_png(resp.data)) == [code]
    elif fmt == "svg":
        assert resp.mimetype == "image/svg+xml"
        assert _texts(decode_image(svg_to_image(resp.get_data(as_text=True)))) == [code]
    else:
        zpl = resp.get_data(as_text=True)
        assert zpl.startswith("^XA") and "^BC" in zpl and code in zpl


def test_serial_item_of_a_gtin_product_gets_gs1(plant, api):
    (code,) = plant.items("NUT", serial="SN-5")
    resp = api.client.get(
        f"/api/labels/{code}.png?template=a4-2x7",
        headers={"Authorization": f"Bearer {api.tokens['operator']}"},
    )
    (read,) = decode_png(resp.data)
    assert read.symbology == "]C1"
    assert read.raw == f"01{GTIN_NUT}21SN-5"
    # and scanning that GS1 label at receiving resolves exactly this item
    r = plant.scan("sc-recv", f"]C1{read.raw}", expected=201)
    assert r["item"] == code


def test_command_labels_sheet(plant, api):
    cmds = ["CMD-OP-B-OPERATOR", "CMD-ORD-WO-1", "CMD-ACT-SCRAP", "CMD-DONE", "CMD-OUT"]
    resp = _job(api, {"commands": cmds})
    read = [t for page in pdf_pages(resp.data, dpi=200) for t in _texts(decode_image(page))]
    assert sorted(read) == sorted(cmds)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"items": ["K0000C1S1"]}, 404, "unknown_item"),
        ({}, 400, "bad_payload"),
        ({"commands": ["HELLO"]}, 400, "bad_payload"),
        ({"receive": {"product": "NOPE", "count": 1}}, 400, "bad_payload"),
        (
            {"receive": {"product": "STEEL", "count": 1}, "template": "a0-poster"},
            400,
            "bad_payload",
        ),
        (
            {"receive": {"product": "STEEL", "count": 1}, "printer": {"host": "127.0.0.1"}},
            400,
            "bad_payload",
        ),  # a printer needs ZPL
    ],
)
def test_label_job_errors(plant, api, body, status, error):
    resp = api.call("POST", "/api/labels", body, as_="supervisor", expected=status)
    assert resp.get_json()["error"] == error


def test_operator_cannot_print(plant, api):
    resp = api.call("POST", "/api/labels", {"commands": ["CMD-DONE"]}, as_="operator", expected=403)
    assert resp.get_json()["error"] == "forbidden"


def test_unknown_label_code_is_404_json(plant, api):
    resp = api.get("/api/labels/K0000C1S1.png", as_="operator", expected=404)
    assert resp.get_json()["error"] == "unknown_item"
    api.get("/api/labels/whatever.pdf", as_="operator", expected=404)


def test_print_to_a_zebra_and_to_a_dead_printer(plant, api, db):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got = bytearray()

    def accept():
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                got.extend(chunk)

    t = threading.Thread(target=accept)
    t.start()
    port = server.getsockname()[1]
    body = {
        "receive": {"product": "GLOVES", "count": 3},
        "format": "zpl",
        "template": "thermal-2x1",
        "printer": {"host": "127.0.0.1", "port": port},
    }
    answer = api.call("POST", "/api/labels", body, as_="supervisor", expected=200).get_json()
    t.join(5)
    server.close()
    assert answer["labels"] == 3 and answer["sent"] == len(got)
    assert got.count(b"^XA") == 3 and all(c.encode() in got for c in answer["items"])
    before = LedgerEntry.select().count()
    resp = api.call(
        "POST",
        "/api/labels",
        {**body, "printer": {"host": "127.0.0.1", "port": port}},
        as_="supervisor",
        expected=502,
    )
    assert resp.get_json()["error"] == "printer_unreachable"
    assert LedgerEntry.select().count() == before  # nothing created, nothing recorded
