"""What a worker does on the scan station page, in headless Chromium, in English and Bahasa
Indonesia: part of a lot scrapped or issued with the quantity keypad and the reason picker,
the header following command labels and a change made elsewhere, rejections that say what
to do next with the product's name, and a page usable at 360 px and on a 10" tablet."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from server.models import Item, LedgerEntry, Scanner, Station, User
from tests.web.conftest import scanning, shot, sign_in

WORDS = {
    "en": {"ok": "Accepted", "bad": "Rejected", "next": "Scan a Koordinator label"},
    "id": {"ok": "Diterima", "bad": "Ditolak", "next": "Pindai label Koordinator"},
}


def test_a_scan_made_while_the_page_loads_is_not_lost(page, plant, web_users, db):
    """A wedge scanner's Enter before scan.js has run submits the form itself (GET
    ?code=): the page scans that code once it runs, and a reload does not scan it again."""
    (nut,) = plant.items("NUT", count=1)
    sign_in(page, web_users["operator"])
    page.goto(f"/scan/sc-recv?code={nut}")
    expect(page.locator("#answer")).to_have_attribute("data-seq", "1")
    expect(page.locator("#answer")).to_contain_text("Accepted")
    assert page.url.endswith("/scan/sc-recv")
    page.reload()
    expect(page.locator("#pending")).to_have_text("0")
    page.wait_for_timeout(300)
    assert page.locator("#answer").get_attribute("data-seq") in (None, "0")
    assert [r.status for r in LedgerEntry.select().where(LedgerEntry.raw_code == nut)] == [
        "accepted"
    ]


#: the page's first look into its outbox (at load, before any scan) answers 0.7 s late
SLOW_FIRST_LOOK = """(() => {
  const openCursor = IDBObjectStore.prototype.openCursor;
  const complete = Object.getOwnPropertyDescriptor(IDBTransaction.prototype, "oncomplete");
  let first = true;
  IDBObjectStore.prototype.openCursor = function (...args) {
    const request = openCursor.apply(this, args);
    if (first) {
      first = false;
      Object.defineProperty(this.transaction, "oncomplete", {
        set(fn) { complete.set.call(this, (ev) => setTimeout(() => fn(ev), 700)); },
      });
    }
    return request;
  };
})();"""


def test_a_scan_while_the_outbox_is_being_read_is_sent(page, plant, web_users):
    """The page reads its outbox when it loads; a scan queued while that read finds it empty
    must still be sent (it waited for the next scan to push it out)."""
    (nut,) = plant.items("NUT", count=1)
    sign_in(page, web_users["operator"])
    page.add_init_script(SLOW_FIRST_LOOK)
    page.goto("/scan/sc-recv")
    page.keyboard.type(nut + "\n")
    expect(page.locator("#answer")).to_contain_text("Accepted")
    expect(page.locator("#pending")).to_have_text("0")


def _keypad(page, digits: str) -> None:
    extra = page.locator("#scan-extra")
    if extra.get_attribute("open") is None:
        extra.locator("summary").click()
    for d in digits:
        page.click(f'#keypad [data-key="{d}"]')


@pytest.mark.parametrize("lang", ["en", "id"])
def test_keypad_and_reason_picker_scrap_part_of_a_lot(page, history, web_users, lang):
    Station.update(language=lang).where(Station.code == "LINE").execute()
    plant = history["plant"]
    (steel,) = plant.items("STEEL", qty=10, lot="L-Q")
    plant.scan("sc-recv", steel, expected=201)
    sign_in(page, web_users["supervisor"])
    page.goto("/scan/sc-line")
    scan = scanning(page)
    scan("CMD-ACT-SCRAP", WORDS[lang]["ok"])
    _keypad(page, "3")
    page.select_option("#scan-reason", "DAMAGED")
    expect(page.locator("#extra-now")).to_contain_text("3")
    scan(steel, WORDS[lang]["ok"])
    expect(page.locator("#scan-qty")).to_have_value("")  # for the one scan only
    expect(page.locator("#scan-reason")).to_have_value("")
    scrapped = Item.get((Item.lot == "L-Q") & (Item.stage == "scrapped"))
    assert Decimal(scrapped.qty) == 3
    assert Decimal(Item.get(Item.code == steel).qty) == 7

    # a reason label sets the picker too
    scan("CMD-WHY-SURFACE", WORDS[lang]["ok"])
    expect(page.locator("#scan-reason")).to_have_value("SURFACE")


@pytest.mark.parametrize("lang", ["en", "id"])
def test_keypad_issues_part_of_a_lot(page, history, web_users, lang):
    Station.update(language=lang).where(Station.code == "LINE").execute()
    plant = history["plant"]
    plant.order("WO-3", "WIDGET", 5)
    (steel,) = plant.items("STEEL", qty=20, lot="L-I")
    plant.scan("sc-recv", steel, expected=201)
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-line")
    scan = scanning(page)
    scan("CMD-ORD-WO-3", WORDS[lang]["ok"])
    expect(page.locator('[data-ctx="order"]')).to_have_text("WO-3")
    _keypad(page, "4")
    scan(steel, WORDS[lang]["ok"])
    issued = Item.get((Item.lot == "L-I") & (Item.stage == "wip"))
    assert Decimal(issued.qty) == 4
    assert Decimal(Item.get(Item.code == steel).qty) == 16


def test_header_follows_commands_and_changes_made_elsewhere(page, history, web_users):
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    scan = scanning(page)
    op = page.locator('[data-ctx="operator"]')
    order = page.locator('[data-ctx="order"]')
    action = page.locator('[data-ctx="action_text"]')
    expect(page.locator('[data-ctx="location"]')).to_contain_text("A1")
    scan("CMD-OP-B-OPERATOR", "operator1")
    expect(op).to_have_text("operator1")
    scan("CMD-ORD-WO-1")
    expect(order).to_have_text("WO-1")
    scan("CMD-ACT-MOVE")
    expect(action).to_contain_text("Move")
    scan("CMD-DONE")
    expect(order).to_have_text("–")
    expect(action).to_contain_text("Start")
    # the same badge again answers what happened; signing out has its own button
    page.click("#scan-signout")
    expect(page.locator("#answer")).to_contain_text("Signed out: operator1")
    expect(op).to_have_text("–")
    # a supervisor (or another scanner's badge) changes this scanner: shown without reload
    supervisor = User.get(User.username == web_users["supervisor"])
    Scanner.update(operator=supervisor.id, action="scrap").where(Scanner.id == "sc-a1").execute()
    expect(op).to_have_text(web_users["supervisor"], timeout=8_000)
    expect(action).to_contain_text("Scrap")


@pytest.mark.parametrize("lang", ["en", "id"])
def test_rejections_say_what_to_do_next_with_the_product(page, history, web_users, lang):
    Station.update(language=lang).where(Station.code << ["SHIP", "A1"]).execute()
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    scan = scanning(page)
    scan("NOT-A-LABEL", WORDS[lang]["bad"], WORDS[lang]["next"])
    page.goto("/scan/sc-ship")
    scan = scanning(page)
    scan(history["widgets"][1], WORDS[lang]["bad"])
    expect(page.locator("#answer")).to_contain_text("Widget")  # the product's name
    expect(page.locator("#answer")).to_contain_text(
        "move it to its next station" if lang == "en" else "pindahkan ke stasiun berikutnya"
    )


@pytest.mark.parametrize(
    "viewport",
    [
        {"width": 360, "height": 740},  # a phone
        {"width": 800, "height": 1280},  # a 10" tablet, portrait
        {"width": 1280, "height": 800},  # the same, landscape
    ],
    ids=["phone", "tablet-portrait", "tablet-landscape"],
)
def test_big_targets_and_no_sideways_scroll(page, history, web_users, viewport, db_url):
    page.set_viewport_size(viewport)
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    scan = scanning(page)
    scan("CMD-OP-B-OPERATOR")
    page.locator("#scan-extra summary").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], (width, viewport)
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              '.scan button, .scan input, .scan select, .scan summary, .scan a'))
            .filter(el => el.offsetParent !== null)
            .map(el => [el.id || el.textContent.trim(), el.getBoundingClientRect()])
            .filter(([_, r]) => r.width < 44 || r.height < 44)
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    assert small == [], small
    shot(page, f"scan-{viewport['width']}x{viewport['height']}", db_url)


def test_a_camera_read_goes_through_the_outbox_with_its_source(page, history, web_users):
    """The camera module's contract: a `kz:scan` event on the scan root is a scan."""
    from server.models import LedgerEntry

    (nut,) = history["plant"].items("NUT")
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-recv")
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.method == "POST" else None)
    page.evaluate(
        """code => document.querySelector('.scan[data-scanner]').dispatchEvent(
              new CustomEvent('kz:scan', {detail: {code: code, source: 'camera'}}))""",
        nut,
    )
    expect(page.locator("#answer")).to_contain_text("Accepted")
    expect(page.locator("#pending")).to_have_text("0")
    assert [b["source"] for b in sent if b and b.get("code") == nut] == ["camera"]
    assert LedgerEntry.get(LedgerEntry.raw_code == nut).status == "accepted"
