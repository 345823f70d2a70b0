"""The scan page reads labels with the camera (issue #13): headless Chromium with a fake
camera that plays a Y4M video of labels the project renders (`labels/`), one test per
symbology, in English and Bahasa Indonesia, asserting the scan that reached the ledger and
the answer the worker sees; the de-bounce (a label held in view scans once); and the
message when the camera cannot be used.

Headless Chromium on Linux has no BarcodeDetector, so these tests run the zxing-wasm
decoder the page ships (they assert it is the one that read the label)."""

from __future__ import annotations

import io
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from labels import Label, render_png
from server.models import LedgerEntry, Station
from tests.conftest import GTIN_BOLT
from tests.web.conftest import CHROMIUM_ARGS, shot, sign_in

FPS = 10
FRAME = (800, 600)


# --- a fake camera: Y4M video from rendered labels ----------------------------------------


def label_frame(label: Label | None, size: tuple[int, int] = FRAME) -> Image.Image:
    """A camera picture: a grey bench with the label on it (None: the bench alone)."""
    frame = Image.new("RGB", size, (150, 150, 146))
    if label is None:
        return frame
    img = Image.open(io.BytesIO(render_png(label, dpi=150))).convert("RGB")
    scale = min(size[0] * 0.9 / img.width, size[1] * 0.8 / img.height, 2.0)
    if scale < 1 or scale >= 1.5:
        img = img.resize((int(img.width * scale), int(img.height * scale)), Image.NEAREST)
    frame.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
    return frame


def write_y4m(path: Path, frames: list[Image.Image], fps: int = FPS) -> Path:
    """YUV4MPEG2 with 4:2:0 full-range (JPEG) chroma: a header line, then per frame
    `FRAME\\n` and the Y, U and V planes (U and V at half width and height)."""
    width, height = frames[0].size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, u, v = frame.convert("YCbCr").split()
            half = (width // 2, height // 2)
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(u.resize(half, Image.BILINEAR).tobytes())
            out.write(v.resize(half, Image.BILINEAR).tobytes())
    return path


def video(tmp_path: Path, label: Label, *, held_s: float = 1, gone_s: float = 0) -> Path:
    """A video that shows the label for held_s, then the empty bench for gone_s; the fake
    camera plays it in a loop."""
    shown, empty = label_frame(label), label_frame(None)
    frames = [shown] * max(1, int(held_s * FPS)) + [empty] * int(gone_s * FPS)
    return write_y4m(tmp_path / "camera.y4m", frames)


@contextmanager
def camera_page(
    chromium,
    live_server,
    video_file: Path,
    *,
    base_url: str | None = None,
    args: tuple[str, ...] = (),
):
    """A page in a Chromium whose camera plays video_file (a browser of its own: the
    fake device is a launch argument)."""
    browser = chromium.browser_type.launch(
        executable_path=chromium_path(),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video_file}",
            *args,
        ],
    )
    try:
        context = browser.new_context(
            viewport={"width": 412, "height": 915},  # a phone
            base_url=base_url or live_server.url,
            locale="en-GB",
        )
        context.set_default_timeout(20_000)
        page = context.new_page()
        violations, elsewhere = [], []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on(
            "request",
            lambda r: (
                elsewhere.append(r.url)
                if not r.url.startswith((base_url or live_server.url, "data:", "blob:"))
                else None
            ),
        )
        yield page
        assert elsewhere == [], f"the page fetched from elsewhere: {elsewhere}"
        assert violations == [], violations
    finally:
        browser.close()


def chromium_path() -> str:
    from tests.web.conftest import CHROMIUM

    return CHROMIUM


def start_camera(page, scanner: str) -> None:
    page.goto(f"/scan/{scanner}")
    page.click(".camera-toggle")
    expect(page.locator("#camera")).to_have_attribute("data-state", "on")
    expect(page.locator("#camera video")).to_be_visible()


def ledger_rows(scanner: str, code: str) -> list[LedgerEntry]:
    return list(
        LedgerEntry.select()
        .where((LedgerEntry.scanner_id == scanner) & (LedgerEntry.raw_code == code))
        .order_by(LedgerEntry.id)
    )


def wait_for_rows(scanner: str, code: str, n: int, within_s: float = 15) -> list[LedgerEntry]:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        rows = ledger_rows(scanner, code)
        if len(rows) >= n:
            return rows
        time.sleep(0.2)
    return ledger_rows(scanner, code)


