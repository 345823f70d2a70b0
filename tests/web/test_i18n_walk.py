"""Every page in every language: a walk over the pages of a seeded plant (following each
link a page shows, plus the pages a form answers with) that fails on any English left on
a page in another language.

A page in language L may only show words of L's catalogue (its translations), L's own
calendar words from Babel (months, days), language names, the data of the plant (product
names, codes, lots, user names, notes...) and a short allow-list of codes and units. A
word outside those is text that did not go through the catalogue: a template literal, an
English message of the core, a raw enum value. So a page feature added without its
translation fails here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from server.models import (
    ApiToken,
    Item,
    LabelTemplate,
    LedgerEntry,
    Location,
    Product,
    ProductionOrder,
    Reason,
    Scanner,
    Site,
    Station,
    User,
)
from server.web import i18n
from tests.conftest import GTIN_BOLT
from tests.web.conftest import Browser

#: shown as they are in every language: product and technical names, codes, units
ALLOWED = {
    "koordinator",
    "sku",
    "gtin",
    "pdf",
    "csv",
    "xlsx",
    "url",
    "api",
    "id",
    "a4",
    "letter",  # the paper size, so named in every language
    "qr",
    "in",  # label sizes in inches: 2 × 1 in
    "bearer",
    "authorization",
    "python",
    "mqtt",
    "utc",
}

#: elements whose text is data (scanned text, secrets, codes), not wording
DATA_TAGS = {"code", "pre", "textarea", "script", "style"}
WORDING_ATTRS = ("title", "placeholder", "aria-label", "alt")
MAX_PAGES = 400
#: where the walk begins, per role; it follows every link from there
START = {"operator": ["/", "/stock", "/scan"], "admin": ["/", "/schedule?closed=1", "/admin"]}


class _Text(HTMLParser):
    """The text a person reads on a page: text nodes and wording attributes, without
    the contents of data elements; the scan station's JSON catalogue is read too."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.catalogue: dict | None = None
        self._skip: list[str] = []
        self._script_id: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for name in WORDING_ATTRS:
            if a.get(name):
                self.parts.append(a[name])
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])
        classes = (a.get("class") or "").split()
        if tag in DATA_TAGS or "code" in classes:
            self._skip.append(tag)
            self._script_id = a.get("id") if tag == "script" else None

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)
        elif self._script_id == "scan-catalogue" and data.strip():
            self.catalogue = json.loads(data)


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


class Vocabulary:
    """What a page in `lang` may say."""

    def __init__(self, lang: str, data: set[str]):
        self.lang = lang
        po = i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        words = set(ALLOWED)
        for m in catalog:
            for s in m.string if isinstance(m.string, tuple) else (m.string,):
                words |= _words(re.sub(r"%\(\w+\)s|\{\w+\}", " ", s or ""))
        loc = Locale.parse(lang)
        for table in (loc.months, loc.days, loc.eras, loc.periods, loc.day_periods):
            for name in _nested(table):
                words |= _words(name)
        for code in i18n.languages():
            words |= _words(i18n.language_name(code))
        self.words = words
        # whole values only, longest first: "Steel sheet" before "Steel", and a token
        # named "t" does not cut the t out of every word
        values = sorted({d.strip() for d in data if d and d.strip()}, key=len, reverse=True)
        self.data = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in values) or r"(?!)")

    def foreign(self, text: str) -> list[str]:
        """The words of `text` that are neither wording of `lang` nor data."""
        text = self.data.sub(" ", re.sub(r"%\(\w+\)s|\{\w+\}", " ", text))
        out = []
        for chunk in text.split():
            if re.search(r"[\d_]", chunk):  # codes, quantities, ids: 12.5, WO-1, over_plan
                continue
            out.extend(w for w in _words(chunk) if w not in self.words)
        return out


def _nested(table) -> list[str]:
    if isinstance(table, str):
        return [table]
    if hasattr(table, "values"):
        return [s for v in table.values() for s in _nested(v)]
    return []


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text) if len(w) > 1}


