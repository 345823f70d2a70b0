"""Label templates and label sheets over the API: versions, the preview, and sheets of item
and command labels that decode back (zxing-cpp and zbar) to what was chosen."""

from __future__ import annotations

import time

from PIL import Image
from pyzbar import pyzbar

from server.models import LedgerEntry
from tests.labels.label_helpers import decode_image, decode_png, pdf_pages

LOT_EXPIRY = {
    "width": 50.8,
    "height": 25.4,
    "dpi": 203,
    "symbology": "code128",
    "boxes": [
        {"field": "symbol", "x": 0, "y": 0, "w": 100, "h": 50},
        {"field": "code", "x": 0, "y": 51, "w": 100, "h": 15, "bold": True},
        {"field": "lot", "x": 0, "y": 68, "w": 100, "h": 15, "align": "start"},
        {"field": "expiry", "x": 0, "y": 85, "w": 100, "h": 15, "align": "start"},
    ],
}


def _call(api, method, path, body=None, as_="clerk"):
    return api.client.open(
        path, method=method, json=body, headers={"Authorization": f"Bearer {api.tokens[as_]}"}
    )


def wait_for(api, sheet: str, as_="clerk") -> dict:
    for _ in range(400):
        state = api.get(f"/api/print-sheets/{sheet}", as_=as_, expected=200).get_json()
        if state["state"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError("the sheet was not done in 20 s")


def both(image: Image.Image) -> tuple[list[str], list[str]]:
    zbar = [r.data.decode() for r in pyzbar.decode(image.convert("L"))]
    return [r.text for r in decode_image(image)], zbar


def test_the_default_template_is_seeded_and_edits_make_versions(api, db):
    listed = api.get("/api/label-templates", as_="clerk", expected=200).get_json()
    assert [(t["name"], t["version"]) for t in listed["templates"]] == [("default", 1)]
    assert "lot" in listed["fields"] and "page" in listed["stocks"]
    first = api.post(
        "/api/label-templates", {"name": "lot-2x1", "design": LOT_EXPIRY}, as_="clerk", expected=201
    ).get_json()
    assert (first["version"], first["created_by"]) == (1, "clerk1")
    wider = {**LOT_EXPIRY, "width": 76.2}
    second = api.post(
        "/api/label-templates", {"name": "lot-2x1", "design": wider}, as_="clerk", expected=201
    ).get_json()
    assert second["version"] == 2 and second["design"]["width"] == 76.2
    listed = api.get("/api/label-templates", as_="clerk", expected=200).get_json()["templates"]
    assert [(t["name"], t["version"]) for t in listed] == [("default", 1), ("lot-2x1", 2)]


def test_a_design_that_cannot_hold_a_code_is_refused(api, db):
    narrow = {**LOT_EXPIRY, "boxes": [{"field": "symbol", "x": 0, "y": 0, "w": 20, "h": 50}]}
    resp = api.post("/api/label-templates", {"name": "bad", "design": narrow}, as_="clerk")
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_payload"
    assert "does not fit" in resp.get_json()["message"]
    two = {**LOT_EXPIRY, "boxes": LOT_EXPIRY["boxes"] + [LOT_EXPIRY["boxes"][0]]}
    resp = api.post("/api/label-templates", {"name": "bad", "design": two}, as_="clerk")
    assert resp.status_code == 400 and "exactly one symbol" in resp.get_json()["message"]


def test_preview_draws_the_design_with_a_sample(api, db):
    resp = _call(
        api, "POST", "/api/label-templates/preview", {"design": LOT_EXPIRY, "format": "png"}
    )
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert [r.text for r in decode_png(resp.data)] == ["K7M2QX4R9"]
    resp = _call(
        api,
        "POST",
        "/api/label-templates/preview",
        {"design": LOT_EXPIRY, "values": {"lot": "L-99"}},
    )
    svg = resp.get_data(as_text=True)
    assert resp.mimetype == "image/svg+xml" and "LOT L-99" in svg and "EXP 2027-06-30" in svg


def test_a_sheet_of_an_orders_items_decodes_and_records_the_template(plant, api, db):
    plant.order("WO-9", "WIDGET", 30)
    codes = plant.items("WIDGET", count=30, order="WO-9", lot="L-5", expiry="2027-03-31")
    api.post("/api/label-templates", {"name": "lot-2x1", "design": LOT_EXPIRY}, as_="clerk")
    started = _call(
        api,
        "POST",
        "/api/print-sheets",
        {"order": "WO-9", "template": "lot-2x1", "stock": "letter-3x10"},
    )
    assert started.status_code == 202, started.get_data(as_text=True)
    state = wait_for(api, started.get_json()["id"])
    assert (state["state"], state["done"], state["total"]) == ("done", 30, 30)
    pdf = _call(api, "GET", f"/api/print-sheets/{state['id']}/pdf")
    assert pdf.mimetype == "application/pdf"
    (page,) = pdf_pages(pdf.data, dpi=300)
    zx, zb = both(page)
    assert sorted(zx) == sorted(codes) and sorted(zb) == sorted(codes)
    notes = {e.message for e in LedgerEntry.select().where(LedgerEntry.action == "print")}
    assert notes == {"Label printed (pdf letter-3x10 template lot-2x1 v1)"}
    # another user cannot see or fetch it
    other = _call(api, "GET", f"/api/print-sheets/{state['id']}/pdf", as_="supervisor")
    assert other.status_code == 404


def test_a_sheet_from_codes_and_a_csv(plant, api, db):
    codes = plant.items("STEEL", count=3, qty=25, lot="L-7")
    csv = "code,note\n" + "\n".join(f"{c},x" for c in codes[1:]) + "\n"
    started = _call(api, "POST", "/api/print-sheets", {"codes": [codes[0].lower()], "csv": csv})
    state = wait_for(api, started.get_json()["id"])
    assert state["total"] == 3
    pdf = _call(api, "GET", f"/api/print-sheets/{state['id']}/pdf").data
    read = [t for page in pdf_pages(pdf, dpi=300) for t in both(page)[1]]
    assert read == codes  # one label per page, in the order given
    unknown = _call(api, "POST", "/api/print-sheets", {"codes": ["NOPE123"]})
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_item"


def test_command_sheets(plant, api, db, users):
    # the longest order number there may be: its CMD-ORD- label holds a label's 60 characters
    longest = "WO-" + "7" * 49
    plant.order(longest, "WIDGET", 2)
    too_long = _call(api, "POST", "/api/orders", {
        "number": longest + "8", "product": "WIDGET", "qty": 1,
        "start": "2026-11-20", "due": "2026-11-27",
    }, as_="supervisor")  # fmt: skip
    assert too_long.status_code == 400 and too_long.get_json()["error"] == "bad_payload"
    # on a 63.5 mm label it cannot be read: the sheet fails and says why, nothing is lost
    narrow = _call(api, "POST", "/api/print-sheets", {"commands": "orders"})
    assert narrow.status_code == 202
    failed = wait_for(api, narrow.get_json()["id"])
    assert failed["state"] == "failed" and "use a wider template" in failed["error"], failed
    for kind, stock, expected in [
        ("badges", None, {f"CMD-OP-{u.badge}" for u, _t in users.values()}),
        ("actions", None, {"CMD-ACT-RECEIVE", "CMD-ACT-SCRAP", "CMD-ACT-HOLD"}),
        ("orders", "a4-2x7", {f"CMD-ORD-{longest}"}),
    ]:
        started = _call(api, "POST", "/api/print-sheets", {"commands": kind, "stock": stock})
        assert started.status_code == 202
        state = wait_for(api, started.get_json()["id"])
        pdf = _call(api, "GET", f"/api/print-sheets/{state['id']}/pdf").data
        read = {t for page in pdf_pages(pdf, dpi=300) for t in both(page)[0]}
        assert expected <= read, (kind, read)
