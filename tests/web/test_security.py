"""Security of signing in and of browser sessions (issue #11): sign-in throttling, equal
sign-in times, the sign-in audit, session cookie flags, ending sessions on the server,
CSRF with other `Authorization` headers, no token oracle, the security headers, and a
Content-Security-Policy every page passes in headless Chromium, with hostile names."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time

import pytest
from playwright.sync_api import expect

from server import auth, config, create_app
from server.models import LoginAttempt, LoginThrottle, Product, Station, User, utcnow
from tests.web.conftest import PASSWORD, csrf_of, sign_in

# --- signing in ---------------------------------------------------------------------------


def _client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client, username: str, password: str):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _expire_locks() -> None:
    """As if the locks had run out (the clock moved on)."""
    past = utcnow() - dt.timedelta(seconds=1)
    LoginThrottle.update(locked_until=past).where(
        LoginThrottle.locked_until.is_null(False)
    ).execute()


def test_wrong_passwords_lock_the_name_for_a_while_then_the_right_one_works(app, web_users):
    client = _client_from(app, "10.1.0.1")
    for _ in range(auth.FREE_FAILURES["pair"]):
        assert _login(client, "supervisor1", "wrong-password").status_code == 401
    locked = _login(client, "supervisor1", PASSWORD)  # the right one, during the lock
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    assert client.get("/stock").status_code == 302  # not signed in

    _expire_locks()
    # the next failure doubles the lock: 60 s
    assert _login(client, "supervisor1", "wrong-again").status_code == 401
    again = _login(client, "supervisor1", PASSWORD)
    assert again.status_code == 429 and 30 < int(again.headers["Retry-After"]) <= 60

    _expire_locks()
    assert _login(client, "supervisor1", PASSWORD).status_code == 302
    assert client.get("/stock").status_code == 200
    # a success forgets the name's failures: five more wrong ones before the next lock
    assert not LoginThrottle.select().where(LoginThrottle.key.startswith("pair:")).exists()


def test_a_lock_never_lasts_longer_than_fifteen_minutes(app, web_users):
    client = _client_from(app, "10.1.0.2")
    for _ in range(auth.FREE_FAILURES["pair"]):
        _login(client, "admin1", "wrong-password")
    LoginThrottle.update(failures=10_000).execute()
    _expire_locks()
    _login(client, "admin1", "wrong-password")
    until = max(r.locked_until for r in LoginThrottle.select())
    assert until - utcnow() <= auth.LOCK_MAX


def test_an_unknown_name_is_locked_the_same_way(app, web_users):
    client = _client_from(app, "10.1.0.3")
    answers = [_login(client, "nobody-here", "wrong-password") for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]


def test_one_address_trying_many_names_is_locked_other_addresses_are_not(
    app, web_users, monkeypatch
):
    monkeypatch.setitem(auth.FREE_FAILURES, "addr", 3)  # 20 in production: fewer hashes here
    attacker = _client_from(app, "10.1.0.4")
    for name in ("a-name", "b-name", "c-name"):
        assert _login(attacker, name, "guess-1234").status_code == 401
    assert _login(attacker, "operator1", PASSWORD).status_code == 429
    # the user, elsewhere, is not locked out by the attacker's address
    assert _login(_client_from(app, "10.1.0.5"), "operator1", PASSWORD).status_code == 302
    # and signing in with an own account does not reset the attacker's address
    assert _login(attacker, "operator1", PASSWORD).status_code == 429


def test_sign_in_takes_as_long_for_an_unknown_name(app, web_users):
    User.create(username="badge-only", role="operator", badge="B-9", password_hash=None)

    def median_time(name: str, address: str) -> float:
        client = _client_from(app, address)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert _login(client, name, "wrong-password").status_code == 401
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    real = median_time("operator1", "10.2.0.1")
    unknown = median_time("no-such-user", "10.2.0.2")
    no_password = median_time("badge-only", "10.2.0.3")
    # before: ~415 ms against ~16 ms; the same scrypt work now, noise aside
    assert unknown > real * 0.5, (real, unknown)
    assert no_password > real * 0.5, (real, no_password)


def test_sign_ins_are_audited_and_admins_see_them(app, client, web_users, as_role):
    c = _client_from(app, "10.3.0.1")
    _login(c, "operator1", "wrong-password")
    _login(c, "ghost", "wrong-password")
    _login(c, "operator1", PASSWORD)
    rows = [
        (r.username, r.address, r.result) for r in LoginAttempt.select().order_by(LoginAttempt.id)
    ]
    assert rows == [
        ("operator1", "10.3.0.1", "wrong_password"),
        ("ghost", "10.3.0.1", "unknown_user"),
        ("operator1", "10.3.0.1", "ok"),
    ]
    assert (
        LoginAttempt.get(LoginAttempt.result == "ok").user_id
        == User.get(User.username == "operator1").id
    )
    assert as_role("supervisor").get("/admin/sign-ins").status_code == 403
    assert 'href="/admin/sign-ins"' in as_role("admin").get("/admin").get_data(as_text=True)
    page = as_role("admin").get("/admin/sign-ins?user=ghost")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "10.3.0.1" in html and "Unknown user name" in html
    assert "wrong_password" not in html


def test_odd_names_and_long_passwords_are_plain_failures(app, web_users):
    client = _client_from(app, "10.3.0.2")
    assert _login(client, "admin\x001", PASSWORD).status_code == 401  # PostgreSQL: no NUL
    assert _login(client, "admin1", "x" * 100_000).status_code == 401
    assert [r.result for r in LoginAttempt.select().order_by(LoginAttempt.id)] == [
        "unknown_user",
        "wrong_password",
    ]


def test_the_address_behind_trusted_proxies_only(db_url, web_users):
    forwarded = {"X-Forwarded-For": "192.0.2.9"}
    for proxies, seen in ((0, "10.4.0.1"), (1, "192.0.2.9")):
        app = create_app(
            {"DATABASE_URL": db_url, "SECRET_KEY": "k" * 32, "TRUSTED_PROXIES": proxies}
        )
        client = _client_from(app, "10.4.0.1")
        token = csrf_of(client.get("/login").get_data(as_text=True))
        client.post(
            "/login",
            data={"username": "ghost", "password": "x", "csrf_token": token},
            headers=forwarded,
        )
        assert LoginAttempt.select().order_by(LoginAttempt.id.desc()).get().address == seen


# --- sessions -------------------------------------------------------------------------------


def _session_cookie(resp) -> str:
    (cookie,) = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_session_cookie_is_lax_and_secure_in_production(db_url, monkeypatch):
    prod = config.from_env({"KOORDINATOR_ENV": "production", "SECRET_KEY": "k" * 32})
    assert prod["SESSION_COOKIE_SECURE"] is True
    assert prod["SESSION_COOKIE_SAMESITE"] == "Lax"
    lan = config.from_env(
        {"KOORDINATOR_ENV": "production", "SECRET_KEY": "k" * 32, "SESSION_COOKIE_SECURE": "0"}
    )
    assert lan["SESSION_COOKIE_SECURE"] is False
    with pytest.raises(config.ConfigError):
        config.from_env({"SESSION_COOKIE_SECURE": "maybe"})

    monkeypatch.setenv("KOORDINATOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    app = create_app({"DATABASE_URL": db_url})
    from server.db import create_schema

    create_schema(app.extensions["koordinator.db"])
    cookie = _session_cookie(app.test_client().get("/login"))
    assert "SameSite=Lax" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_session_cookie_is_lax_in_development(client):
    cookie = _session_cookie(client.get("/login"))
    assert "SameSite=Lax" in cookie and "Secure" not in cookie


def _copy_of_session(client) -> str:
    return client.get_cookie("session").value


def test_a_copied_session_cookie_is_dead_after_sign_out(app, client, as_role):
    b = as_role("supervisor")
    stolen = _copy_of_session(client)
    assert b.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/stock").status_code == 302
    assert thief.get("/api/stock").status_code == 401


@pytest.mark.parametrize("change", ["password", "role", "inactive", "version"])
def test_a_new_password_role_or_deactivation_ends_the_session(client, as_role, change):
    as_role("supervisor")
    assert client.get("/schedule").status_code == 200
    user = User.get(User.username == "supervisor1")
    if change == "password":  # by any path: admin page, CLI, API
        User.update(password_hash=auth.hash_password("another-pass-9")).where(
            User.id == user.id
        ).execute()
    elif change == "role":
        User.update(role="operator").where(User.id == user.id).execute()
    elif change == "inactive":
        User.update(active=False).where(User.id == user.id).execute()
    else:
        auth.end_sessions(user)
    resp = client.get("/schedule")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.get("/api/stock").status_code == 401


def test_floor_sessions_end_after_a_shift_office_sessions_later(app, client, as_role):
    floor_hours = app.config["FLOOR_SESSION_HOURS"]
    as_role("supervisor")
    with client.session_transaction() as s:
        s["iat"] -= (floor_hours + 1) * 3600
    assert client.get("/stock").status_code == 200  # a supervisor's lasts SESSION_HOURS
    with client.session_transaction() as s:
        s["iat"] -= app.config["SESSION_HOURS"] * 3600
    assert client.get("/stock").status_code == 302

    as_role("operator")
    assert client.get("/stock").status_code == 200
    with client.session_transaction() as s:
        s["iat"] -= (floor_hours + 1) * 3600
    assert client.get("/stock").status_code == 302


# --- CSRF and tokens ------------------------------------------------------------------------

STATION = {"code": "EVIL", "name": "Evil", "default_action": "move"}


@pytest.mark.parametrize(
    "authorization", ["Basic YWRtaW46eA==", "Token abc", "Bearer", "Bearer kt_not-a-token", ""]
)
def test_a_session_call_without_a_valid_bearer_token_needs_csrf(client, as_role, authorization):
    as_role("admin")
    resp = client.post("/api/stations", json=STATION, headers={"Authorization": authorization})
    assert resp.get_json()["error"] == "csrf_failed", resp.get_json()
    assert Station.get_or_none(Station.code == "EVIL") is None


def test_a_valid_bearer_token_needs_no_csrf(client, as_role, users):
    as_role("operator")  # a session cookie of someone else is present
    _user, token = users["admin"]
    resp = client.post("/api/stations", json=STATION, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201


def test_bad_tokens_all_answer_alike(client, users):
    admin, token = users["admin"]
    revoked = auth.create_token(admin, "old")
    from server.models import ApiToken

    ApiToken.update(revoked=True).where(ApiToken.token_hash == auth._digest(revoked)).execute()
    gone = User.create(username="gone", role="admin")
    gone_token = auth.create_token(gone)
    User.update(active=False).where(User.id == gone.id).execute()
    answers = set()
    for bad in ["kt_" + "A" * 43, revoked, gone_token, token[:-1], token + "x", ""]:
        resp = client.get("/api/stock", headers={"Authorization": f"Bearer {bad}"})
        answers.add((resp.status_code, resp.get_data()))
    assert len(answers) == 1 and next(iter(answers))[0] == 401


# --- headers and the Content-Security-Policy ----------------------------------------------


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_security_headers_on_pages_and_api(client, as_role, api):
    for resp in (client.get("/login"), as_role("admin").get("/stock"), api.get("/api/stock")):
        for name, value in HEADERS.items():
            assert resp.headers.get(name) == value, name
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "style-src 'self'" in csp and "unsafe-inline" not in csp


HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'

# a value for each URL argument of a page; a page with a new argument fails until it has one
ARGS = {
    "sku": "WIDGET",
    "scanner_id": "sc-a1",
    "number": "WO-1",
    "user_id": None,
    "code": None,
    "count_id": 1,  # the test opens count 1 (of LINE) first
}
NOT_PAGES = {"web.static", "web.item_label_svg"}
#: pages that need a query string to be a page (the header's search box)
QUERY = {"web.find": "code"}


def _pages(app, item_code: str, user_id: int) -> list[str]:
    from flask import url_for

    values = {**ARGS, "code": item_code, "user_id": user_id}
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("web.") or "GET" not in rule.methods:
                continue
            if rule.endpoint in NOT_PAGES:
                continue
            missing = rule.arguments - values.keys()
            assert not missing, f"give {rule.rule} a value for {missing} in ARGS"
            query = {QUERY[rule.endpoint]: values["code"]} if rule.endpoint in QUERY else {}
            args = {a: values[a] for a in rule.arguments}
            out.append(url_for(rule.endpoint, **args, **query))
    return sorted(set(out))


def test_every_page_passes_the_csp_and_shows_hostile_names_as_text(
    page, app, history, web_users, live_server
):
    Product.update(name=HOSTILE).where(Product.sku == "WIDGET").execute()
    Station.update(name=HOSTILE).where(Station.code == "A1").execute()
    hostile_user = User.create(username=HOSTILE[:60], role="operator", badge="B-HOSTILE")
    violations, dialogs, errors = [], [], []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto("/login")
    csp = page.evaluate("() => fetch('/login').then(r => r.headers.get('content-security-policy'))")
    assert csp and "script-src 'self'" in csp
    sign_in(page, web_users["admin"])
    history["plant"].api.post(
        "/api/counts", {"locations": ["LINE"], "note": HOSTILE[:200]}, as_="supervisor",
        expected=201,
    )  # fmt: skip
    urls = _pages(app, history["steel"], hostile_user.id)
    assert "/scan/sc-a1" in urls and "/admin/sign-ins" in urls
    for url in urls:
        resp = page.goto(url)
        assert resp.status < 400, (url, resp.status)
        page.wait_for_load_state("load")
    page.goto("/schedule")
    page.wait_for_timeout(1200)  # one live refresh of the board
    bar = page.locator(".done[data-width]").first  # app.js sized it, not a style attribute
    expect(bar).to_have_attribute("style", re.compile(r"width: \d"))
    assert bar.evaluate("e => e.style.width") == f"{float(bar.get_attribute('data-width')):g}%"
    page.goto("/admin/products/WIDGET")
    assert "<script>alert(2)</script>" in page.locator("body").inner_text()
    assert violations == [], violations
    assert dialogs == [] and errors == [], (dialogs, errors)


def test_scan_page_works_under_the_csp(page, history, web_users):
    (widget,) = history["plant"].items("WIDGET")
    violations = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(page, web_users["operator"])
    page.goto("/scan/sc-a1")
    page.locator("#scan-input").fill(widget)
    page.locator("#scan-input").press("Enter")
    expect(page.locator("#answer")).to_contain_text("Accepted")
    assert violations == []


# --- the role matrix with browser sessions ------------------------------------------------


def test_every_operation_checks_the_session_role_and_ended_sessions(app, client, as_role, plant):
    """The role of each operation (docs/api.md "Auth and roles", the same registry
    tests/test_api.py checks with tokens) holds for browser sessions, and a session that
    ended answers 401 everywhere."""
    from server.api import OPERATIONS
    from tests.test_api import concrete

    ranks = ("operator", "supervisor", "admin")
    # the registry's role is the least; importing master data (kind=products here) is admin
    needs = {"POST /import/<kind>": "admin"}
    ops = [o for o in OPERATIONS if o.role in ranks]
    seen = {}
    for role in ranks:
        b = as_role(role)
        for o in ops:
            resp = client.open(
                concrete(o), method=o.method.upper(), json={}, headers={"X-CSRFToken": b.token}
            )
            key = f"{o.method.upper()} {o.rule}"
            allowed = ranks.index(role) >= ranks.index(needs.get(key, o.role))
            assert resp.is_json or resp.status_code == 200, key  # a CSV, a label
            assert (resp.status_code == 403) == (not allowed), (role, key, resp.status_code)
            assert resp.status_code != 401, (role, key)
            resp.close()  # a streamed export ends its request when closed, as a server does
            seen[key] = o.role
    stolen = client.get_cookie("session").value
    b.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    for o in ops:
        resp = thief.open(concrete(o), method=o.method.upper(), json={})
        assert resp.status_code in (400, 401), o.rule  # 400: csrf_failed on a write
        assert resp.get_json()["error"] in ("unauthorized", "csrf_failed")
    assert len(seen) == len(ops)