def read_by_camera(chromium, live_server, tmp_path, web_users, *, scanner, label, lang):
    """Hold `label` in front of the camera at `scanner`; returns the page (still open)."""
    if lang == "id":
        station = scanner.removeprefix("sc-").upper()
        Station.update(language="id").where(Station.code == station).execute()
    return camera_page(chromium, live_server, video(tmp_path, label))


# the answer on the page, per language: (status, words of the message)
ACCEPTED = {"en": "Accepted", "id": "Diterima"}
STARTED = {"en": "Start", "id": "Dimulai"}
LANGS = ["en", "id"]


def _scan_once(page, web_users, scanner: str, code_sent: str) -> LedgerEntry:
    sign_in(page, web_users["operator"])
    start_camera(page, scanner)
    answer = page.locator("#answer")
    expect(answer).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#camera")).to_have_attribute("data-decoder", "zxing")
    (row,) = wait_for_rows(scanner, code_sent, 1)
    return row


@pytest.mark.parametrize("lang", LANGS)
def test_a_phone_receives_a_gs1_128_supplier_label_through_the_camera(
    chromium, live_server, tmp_path, plant, web_users, db_url, lang
):
    """The done-when: a GS1-128 supplier label (GTIN, expiry, lot, count) read by the
    phone's camera at the receiving dock receives the lot of bolts."""
    label = Label(f"(01){GTIN_BOLT}(17)271231(10)LOT42(37)50", "gs1-128")
    sent = f"]C101{GTIN_BOLT}17271231" + "10LOT42\x1d3750"  # FNC1 after the lot as GS
    with read_by_camera(
        chromium, live_server, tmp_path, web_users, scanner="sc-recv", label=label, lang=lang
    ) as page:
        row = _scan_once(page, web_users, "sc-recv", sent)
        assert (row.status, row.action, row.code_kind) == ("accepted", "receive", "gs1")
        assert row.item.product.sku == "BOLT" and row.item.lot == "LOT42"
        assert row.item.qty == 50 and str(row.item.expiry) == "2027-12-31"
        answer = page.locator("#answer")
        expect(answer).to_contain_text(ACCEPTED[lang])
        expect(answer).to_contain_text("Diterima masuk" if lang == "id" else "Receive")
        expect(answer).to_contain_text("Bolt M6")
        expect(page.locator("#recent li").first).to_have_class("accepted")
        if lang == "en":
            shot(page, "scan-camera", db_url)
        page.wait_for_timeout(2000)  # still in view: not received twice
        assert len(ledger_rows("sc-recv", sent)) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_camera_reads_a_code_128_item_label(
    chromium, live_server, tmp_path, plant, web_users, lang
):
    plant.order("WO-1", "WIDGET", 4)  # a widget starts on a released order
    (widget,) = plant.items("WIDGET")
    label = Label(widget, title="Widget", stage="Assembly")
    with read_by_camera(
        chromium, live_server, tmp_path, web_users, scanner="sc-a1", label=label, lang=lang
    ) as page:
        row = _scan_once(page, web_users, "sc-a1", widget)
        assert (row.status, row.action, row.to_stage) == ("accepted", "start", "wip")
        expect(page.locator("#answer")).to_contain_text(ACCEPTED[lang])
        expect(page.locator("#answer")).to_contain_text(STARTED[lang])
        expect(page.locator("#answer")).to_contain_text(STARTED[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_camera_reads_a_qr_badge(chromium, live_server, tmp_path, plant, web_users, lang):
    """A badge printed as a QR code signs the operator in at the station."""
    label = Label("CMD-OP-B-OPERATOR", "qr", title="Operator badge")
    with read_by_camera(
        chromium, live_server, tmp_path, web_users, scanner="sc-a1", label=label, lang=lang
    ) as page:
        row = _scan_once(page, web_users, "sc-a1", "CMD-OP-B-OPERATOR")
        assert (row.status, row.code_kind) == ("accepted", "command")
        assert row.operator.username == web_users["operator"]
        signed_in = "Masuk" if lang == "id" else "Signed in"
        expect(page.locator("#answer")).to_contain_text(signed_in)
        expect(page.locator("#answer")).to_contain_text(web_users["operator"])
        expect(page.locator("#scan-ctx")).to_contain_text(web_users["operator"])


@pytest.mark.parametrize("lang", LANGS)
def test_camera_reads_a_data_matrix_item_label(
    chromium, live_server, tmp_path, plant, web_users, lang
):
    plant.order("WO-1", "WIDGET", 4)  # a widget starts on a released order
    (widget,) = plant.items("WIDGET")
    label = Label(widget, "datamatrix", title="Widget")
    with read_by_camera(
        chromium, live_server, tmp_path, web_users, scanner="sc-a1", label=label, lang=lang
    ) as page:
        row = _scan_once(page, web_users, "sc-a1", widget)
        assert (row.status, row.action, row.to_stage) == ("accepted", "start", "wip")
        expect(page.locator("#answer")).to_contain_text(ACCEPTED[lang])
        expect(page.locator("#answer")).to_contain_text(STARTED[lang])


def test_a_label_held_in_view_scans_once_and_again_after_it_was_taken_away(
    chromium, live_server, tmp_path, plant, web_users
):
    """The video: the label for 12 s, the empty bench for 3 s, in a loop. While it is held
    (read some 60 times) one ledger row; taken away and shown again, a second one."""
    plant.order("WO-1", "WIDGET", 4)  # a widget starts on a released order
    (widget,) = plant.items("WIDGET")
    clip = video(tmp_path, Label(widget), held_s=12, gone_s=3)
    with camera_page(chromium, live_server, clip) as page:
        sign_in(page, web_users["operator"])
        start_camera(page, "sc-a1")
        expect(page.locator("#answer")).to_have_class(re.compile(r"\bok\b"))
        first = time.monotonic()
        assert len(wait_for_rows("sc-a1", widget, 1)) == 1
        page.wait_for_timeout(9000)  # held in view, read many times over
        if time.monotonic() - first < 10.5:  # still inside the first showing
            assert len(ledger_rows("sc-a1", widget)) == 1
        rows = wait_for_rows("sc-a1", widget, 2, within_s=30)
        assert len(rows) == 2  # taken away, shown again: scanned again
        # the second is refused (already in work) and the page says so
        assert rows[1].status == "rejected" and rows[1].reason == "illegal_transition"
        expect(page.locator("#answer")).to_have_class(re.compile(r"\bbad\b"))


def test_the_debounce_rules(page, live_server, web_users, plant):
    """Debounce alone, in the browser: the same text within a showing is dropped, it comes
    back after 1.5 s and 3 pictures out of view (one slow picture without it is no
    leaving); held in view it is never sent again (the page's rule), or
    after repeatMs if one is given; other texts pass."""
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    script = """repeat => {
          const d = new KoordinatorCamera.Debounce(1500, repeat), out = [];
          const at = (t, texts) => out.push([t, d.frame(texts, t)]);
          at(0, ["A"]); at(200, ["A", "B"]); at(1000, ["A"]); at(1400, []);
          at(2000, ["A"]);                 // seen 1000 ms ago: still the same showing
          at(2600, []); at(3200, []); at(3600, []); at(3700, ["A"]);  // gone: a new showing
          at(5800, []); at(5900, ["A"]);   // one slow picture without it: not gone
          for (let t = 6000; t <= 11700; t += 100) at(t, ["A"]);  // held for 8 s
          return out.filter(([, s]) => s.length).map(([t, s]) => [t, s]);
        }"""
    page_rule = [[0, ["A"]], [200, ["B"]], [3700, ["A"]]]
    assert page.evaluate(script, 0) == page_rule
    assert page.evaluate(script, 8000) == [*page_rule, [11700, ["A"]]]


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "No camera on this device"), ("id", "Tidak ada kamera di perangkat ini")],
)
def test_no_camera_says_so_in_the_workers_language(
    page, live_server, web_users, plant, lang, words
):
    """The test browser has no camera: the page says what to do instead, no scan is sent."""
    if lang == "id":
        Station.update(language="id").where(Station.code == "A1").execute()
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    page.click(".camera-toggle")
    message = page.locator("#camera .camera-message")
    expect(message).to_contain_text(words)
    expect(message).to_be_visible()
    expect(page.locator("#camera")).to_have_attribute("data-state", "unavailable")
    expect(page.locator("#camera .camera-view")).to_be_hidden()
    assert not LedgerEntry.select().where(LedgerEntry.scanner_id == "sc-a1").exists()


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "The camera needs this page over HTTPS"), ("id", "Kamera memerlukan halaman ini")],
)
def test_over_plain_http_on_the_lan_the_page_says_the_camera_needs_https(
    chromium, live_server, tmp_path, web_users, plant, lang, words
):
    """http://<a name on the LAN> is no secure context: no camera, and the page says why
    (the same server as 127.0.0.1, reached by another name)."""
    if lang == "id":
        Station.update(language="id").where(Station.code == "A1").execute()
    port = live_server.url.rsplit(":", 1)[1]
    lan = f"http://koordinator.plant.test:{port}"
    with camera_page(
        chromium,
        live_server,
        video(tmp_path, Label("K7M2QX4R9")),
        base_url=lan,
        args=("--host-resolver-rules=MAP koordinator.plant.test 127.0.0.1",),
    ) as page:
        sign_in(page, web_users["operator"])
        page.goto("/scan/sc-a1")
        assert page.evaluate("window.isSecureContext") is False
        message = page.locator("#camera .camera-message")
        expect(message).to_contain_text(words)  # said before the button is pressed
        page.click(".camera-toggle")
        expect(message).to_contain_text(words)
        expect(page.locator("#camera")).to_have_attribute("data-state", "insecure")
        expect(page.locator("#camera .camera-view")).to_be_hidden()
    assert not LedgerEntry.select().where(LedgerEntry.scanner_id == "sc-a1").exists()


