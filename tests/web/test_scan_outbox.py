"""The scan page as an edge, in headless Chromium against the server run as its own process
(`python -m server serve`), so the server can really go away and come back: the browser's
outbox keeps every scan through network cuts and server restarts, sends each once and in
order, the service worker loads the page while the server is down, and a session that
ended keeps the outbox until the worker signs in again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.models import LedgerEntry, Station
from tests.web.conftest import PASSWORD, shot, sign_in

ROOT = Path(__file__).resolve().parents[2]
WORDS = {
    "en": {"saved": "Saved, will send", "ok": "Accepted", "banner": "No connection"},
    "id": {"saved": "Tersimpan, akan dikirim", "ok": "Diterima", "banner": "Tidak ada koneksi"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m server serve` on one port, stopped (SIGKILL: a crash, mid-request if it
    happens to be) and started again at will; the same SECRET_KEY keeps sessions valid."""

    def __init__(self, db_url: str, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "SECRET_KEY": "scan-outbox-test-secret-0123456789",
            "KOORDINATOR_ENV": "development",
            "PYTHONPATH": str(ROOT),
        }

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port), "--no-ingest"],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def server(db_url, db, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def tablet(chromium, server):
    """new() -> a page in its own browser context (its own IndexedDB and cookies: a tablet)."""
    contexts = []

    def new(**kw):
        context = chromium.new_context(
            viewport=kw.pop("viewport", {"width": 1280, "height": 800}),
            base_url=server.url,
            locale="en-GB",
            **kw,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield new
    for context in contexts:
        context.close()


def _open(page, username: str, scanner: str) -> None:
    sign_in(page, username)
    page.goto(f"/scan/{scanner}")
    expect(page.locator(".scan")).to_have_attribute("data-sw", "ready")


def _type(page, code: str) -> None:
    page.keyboard.type(code + "\n")  # a wedge scanner: keystrokes, then Enter


def _pending(page):
    return page.locator("#pending")


def _rows(scanner: str) -> list[LedgerEntry]:
    return list(
        LedgerEntry.select()
        .where((LedgerEntry.scanner_id == scanner) & (LedgerEntry.origin == "scan"))
        .order_by(LedgerEntry.id)
    )


#: scans per tablet in the suite: four cuts, each kind (the Wi-Fi, the server process)
#: twice, each with scans typed during it; bench/bench_scan_outbox.py runs the same test as
#: a soak (250 a tablet, 25 cuts) through KOORDINATOR_OUTBOX_SOAK
PER_SCANNER = int(os.environ.get("KOORDINATOR_OUTBOX_SOAK") or 40)
CUT_EVERY, CUT_LEN = 20, 6


@pytest.mark.timeout(900)  # a loaded CI machine: each server start can take seconds
def test_scans_through_network_cuts_land_once_in_order(plant, web_users, server, tablet, api):
    api.post("/api/scanners", {"id": "sc-recv2", "station": "RECV"}, expected=201)
    per_scanner = PER_SCANNER
    codes = {
        "sc-recv": plant.items("NUT", count=per_scanner),
        "sc-recv2": plant.items("NUT", count=per_scanner),
    }
    pages = {}
    for scanner in codes:
        pages[scanner] = tablet()
        _open(pages[scanner], web_users["operator"], scanner)

    cut_every, cut_len, cuts = CUT_EVERY, CUT_LEN, 0
    started = time.monotonic()
    for i in range(2 * per_scanner):
        scanner = "sc-recv" if i % 2 == 0 else "sc-recv2"
        if i % cut_every == 5:  # cut: the Wi-Fi (context offline) or the server process
            cuts += 1
            if cuts % 2:
                for pg in pages.values():
                    pg.context.set_offline(True)
            else:
                server.stop()
        if i % cut_every == 5 + cut_len:
            if cuts % 2:
                for pg in pages.values():
                    pg.context.set_offline(False)
            else:
                server.start()
        _type(pages[scanner], codes[scanner][i // 2])
    assert cuts == (2 * per_scanner - 5 - 1) // cut_every + 1 >= 4  # each kind twice at least
    for pg in pages.values():
        expect(_pending(pg)).to_have_text("0", timeout=90_000)
        expect(pg.locator("#offline")).to_be_hidden()
    elapsed = time.monotonic() - started

    for scanner, typed in codes.items():
        rows = _rows(scanner)
        landed = [r.raw_code for r in rows]
        # every scan once, in the order scanned; a miss names the scans and where they were
        # typed (which cut), so a rare loss can be traced
        assert landed == typed, {
            "missing": [(typed.index(c), c) for c in typed if c not in landed],
            "unexpected": [c for c in landed if c not in typed],
            "cut_every": cut_every,
            "cut_len": cut_len,
        }
        assert {r.status for r in rows} == {"accepted"}
        assert [r.scan_id for r in rows] == sorted(r.scan_id for r in rows)  # time-ordered ids
        assert all(len(r.scan_id) == 32 for r in rows)
    # typing (10 keystrokes a scan over CDP) is most of it; a bound here would fail for a
    # loaded machine, not for the page (the soak's figure: bench/bench_scan_outbox.py)
    print(f"{2 * per_scanner} scans, {cuts} cuts: {elapsed:.1f} s")


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.timeout(180)
def test_page_loads_from_the_service_worker_while_the_server_is_down(
    plant, web_users, server, tablet, lang, db_url
):
    Station.update(language=lang).where(Station.code == "RECV").execute()
    words = WORDS[lang]
    nuts = plant.items("NUT", count=3)
    page = tablet()
    _open(page, web_users["operator"], "sc-recv")
    _type(page, nuts[0])
    expect(page.locator("#answer")).to_contain_text(words["ok"])

    server.stop()
    page.reload()  # no server: the service worker answers with the kept page
    expect(page.locator("#scan-input")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    _type(page, nuts[1])
    expect(page.locator("#answer")).to_contain_text(words["saved"])
    expect(page.locator("#offline")).to_contain_text(words["banner"])
    _type(page, nuts[2])
    expect(_pending(page)).to_have_text("2")
    if lang == "en":
        shot(page, "scan-offline", db_url)
    page.reload()  # the outbox is in IndexedDB: a reload keeps it
    expect(_pending(page)).to_have_text("2")

    server.start()
    expect(_pending(page)).to_have_text("0", timeout=20_000)
    expect(page.locator("#answer")).to_contain_text(words["ok"])
    expect(page.locator("#offline")).to_be_hidden()
    assert [r.raw_code for r in _rows("sc-recv")] == nuts


@pytest.mark.parametrize("lang", ["en", "id"])
def test_an_ended_session_keeps_the_outbox_until_signed_in_again(
    plant, web_users, server, tablet, lang
):
    Station.update(language=lang).where(Station.code == "RECV").execute()
    words = WORDS[lang]
    nuts = plant.items("NUT", count=3)
    page = tablet()
    _open(page, web_users["operator"], "sc-recv")
    page.context.set_offline(True)
    _type(page, nuts[0])
    expect(page.locator("#answer")).to_contain_text(words["saved"])
    _type(page, nuts[1])
    page.context.clear_cookies()  # the session ends while the tablet is offline
    page.context.set_offline(False)
    signin = page.locator("#signin-again")
    expect(signin).to_be_visible(timeout=15_000)
    expect(_pending(page)).to_have_text("2")
    _type(page, nuts[2])  # still scanning: kept, and the answer says to sign in
    expect(_pending(page)).to_have_text("3")
    assert _rows("sc-recv") == []

    page.locator("#signin-link").click()
    page.fill("input[name=username]", web_users["operator"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/scan/sc-recv")
    expect(_pending(page)).to_have_text("0")
    expect(page.locator("#answer")).to_contain_text(words["ok"])
    assert [r.raw_code for r in _rows("sc-recv")] == nuts