def plant_data() -> set[str]:
    """Every value the plant's people typed or scanned: shown as they are in any language."""
    values: set[str] = set()
    for model, fields in [
        (Product, ("sku", "name", "unit", "gtin")),
        (Station, ("code", "name")),
        (Scanner, ("id", "name")),
        (User, ("username", "badge")),
        (Item, ("code", "lot", "serial")),
        (ProductionOrder, ("number",)),
        (LedgerEntry, ("note", "raw_code")),
        (ApiToken, ("name",)),
        # the reason list is the plant's own, typed in both languages
        (Reason, ("code", "text_en", "text_id")),
        # sites and locations, and the location labels printed from their codes
        (Site, ("code", "name")),
        (Location, ("code", "name")),
        # label templates are named by the plant
        (LabelTemplate, ("name",)),
    ]:
        for row in model.select(*[getattr(model, f) for f in fields]).tuples():
            values.update(str(v) for v in row if v)
    values.update(f"LOC-{code}" for (code,) in Location.select(Location.code).tuples())
    return values


@pytest.fixture
def seeded(history, api, db, users):
    """The page fixtures' history plus every flag, a split, commands, planning events, a
    reprint, an API token: something on every part of every page."""
    plant = history["plant"]
    today = dt.date.today()
    late = {"number": "WO-LATE", "product": "WIDGET", "qty": 2}
    late.update(start=str(today - dt.timedelta(days=9)), due=str(today - dt.timedelta(days=2)))
    api.post("/api/orders", late, as_="supervisor", expected=201)
    api.post("/api/orders/WO-LATE/release", as_="supervisor", expected=200)
    plant.order("WO-SHORT", "WIDGET", 500)  # needs more steel than there is
    api.put("/api/orders/WO-2", {"qty": 12, "note": "customer asked"}, as_="supervisor")
    plant.order("WO-X", "WIDGET", 3)
    api.post("/api/orders/WO-X/close", {"reason": "cancelled by sales"}, as_="supervisor")
    Station.update(dwell_limit_minutes=1, language="id").where(Station.code == "A1").execute()
    Item.update(stage_at=dt.datetime(2026, 1, 1)).where(Item.stage == "wip").execute()
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-7", qty=4, expected=201)
    plant.scan("sc-a1", "CMD-OP-B-OPERATOR", expected=201)
    plant.scan("sc-a1", "CMD-ORD-WO-1", expected=201)
    plant.scan("sc-ship", history["steel"], expected=422)
    plant.scan("sc-a2", history["widgets"][2], expected=201)  # wrong station: a warning
    client = api.client
    client.post(
        f"/api/items/{history['widgets'][0]}/reprint",
        headers={"Authorization": f"Bearer {users['supervisor'][1]}"},
    )
    return history


def walk(client, start: list[str], limit: int = MAX_PAGES) -> dict[str, str]:
    """GET every same-site page reachable from `start` by links; {path: html}."""
    seen: dict[str, str] = {}
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        resp = client.get(path)
        if resp.status_code in (301, 302):
            queue.append(urlsplit(resp.headers["Location"]).path)
            continue
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200, (path, resp.status_code, body[:300])
        seen[path] = body
        if not resp.mimetype == "text/html":
            continue
        parser = _Text()
        parser.feed(body)
        for href in parser.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(("/static/", "/api/")) or parts.path.endswith(
                (".svg", ".pdf")
            ):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return seen


def _as(client, username: str, lang: str) -> Browser:
    User.update(language=lang).where(User.username == username).execute()
    b = Browser(client)
    assert b.login(username).status_code == 302
    return b


