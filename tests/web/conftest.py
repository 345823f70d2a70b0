"""Fixtures of the page tests: users with passwords, a signed-in test client, a plant with
some history, and - for the browser tests - the app under a real WSGI server on a free
port with headless system Chromium (Playwright)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from server.auth import hash_password
from server.models import User
from tests.conftest import GTIN_BOLT

# An answer can take several seconds on a loaded 2-core machine: a page assertion waits
# up to 15 s (it returns as soon as it holds), not playwright's default 5 s.
expect.set_options(timeout=15_000)

PASSWORD = "correct-horse-7"
# Screenshots are always taken (a page that cannot render fails the test) but written to
# docs/img/pages only by `make screenshots`, so a test run leaves the work tree clean.
SHOTS = Path(
    os.environ.get("KOORDINATOR_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"koordinator-shots-{os.getpid()}"
)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def web_users(users):
    """operator1, supervisor1, admin1 with PASSWORD."""
    for user, _token in users.values():
        User.update(password_hash=hash_password(PASSWORD)).where(User.id == user.id).execute()
    return {role: user.username for role, (user, _t) in users.items()}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


class Browser:
    """A test client signed in through the login form, with the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = ""

    def login(self, username: str, password: str = PASSWORD):
        page = self.client.get("/login")
        self.token = csrf_of(page.get_data(as_text=True))
        resp = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.token}
        )
        if resp.status_code == 302:  # a fresh session gets a fresh token
            self.token = csrf_of(self.client.get("/login").get_data(as_text=True))
        return resp

    def post(self, path, data=None, **kw):
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kw)

    def get(self, path, **kw):
        return self.client.get(path, **kw)


@pytest.fixture
def as_role(client, web_users):
    """as_role("supervisor") -> a Browser signed in as that role."""

    def sign_in(role: str) -> Browser:
        b = Browser(client)
        resp = b.login(web_users[role])
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return b

    return sign_in


@pytest.fixture
def history(plant):
    """Some stock, an order in progress, an accepted and a rejected scan of each kind."""
    (steel,) = plant.items("STEEL", qty=100, lot="L-1")
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-7\x1d3750", expected=201)
    (gloves,) = plant.items("GLOVES", qty=3, lot="G-1")
    plant.scan("sc-recv", gloves, expected=201)
    plant.order("WO-1", "WIDGET", 4)
    plant.order("WO-2", "WIDGET", 10, release=False)
    plant.scan("sc-line", steel, qty=8, expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-7", qty=16, expected=201)
    widgets = plant.items("WIDGET", count=3)
    for w in widgets:
        plant.scan("sc-a1", w, expected=201)
    plant.scan("sc-a2", widgets[0], expected=201)
    plant.scan("sc-qa", widgets[0], expected=201)
    plant.scan("sc-end", widgets[0], expected=201)
    plant.scan("sc-ship", widgets[1], expected=422)  # wip cannot ship: illegal_transition
    plant.scan("sc-a1", "NOT-A-LABEL", expected=422)
    return {"steel": steel, "gloves": gloves, "widgets": widgets, "plant": plant}


# --- a real server and a real browser ------------------------------------------------------


class LiveServer:
    """The app on a free port, one thread a request. Leaving waits (up to 10 s) for the
    requests still being answered: a page's late fetch (its service worker, a refresh)
    could otherwise still be reading the database when the test's teardown closes it, and
    SQLite's C library does not survive a connection closed under a running query (a
    segfault of the whole run)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.answering: set[threading.Thread] = set()
        self.lock = threading.Lock()
        handle = self.server.process_request_thread

        def tracked(request, client_address):
            me = threading.current_thread()
            with self.lock:
                self.answering.add(me)
            try:
                handle(request, client_address)
            finally:
                with self.lock:
                    self.answering.discard(me)

        self.server.process_request_thread = tracked

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)
        end = time.monotonic() + 10
        with self.lock:
            answering = list(self.answering)
        for request in answering:
            request.join(max(0.0, end - time.monotonic()))
        self.server.server_close()


@pytest.fixture
def live_server(app, db):
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def chromium():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():  # the form's answer, not the login page already there
        page.click("button[type=submit]")


def scan_on_page(page, code: str, *expected: str) -> None:
    """Type `code` into the scan page as a wedge scanner does and wait for *its* answer (the
    one before may say the same words), which must contain each expected text."""
    answer = page.locator("#answer")
    seq = int(answer.get_attribute("data-seq") or 0)
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(answer).to_have_attribute("data-seq", str(seq + 1))
    for text in expected:
        expect(answer).to_contain_text(text)


def scanning(page):
    """scan(code, *expected): `scan_on_page` on this page."""
    return functools.partial(scan_on_page, page)


def shot(page, name: str, db_url: str, *, full_page: bool = True) -> None:
    """<SHOTS>/<name>.png, from the SQLite run (one set of pictures is enough)."""
    if not db_url.startswith("sqlite"):
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