def test_only_the_scan_page_may_compile_webassembly(as_role, plant):
    """'wasm-unsafe-eval' (the camera decoder) on the scan page, nowhere else; no eval."""
    browser = as_role("operator")
    scan = browser.get("/scan/sc-a1").headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in scan
    assert "'unsafe-eval'" not in scan and "unsafe-inline" not in scan
    for path in ("/scan", "/stock", "/login"):
        csp = browser.get(path).headers["Content-Security-Policy"]
        assert "wasm" not in csp and "script-src 'self';" in csp, path


# A stand-in for the platform's BarcodeDetector (Chrome on Android, Safari on macOS), which
# headless Chromium lacks: it "sees" the texts of window.__labels in every picture.
FAKE_DETECTOR = """
window.BarcodeDetector = class {
  constructor(options) { window.__formats = options.formats; }
  static getSupportedFormats() {
    return Promise.resolve(["code_128", "qr_code", "data_matrix", "ean_13"]);
  }
  detect(video) {
    if (!(video instanceof HTMLVideoElement)) return Promise.reject(new TypeError("video"));
    return Promise.resolve(window.__labels || []);
  }
};
"""


def test_where_the_browser_has_barcodedetector_it_is_used_and_gs1_is_announced(
    chromium, live_server, tmp_path, plant, web_users
):
    """The platform's decoder gives GS1-128 text without its ]C1 (with or without a GS):
    the page announces it as GS1, and the lots are received."""
    with camera_page(chromium, live_server, video(tmp_path, Label("K7M2QX4R9"))) as page:
        page.add_init_script(FAKE_DETECTOR)
        sign_in(page, web_users["operator"])
        start_camera(page, "sc-recv")
        expect(page.locator("#camera")).to_have_attribute("data-decoder", "native")
        assert page.evaluate("window.__formats") == ["code_128", "qr_code", "data_matrix"]
        with_gs = f"01{GTIN_BOLT}10LOT-A\x1d3750"
        page.evaluate("t => { window.__labels = [{format: 'code_128', rawValue: t}] }", with_gs)
        (row,) = wait_for_rows("sc-recv", "]C1" + with_gs, 1)
        assert (row.status, row.item.lot, row.item.qty) == ("accepted", "LOT-A", 50)
        expect(page.locator("#answer")).to_contain_text("Receive: Bolt M6")
        one_field = f"01{GTIN_BOLT}10LOT-B"  # no GS in it: known by the GTIN element
        page.evaluate("t => { window.__labels = [{format: 'code_128', rawValue: t}] }", one_field)
        (row,) = wait_for_rows("sc-recv", "]C1" + one_field, 1)
        assert (row.status, row.item.lot) == ("accepted", "LOT-B")
        # the other cases of the rule, in the same page
        cases = {
            ("code_128", "K7M2QX4R9"): "K7M2QX4R9",  # an item label stays as it is
            ("qr_code", "CMD-OP-B-1"): "CMD-OP-B-1",
            ("data_matrix", f"01{GTIN_BOLT}21SN1"): f"]d201{GTIN_BOLT}21SN1",
            ("qr_code", f"01{GTIN_BOLT}10L1\x1d3710"): f"]Q301{GTIN_BOLT}10L1\x1d3710",
            ("code_128", f"\x1d01{GTIN_BOLT}"): f"]C101{GTIN_BOLT}",  # a leading FNC1
            ("code_128", f"]C101{GTIN_BOLT}"): f"]C101{GTIN_BOLT}",  # announced already
            ("ean_13", "9506000134352"): "9506000134352",  # not read, not changed
        }
        got = {
            case: page.evaluate("([f, t]) => KoordinatorCamera.gs1Text(f, t)", list(case))
            for case in cases
        }
        assert got == cases