def _form_pages(b: Browser, seeded) -> dict[str, str]:
    """Pages that only a form answers with: the shown-once secrets, flash messages, a
    refusal, 404, the CSV import's errors."""
    out = {}
    out["token"] = b.post("/admin/users/1/tokens", {"name": "t"}).get_data(as_text=True)
    out["broker password"] = b.post("/admin/scanners/sc-a1/password").get_data(as_text=True)
    for path, data in [
        ("/admin/products", {"sku": "X1", "name": "Thing", "kind": "raw", "tracking": "unit"}),
        ("/admin/products", {"sku": "", "name": ""}),
        ("/admin/stations", {"code": "Z9", "name": "Zone", "default_action": "move"}),
        ("/admin/scanners", {"id": "sc-z9", "station": "Z9"}),
        ("/admin/users", {"username": "", "role": "operator"}),
        ("/schedule/orders", {"number": "WO-9", "product": "WIDGET", "qty": "x"}),
        ("/schedule/orders/WO-1", {"qty": "5", "start": "2026-01-01", "due": "2026-01-09"}),
        ("/schedule/orders/WO-2/close", {}),
        ("/schedule/orders/WO-2/release", {}),
        ("/schedule/orders/WO-2/release", {}),
        ("/admin/products/WIDGET", {"what": "bom", "bom": "STEEL"}),
    ]:
        resp = b.post(path, data, follow_redirects=True)
        out[f"POST {path} {data}"] = resp.get_data(as_text=True)
    resp = b.post("/schedule/import", {"csv": "number,product\nWO-7,NOPE\n"})
    out["import errors"] = resp.get_data(as_text=True)
    out["404"] = b.get("/items/K0000000X").get_data(as_text=True)
    return out


@pytest.mark.parametrize("lang", [code for code in i18n.languages() if code != i18n.DEFAULT])
def test_no_english_left_on_any_page(client, web_users, seeded, lang):
    found: dict[str, list[str]] = {}
    pages: dict[str, str] = {}
    for role in ("operator", "admin"):
        b = _as(client, web_users[role], lang)
        walked = walk(client, START[role])
        pages.update({f"{role} {path}": html for path, html in walked.items()})
        if role == "admin":
            pages.update(_form_pages(b, seeded))
            pages["operator refused"] = ""
        client.post("/logout", data={"csrf_token": b.token})
    pages["login"] = client.get("/login", headers={"Accept-Language": lang}).get_data(as_text=True)
    b = _as(client, web_users["operator"], lang)
    resp = b.get("/admin")
    assert resp.status_code == 403
    pages["operator refused"] = resp.get_data(as_text=True)

    vocabulary = Vocabulary(lang, plant_data())
    assert len(pages) > 40, sorted(pages)
    for name, html in pages.items():
        parser = _Text()
        parser.feed(html)
        assert not html or f'lang="{lang}"' in html, name
        texts = parser.parts + _strings(parser.catalogue or {})
        bad = sorted({w for t in texts for w in vocabulary.foreign(t)})
        if bad:
            found[name] = bad
    listing = "\n".join(f"  {name}: {words}" for name, words in sorted(found.items()))
    assert not found, f"English left on pages in {lang}:\n{listing}"


def test_every_page_renders_in_english_too(client, web_users, seeded):
    for role in ("operator", "admin"):
        b = _as(client, web_users[role], "en")
        walked = walk(client, START[role])
        assert len(walked) > 20
        station_page = "/scan/sc-a1"  # A1 speaks Bahasa whoever signs in
        assert all(
            ('lang="en"' in html) != (path == station_page)
            for path, html in walked.items()
            if "<html" in html
        )
        client.post("/logout", data={"csrf_token": b.token})


def test_the_walk_catches_english():
    """The checker itself: an English word outside the data fails, data passes."""
    vocabulary = Vocabulary("id", {"Steel sheet", "WO-1", "kg"})
    assert vocabulary.foreign("Stok per tahap") == []
    assert vocabulary.foreign("Steel sheet WO-1 12.5 kg illegal_transition") == []
    assert vocabulary.foreign("Cannot ship a finished item") == [
        "cannot",
        "ship",
        "finished",
        "item",
    ]


def test_a_station_page_is_wholly_in_the_stations_language(client, web_users, seeded):
    """An English user on a Bahasa station's page: the page, its language selector, its
    last scans and its answers' wording are all Bahasa."""
    b = _as(client, web_users["operator"], "en")
    html = b.get("/scan/sc-a1").get_data(as_text=True)
    assert 'lang="id"' in html
    selected = re.search(r'<option value="(\w+)" selected>', html)
    assert selected and selected.group(1) == "id", "the selector names the page's language"
    parser = _Text()
    parser.feed(html)
    texts = parser.parts + _strings(parser.catalogue or {})
    vocabulary = Vocabulary("id", plant_data())
    assert not sorted({w for t in texts for w in vocabulary.foreign(t)})
    assert "Lencana operator: operator1" in html  # the sign-in command, from the ledger
