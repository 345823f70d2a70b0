"""Issue #11, floor and pages: what a worker, a supervisor and an admin do on the pages.

Live behaviour runs in headless Chromium against a real server; the rest reads the HTML
the test client gets."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import scan_on_page, sign_in


def test_scan_header_follows_every_answer(page, history, web_users):
    """Badge in, action, CMD-DONE, badge again: the header shows the scanner's context
    after each answer without a reload, and the badge scanned again says it signed out."""
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-end")
    page.evaluate("window.__noReload = 'still here'")
    head = page.locator(".scan-ctx")
    answer = page.locator("#answer")
    expect(head).to_have_text("Completed")
    expect(head).not_to_contain_text("supervisor1")

    scan_on_page(page, "CMD-OP-B-SUPERVISOR")
    expect(answer).to_contain_text("Signed in: supervisor1")
    expect(head).to_have_text("Completed · supervisor1")

    scan_on_page(page, "CMD-ACT-MOVE")
    expect(answer).to_contain_text("Action: Moved")
    expect(head).to_have_text("Moved · supervisor1")

    scan_on_page(page, "CMD-DONE")
    expect(head).to_have_text("Completed · supervisor1")

    scan_on_page(page, "CMD-OP-B-SUPERVISOR")  # the own badge again: signed out, and it says so
    expect(answer).to_contain_text("Signed out: supervisor1")
    expect(answer).to_contain_text("same badge")
    expect(head).to_have_text("Completed")

    scan_on_page(page, "CMD-OP-B-OPERATOR")
    expect(head).to_have_text("Completed · operator1")
    page.click("#scan-signout")  # signing out has its own button (it sends CMD-OUT)
    expect(answer).to_contain_text("Signed out: operator1")
    expect(head).to_have_text("Completed")
    expect(page.locator("#scan-signout")).to_be_hidden()
    assert page.evaluate("window.__noReload") == "still here"


def test_scan_header_speaks_bahasa(page, history, web_users):
    from server.models import Station

    Station.update(language="id").where(Station.code == "END").execute()
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-end")
    scan_on_page(page, "CMD-OP-B-OPERATOR")
    expect(page.locator(".scan-ctx")).to_contain_text("operator1")
    scan_on_page(page, "CMD-OP-B-OPERATOR")
    answer = page.locator("#answer")
    expect(answer).to_contain_text("Keluar: operator1")
    expect(answer).not_to_contain_text("Signed out")
    expect(page.locator(".scan-ctx")).not_to_contain_text("operator1")
    assert re.search("Diterima", answer.inner_text())


def test_stock_cards_keep_their_places(page, history, web_users):
    """New labels (stage `new`) and a scrap appear while the page is open: every card that
    was there stays where it was."""
    plant = history["plant"]
    sign_in(page, web_users["supervisor"])
    page.goto("/stock")
    cards = page.locator("#stock-live .card.stage")
    before = cards.evaluate_all("els => els.map(e => e.dataset.stage)")
    plant.items("WIDGET", count=2)  # labels printed, not received yet: stage new
    new = page.locator(".card.stage[data-stage='new'] [data-count]")
    expect(new).to_have_text("2", timeout=2000)
    after = cards.evaluate_all("els => els.map(e => e.dataset.stage)")
    assert after[: len(before)] == before


def test_stock_cards_give_quantities_per_unit(as_role, history):
    """Raw stock holds steel in kg and oil in litres: the card never adds them up."""
    plant = history["plant"]
    oil = {"sku": "OIL", "name": "Oil", "kind": "raw", "tracking": "lot", "unit": "l"}
    plant.api.post("/api/products", oil, expected=201)
    (can,) = plant.items("OIL", qty=5, lot="O-1")
    plant.scan("sc-recv", can, expected=201)
    html = as_role("supervisor").get("/stock/live").get_data(as_text=True)
    card = re.search(r'data-stage="raw">(.*?)</a>', html, re.S).group(1)
    assert re.search(r"data-count>2<", card), card
    units = dict(re.findall(r'data-unit="([^"]+)">([^<]+)<', card))
    assert units == {"kg": "92 kg", "l": "5 l"}, card
    assert "97" not in card, card


def test_find_an_item_by_any_code_it_carries(as_role, history):
    """The header's search box takes what the scanners take: an internal code (typed in
    lower case too), a GS1 element string, an EPC read; it opens the item, or says that
    nothing matched."""
    from server.models import Product

    plant = history["plant"]
    sup = as_role("supervisor")
    page = sup.get("/stock").get_data(as_text=True)
    assert re.search(r'<form[^>]*action="/find"', page), "no search box in the header"
    assert re.search(r'<nav>.*href="/items".*</nav>', page, re.S), "no Items link"

    widget = history["widgets"][0]
    resp = sup.get(f"/find?code={widget.lower()}")
    assert resp.status_code == 302 and resp.location.endswith(f"/items/{widget}")

    Product.update(gtin="80614141123458").where(Product.sku == "NUT").execute()
    nut = plant.scan("sc-recv", "3074257BF7194E4000001A85", source="rfid", expected=201)
    resp = sup.get("/find?code=3074257BF7194E4000001A85")
    assert resp.status_code == 302 and resp.location.endswith(f"/items/{nut['item']}")
    resp = sup.get("/find", query_string={"code": "(01)80614141123458(21)6789"})
    assert resp.status_code == 302 and resp.location.endswith(f"/items/{nut['item']}")

    # a lot of bolts: the items of that lot
    resp = sup.get("/find", query_string={"code": "]C10109506000134352" + "10B-7"})
    assert resp.status_code == 302 and "product=BOLT" in resp.location
    assert "lot=B-7" in resp.location

    for code in ("NOT-A-LABEL", "(01)80614141123458(21)9999", "CMD-DONE"):
        resp = sup.get("/find", query_string={"code": code})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 404, code
        assert "Nothing matched" in text and code in text, text


def test_order_page_shows_its_materials(as_role, history):
    """WO-1 (4 widgets: 2 kg steel and 4 bolts each) had 8 kg steel and 16 bolts issued;
    WO-2 (10 widgets) nothing yet: need, issued and short per material, as the API says."""
    sup = as_role("supervisor")
    rows = {}
    for number in ("WO-1", "WO-2"):
        html = sup.get(f"/schedule/orders/{number}").get_data(as_text=True)
        assert "<h2>Materials</h2>" in html, html
        for sku, cells in re.findall(r'<tr data-material="([^"]+)">(.*?)</tr>', html, re.S):
            rows[number, sku] = re.findall(r'<td class="num[^"]*">([^<]*)</td>', cells)
    assert rows["WO-1", "STEEL"] == ["8 kg", "8 kg", "0 kg"]
    assert rows["WO-1", "BOLT"] == ["16 ea", "16 ea", "0 ea"]
    assert rows["WO-2", "STEEL"] == ["20 kg", "0 kg", "20 kg"]
    assert rows["WO-2", "BOLT"] == ["40 ea", "0 ea", "40 ea"]


def test_order_page_headings_have_room(page, history, web_users):
    """Each heading below other content in a card stands clear of it (it was glued on)."""
    sign_in(page, web_users["supervisor"])
    page.goto("/schedule/orders/WO-1")
    gaps = page.locator(".card > * + h2").evaluate_all(
        """els => els.map(h => [h.textContent, h.getBoundingClientRect().top
             - h.previousElementSibling.getBoundingClientRect().bottom])"""
    )
    assert {text for text, _gap in gaps} >= {"Materials", "History", "Close"}, gaps
    assert all(gap >= 16 for _text, gap in gaps), gaps


def _row(html: str, marker: str) -> str:
    m = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(marker) + r".*?</tr>", html, re.S)
    assert m, marker
    return m.group(0)


def test_admin_edits_and_deactivates_a_product(as_role, plant):
    from server.models import Product

    admin = as_role("admin")
    page = admin.get("/admin/products/NUT").get_data(as_text=True)
    assert 'name="name" value="Nut M6"' in page, "no edit form for the product"
    resp = admin.post(
        "/admin/products/NUT",
        {"what": "product", "name": "Nut M6 zinc", "unit": "ea", "gtin": "", "active": "on"},
    )
    assert resp.status_code == 302
    nut = Product.get(Product.sku == "NUT")
    assert (nut.name, nut.gtin, nut.active) == ("Nut M6 zinc", None, True)
    admin.post("/admin/products/NUT", {"what": "product", "name": "Nut M6 zinc", "unit": "ea"})
    assert Product.get(Product.sku == "NUT").active is False
    index = admin.get("/admin").get_data(as_text=True)
    assert "inactive" in _row(index, "Nut M6 zinc")
    # refused input keeps the product as it was and says why
    resp = admin.post(
        "/admin/products/NUT", {"what": "product", "name": "", "unit": "ea", "active": "on"}
    )
    assert Product.get(Product.sku == "NUT").name == "Nut M6 zinc"
    assert re.search(r'class="flash error"[^>]*>name:', admin.get("/admin/products/NUT").text)


def test_admin_deactivates_and_reactivates_stations_and_scanners(as_role, plant):
    from server.models import Scanner, Station

    admin = as_role("admin")
    index = admin.get("/admin").get_data(as_text=True)
    assert 'name="active" form="st-A1"' in index, "no active box for the station"
    form = {"default_action": "start", "language": "", "dwell_limit_minutes": ""}
    admin.post("/admin/stations/A1", form)
    assert Station.get(Station.code == "A1").active is False
    admin.post("/admin/stations/A1", {**form, "active": "on"})
    assert Station.get(Station.code == "A1").active is True

    assert "/admin/scanners/sc-a1/active" in index, "no (de)activate button for the scanner"
    admin.post("/admin/scanners/sc-a1/active", {"active": "off"})
    assert Scanner.get_by_id("sc-a1").active is False
    index = admin.get("/admin").get_data(as_text=True)
    assert "inactive" in _row(index, "sc-a1")
    admin.post("/admin/scanners/sc-a1/active", {"active": "on"})
    assert Scanner.get_by_id("sc-a1").active is True


def test_admin_empty_routing_is_not_a_numbered_step(as_role, plant):
    html = as_role("admin").get("/admin/products/BRACKET").get_data(as_text=True)
    routing = html[html.index("<h2>Routing</h2>") :]
    assert not re.search(r"<ol>\s*<li[^>]*>\s*None", routing), routing[:400]
    assert "None" in routing[: routing.index("<form")]


def test_demo_stations_page_knows_scanner_status(tmp_path, monkeypatch):
    """`make demo` runs the ingest in its own process as `serve` does: the stations page
    must see the scanners' retained status there too (it showed no dot at all)."""
    import argparse
    import time

    import paho.mqtt.publish as publish

    from server import demo as demo_mod
    from server.web import floor
    from tests.support.broker import start_mosquitto

    broker = start_mosquitto(tmp_path / "mosquitto")
    apps = []
    monkeypatch.setattr(demo_mod.Demo, "_start_http", lambda self: apps.append(self.app))
    monkeypatch.setattr(demo_mod.Demo, "_start_agents", lambda self: None)
    args = argparse.Namespace(db=str(tmp_path / "demo.db"), units=1, port=0, pace=0)
    demo = demo_mod.Demo(args, {"MQTT_URL": broker.url, "MQTT_TOPIC_PREFIX": "koordinator"})
    try:
        demo.start()
        publish.single(
            "koordinator/scanners/sc-a1/status",
            '{"state": "online"}',
            qos=1,
            retain=True,
            hostname=broker.host,
            port=broker.port,
        )
        (app,) = apps
        deadline = time.monotonic() + 5
        states: dict = {}
        while time.monotonic() < deadline and "sc-a1" not in states:
            with app.app_context():
                states = floor.scanner_states()
            time.sleep(0.05)
        assert states.get("sc-a1", {}).get("state") == "online", states
    finally:
        demo.shutdown()
        broker.stop()


def test_stations_page_marks_what_is_deactivated(as_role, plant):
    from server.models import Scanner, Station

    Station.update(active=False).where(Station.code == "A2").execute()
    Scanner.update(active=False).where(Scanner.id == "sc-a1").execute()
    html = as_role("supervisor").get("/stations/live").get_data(as_text=True)
    a2 = re.search(r'data-station="A2">(.*?)</section>', html, re.S).group(1)
    assert "inactive" in a2.split("</h2>")[0]
    a1 = re.search(r'data-station="A1">(.*?)</section>', html, re.S).group(1)
    assert "inactive" in _row(a1, "sc-a1")
    qa = re.search(r'data-station="QA">(.*?)</section>', html, re.S).group(1)
    assert "inactive" not in qa
