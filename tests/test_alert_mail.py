"""E-mail alerts through the dispatcher's `alerts` sink against a real SMTP server
(aiosmtpd on a free port): a supervisor subscribed to "late" gets one e-mail when an order
goes late; a storm of 50 events is one mail per subscriber, each in the user's language;
alerts stay unread for the pages."""

from __future__ import annotations

import datetime as dt
import email
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from server.core import alerts
from server.dispatch import Dispatcher, DispatchSettings
from server.models import Alert, Sink, User, utcnow
from tests import test_site_limits
from tests.ingest.test_site_bridge import SCANNER
from tests.support.broker import free_port

#: MAIN and SURABAYA with their things, the supervisor limited to SURABAYA (a fixture)
two_sites = test_site_limits.two_sites


class Inbox:
    def __init__(self) -> None:
        self.mails: list[email.message.Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.mails.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def got(self) -> list:
        with self.lock:
            return list(self.mails)


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _settings(controller, batch_s: float) -> DispatchSettings:
    return DispatchSettings(
        poll_s=0.02,
        flag_min_interval_s=0.05,
        timeout_s=5,
        alert_batch_s=batch_s,
        smtp={
            "host": controller.hostname,
            "port": controller.port,
            "security": "none",
            "user": None,
            "password": None,
            "from": "koordinator@plant.example",
        },
    )


def _run(dispatcher: Dispatcher, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        dispatcher.run_once()
        time.sleep(0.02)


def _until(dispatcher: Dispatcher, check, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "no mail in time"
        dispatcher.run_once()
        time.sleep(0.02)


def _supervisor(users, role="supervisor", lang="en") -> User:
    user = users[role][0]
    User.update(email=f"{role}@plant.example", language=lang).where(User.id == user.id).execute()
    return User.get_by_id(user.id)


def test_a_supervisor_subscribed_to_late_gets_one_mail_when_an_order_goes_late(
    plant, db, users, smtp
):
    controller, inbox = smtp
    boss = _supervisor(users)
    alerts.subscribe(boss, ["late"], now=utcnow())
    assert Sink.get(Sink.kind == "alerts").types == alerts.EVENT_TYPES
    dispatcher = Dispatcher(db, _settings(controller, batch_s=0.3))
    _run(dispatcher, 0.3)  # the flags as they stand now: none late
    assert inbox.got() == []

    yesterday = dt.date.today() - dt.timedelta(days=1)
    plant.order("WO-LATE", "WIDGET", 1, due=yesterday)
    _until(dispatcher, lambda: inbox.got())
    _run(dispatcher, 1.0)  # and no second mail for the same flag
    (mail,) = inbox.got()
    assert mail["To"] == "supervisor@plant.example"
    assert mail["From"] == "koordinator@plant.example"
    assert mail["Subject"] == "Koordinator: 1 alert(s)"
    assert "Order late: WO-LATE" in mail.get_payload()
    (alert,) = Alert.select()
    assert (alert.kind, alert.mailed_at is not None, alert.read_at) == ("late", True, None)
    dispatcher.close()


def test_a_storm_of_50_events_is_one_mail_in_each_users_language(plant, db, users, smtp):
    controller, inbox = smtp
    alerts.subscribe(_supervisor(users), ["scan.rejected"], now=utcnow())
    alerts.subscribe(_supervisor(users, "admin", "id"), ["scan.rejected"], now=utcnow())
    # a subscriber without an address: alerted on the pages, never mailed
    alerts.subscribe(users["operator"][0], ["scan.rejected"], now=utcnow())
    settings = _settings(controller, batch_s=8.0)
    settings.flags = False
    dispatcher = Dispatcher(db, settings)
    started = time.monotonic()
    for _ in range(50):
        plant.scan("sc-recv", "nonsense", expected=422)
        dispatcher.run_once()  # the alerts are recorded as the storm goes on
    # the storm fits in one batch window (a loaded machine is slow: then the test says so)
    assert time.monotonic() - started < 8.0
    assert inbox.got() == []
    _until(dispatcher, lambda: len(inbox.got()) >= 2, timeout=20)
    _run(dispatcher, 1.0)
    mails = {m["To"]: m for m in inbox.got()}
    assert len(inbox.got()) == 2 and set(mails) == {
        "supervisor@plant.example",
        "admin@plant.example",
    }
    en, id_ = mails["supervisor@plant.example"], mails["admin@plant.example"]
    assert en["Subject"] == "Koordinator: 50 alert(s)"
    assert en.get_payload().count("Scan rejected: sc-recv") == 50
    assert id_["Subject"] == "Koordinator: 50 peringatan"
    assert id_.get_payload().count("Pindaian ditolak: sc-recv") == 50
    assert "50 peringatan sejak" in id_.get_payload()
    assert Alert.select().where(Alert.user == users["operator"][0].id).count() == 50
    assert alerts.unread_count(users["operator"][0].id) == 50
    dispatcher.close()


def test_an_unknown_kind_is_refused(db, users):
    with pytest.raises(ValueError, match="unknown alert kind"):
        alerts.subscribe(users["supervisor"][0], ["lunch"], now=utcnow())


def test_a_supervisor_subscribes_and_reads_alerts_over_the_api(plant, api, db, users):
    out = api.put(
        "/api/alerts/subscription",
        {"kinds": ["late", "scan.rejected"], "address": "sup@plant.example"},
        as_="supervisor",
        expected=200,
    ).get_json()
    assert (out["kinds"], out["email"], out["address"]) == (
        ["late", "scan.rejected"],
        True,
        "sup@plant.example",
    )
    assert "item.held" in out["available"]
    api.put("/api/alerts/subscription", {"kinds": ["lunch"]}, as_="supervisor", expected=400)
    api.put("/api/alerts/subscription", {"kinds": ["late"]}, as_="operator", expected=403)
    settings = DispatchSettings(poll_s=0.02, flags=False)
    dispatcher = Dispatcher(db, settings)
    for _ in range(3):
        plant.scan("sc-recv", "nonsense", expected=422)
    dispatcher.run_once()
    got = api.get("/api/alerts", as_="supervisor", expected=200).get_json()
    assert got["unread"] == 3 and got["alerts"][0]["text"] == "Scan rejected: sc-recv"
    assert api.get("/api/alerts", as_="admin").get_json()["unread"] == 0  # each their own
    newest = got["alerts"][0]["id"]
    api.post("/api/alerts/read", {"up_to": newest - 1}, as_="supervisor", expected=200)
    assert api.get("/api/alerts", as_="supervisor").get_json()["unread"] == 1
    assert api.post("/api/alerts/read", {}, as_="supervisor").get_json() == {"marked": 1}
    assert api.get("/api/alerts", as_="supervisor").get_json()["unread"] == 0


def test_the_mail_words_are_the_pages_words():
    """The dispatcher mails without Flask, with alerts.WORDS; the pages translate the same
    kinds through the catalogue: both must say the same in each language."""
    from babel.messages.pofile import read_po

    from server.web import i18n
    from server.web.alertpages import KIND_TEXT

    assert set(KIND_TEXT) == set(alerts.KINDS)
    with (i18n.TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="id")
    for kind, english in alerts.WORDS["en"].items():
        assert KIND_TEXT[kind]._args[0] == english
        assert catalog.get(english).string == alerts.WORDS["id"][kind], kind


def test_two_dispatchers_on_postgres_mail_an_alert_once(plant, db, users):
    """Two dispatchers (each sink's thread on its own connection) tick the alerts sink:
    the one holding the sink's row lock mails, the other skips it; a slow mail server
    (0.5 s a mail) let both read the same unmailed alerts and mail them twice."""
    import asyncio

    import peewee as pw

    if not isinstance(db, pw.PostgresqlDatabase):
        pytest.skip("several dispatchers: PostgreSQL (SQLite runs one dispatcher)")

    class SlowInbox(Inbox):
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.5)
            return await super().handle_DATA(server, session, envelope)

    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        alerts.subscribe(_supervisor(users), ["scan.rejected"], now=utcnow())
        quiet = DispatchSettings(poll_s=0.02, flags=False)
        plant.scan("sc-recv", "nonsense", expected=422)
        recorder = Dispatcher(db, quiet)  # records the alert, mails nothing (no SMTP)
        assert recorder.run_once() >= 1
        recorder.close()
        assert Alert.select().where(Alert.mailed_at.is_null()).count() == 1
        time.sleep(0.3)  # the alert is due
        settings = _settings(controller, batch_s=0.2)
        settings.flags = False
        pair = [Dispatcher(db, settings).start() for _ in range(2)]
        try:
            time.sleep(3.0)
        finally:
            for dispatcher in pair:
                dispatcher.stop()
        assert len(inbox.got()) == 1, [m["To"] for m in inbox.got()]
        assert Alert.select().where(Alert.mailed_at.is_null()).count() == 0
    finally:
        controller.stop()


# --- a user limited to sites (issue 16) ------------------------------------------------------


def _signed_in(app, user: User):
    """A test client signed in through the login form as `user` (a page's session)."""
    import re

    from server.auth import hash_password

    User.update(password_hash=hash_password("site-limits-9")).where(User.id == user.id).execute()
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {"username": user.username, "password": "site-limits-9", "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    return client


def _rejected_at_each_site_and_nowhere(plant) -> None:
    """A rejected scan through each site's scanner, and one through a scanner no one
    registered (no station: a plant-wide alert)."""
    plant.scan("sc-recv", "nonsense", expected=422)
    plant.scan(SCANNER, "nonsense", expected=422)
    plant.scan("sc-nowhere", "nonsense", expected=422)


def test_a_limited_supervisor_is_alerted_of_its_sites_events_only(
    two_sites, plant, api, app, db, users
):
    """The alerts page, the header's count, `GET /api/alerts` of a supervisor limited to
    SURABAYA: its site's rejected scan and the plant-wide one, not MAIN's; the admin (never
    limited) all three."""
    boss = users["supervisor"][0]
    for role in ("supervisor", "admin"):
        alerts.subscribe(users[role][0], ["scan.rejected"], email=False, now=utcnow())
    settings = DispatchSettings(poll_s=0.02, flags=False)
    dispatcher = Dispatcher(db, settings)
    _rejected_at_each_site_and_nowhere(plant)
    dispatcher.run_once()
    dispatcher.close()

    def texts(role):
        got = api.get("/api/alerts", as_=role, expected=200).get_json()
        assert got["unread"] == len(got["alerts"])
        return {a["text"] for a in got["alerts"]}

    mine = {f"Scan rejected: {SCANNER}", "Scan rejected: sc-nowhere"}
    assert texts("supervisor") == mine
    assert texts("admin") == mine | {"Scan rejected: sc-recv"}
    browser = _signed_in(app, boss)
    html = browser.get("/alerts").get_data(as_text=True)
    assert f"Scan rejected: {SCANNER}" in html and "Scan rejected: sc-nowhere" in html
    assert "Scan rejected: sc-recv" not in html
    assert "data-unread>2<" in browser.get("/stations").get_data(as_text=True)


def test_a_limited_supervisor_is_mailed_its_sites_alerts_only(two_sites, plant, db, users, smtp):
    """The mail of a supervisor limited to SURABAYA lists its site's alerts and the
    plant-wide one; the admin's lists all three."""
    controller, inbox = smtp
    for role in ("supervisor", "admin"):
        alerts.subscribe(_supervisor(users, role), ["scan.rejected"], now=utcnow())
    settings = _settings(controller, batch_s=0.3)
    settings.flags = False
    dispatcher = Dispatcher(db, settings)
    _rejected_at_each_site_and_nowhere(plant)
    _until(dispatcher, lambda: len(inbox.got()) >= 2)
    _run(dispatcher, 0.5)
    mails = {m["To"]: m.get_payload() for m in inbox.got()}
    assert len(inbox.got()) == 2
    limited, whole = mails["supervisor@plant.example"], mails["admin@plant.example"]
    assert f"Scan rejected: {SCANNER}" in limited and "Scan rejected: sc-nowhere" in limited
    assert "Scan rejected: sc-recv" not in limited
    assert "Koordinator: 2 alert(s)" in {m["Subject"] for m in inbox.got()}
    assert all(f"Scan rejected: {s}" in whole for s in ("sc-recv", SCANNER, "sc-nowhere"))
    dispatcher.close()


def test_an_events_site_is_its_stations_items_or_orders_lines(two_sites, plant):
    """The site an alert is routed by: the station's, else the item's, else the order's
    line's, else none (plant-wide)."""
    from server.core import locations

    main, sby = (locations.site_by_code(c).id for c in ("MAIN", test_site_limits.SITE))
    site = alerts.event_site
    assert site("scan.rejected", {"station": "SBY-RECV", "item": None}) == sby
    assert site("item.held", {"station": None, "item": two_sites["main"][0]}) == main
    assert site("item.held", {"station": None, "item": two_sites["sby"][0]}) == sby
    assert site("flag.raised", {"flag": "late", "order": "WO-SBY", "product": "WIDGET"}) == sby
    assert site("order.released", {"order": "WO-MAIN", "product": "WIDGET"}) == main
    assert site("flag.raised", {"flag": "dwell", "station": "A2"}) == main
    assert site("flag.raised", {"flag": "reorder", "product": "GLOVES", "site": "MAIN"}) == main
    stocked = {"flag": "reorder", "product": "NUT", "stocked_at": "MAIN"}  # one site has it
    assert site("flag.raised", stocked) == main
    assert site("flag.raised", {"flag": "reorder", "product": "NUT"}) is None  # no site
    assert site("flag.raised", {"flag": "near_expiry", "product": "GLOVES"}) is None
    assert site("sink.disabled", {"sink": "erp", "kind": "webhook"}) is None
    plant.order("WO-NOLINE", "WIDGET", 1)
    assert site("order.released", {"order": "WO-NOLINE"}) is None


def test_a_sites_reorder_alert_names_its_site_in_each_language(two_sites, db, users):
    """GLOVES below its point at both sites is two alerts; in Indonesian both read
    "Pesan ulang: GLOVES" (the English line carried the flag's message, the Indonesian
    none), so an unlimited Indonesian supervisor could not tell which site to restock.
    The site is named in every language, on the page's line and in the mail."""
    from server.models import Event

    user = users["admin"][0]
    made = {}
    for site in ("MAIN", test_site_limits.SITE):
        payload = {
            "key": f"reorder:product:GLOVES@{site}",
            "state": "raised",
            "flag": "reorder",
            "subject": f"product:GLOVES@{site}",
            "product": "GLOVES",
            "site": site,
            "on_hand": "4",
            "reorder_point": "5",
            "message": f"Gloves box: 4 pcs on hand at {site}, reorder point 5",
        }
        event = Event.create(
            type="flag.raised",
            subject=f"flag:{payload['key']}",
            payload=payload,
            created_at=utcnow(),
        )
        made[site] = Alert.create(
            user=user.id, event_id=event.id, kind="reorder", created_at=utcnow()
        )
    for lang in ("en", "id"):
        lines = {
            site: alerts.line(a, Event.get_by_id(a.event_id), lang) for site, a in made.items()
        }
        for site, text in lines.items():
            assert site in text, (lang, lines)
        assert len(set(lines.values())) == 2, lines
    User.update(language="id").where(User.id == user.id).execute()
    _, body = alerts.mail(User.get_by_id(user.id), list(made.values()))
    assert "GLOVES @ MAIN" in body and f"GLOVES @ {test_site_limits.SITE}" in body, body


def test_an_api_hold_alerts_the_site_the_item_lies_in(two_sites, plant, api, users):
    """A MAIN scanner receives a lot into SURABAYA's dock: the item lies at SURABAYA
    (station RECV of MAIN); siteaccess shows it to SURABAYA's supervisor, not to MAIN's
    people. Held through the API, its `item.held` event carries the item's station, which
    routed the alert to MAIN (whose people get 404 on the item) and not to SURABAYA. An
    item event goes by where the item lies, as siteaccess places it."""
    from server.core import locations, siteaccess
    from server.models import Event, Item

    plant.scan("sc-recv", "LOC-SBY-DOCK", expected=201)
    (code,) = plant.items("STEEL", count=1, qty=1)
    assert plant.scan("sc-recv", code, expected=201)["location"] == "SBY-DOCK"
    supervisor = users["supervisor"][0]  # limited to SURABAYA
    assert siteaccess.item_visible(supervisor, Item.get(Item.code == code))
    alerts.subscribe(supervisor, ["item.held"], email=False, now=utcnow())
    api.post(f"/api/items/{code}/hold", {"reason": "QC_CHECK"}, as_="admin", expected=200)
    held = Event.select().where(Event.type == "item.held").order_by(Event.id.desc()).first()
    assert held.payload["item"] == code and held.payload["station"] == "RECV"
    sby = locations.site_by_code(test_site_limits.SITE).id
    assert alerts.event_site(held.type, held.payload) == sby
    assert alerts.record(held, utcnow()) == 1
    assert Alert.select().where(Alert.user == supervisor.id, Alert.event_id == held.id).count() == 1
