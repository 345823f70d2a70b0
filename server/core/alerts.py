"""Alerts: the events a supervisor subscribed to, kept per user (unread on the pages, then
read) and mailed in batches, in the user's language.

A subscription (`AlertSubscription`) lists alert **kinds**: a flag's name (`late`,
`behind`, `short`, `reorder`, `near_expiry`, `dwell`: its rise, never its clear) or an
event type (`item.held`, `scan.rejected`, ...: docs/events.md). The dispatcher's `alerts`
sink calls `record()` for each event, which writes one `Alert` row per subscribed user
(once per user and event, so an event delivered twice alerts once). Mail goes out in
batches: `due_mail()` gives each user whose oldest unmailed alert is at least `batch_s`
old all of their unmailed alerts, so a storm of events is one mail; the sink sends it and
calls `mark_mailed()`.

**Sites.** A user limited to sites (server/core/siteaccess.py) is alerted of the events of
those sites only, and of the plant-wide ones: `record()` writes no alert of another
site's event for them, so the pages, the header's count, `GET /api/alerts` and the mail
all follow from the rows. An event's site (`event_site`) is the site a reorder flag names
(`site`, or `stocked_at`: the plant-wide flag of a product only one site stocks), else,
for an item event, the site the item lies in as siteaccess places items (its location's,
else its station's), else its station's (a scan, a dwell flag), else a scanned item's,
else its order's line's (order events, the late, behind and short flags); an event with
none of these (a near-expiry flag of a product, `sink.disabled`, an order with no line,
a malformed scan's unknown scanner, a reorder flag of a product no site stocks) is
plant-wide and reaches every subscriber (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from server.core import locations, siteaccess
from server.models import (
    Alert,
    AlertSubscription,
    Event,
    Item,
    Location,
    ProductionOrder,
    Sink,
    Station,
    User,
)

FLAG_KINDS = ("late", "behind", "short", "reorder", "near_expiry", "dwell")
#: every alert kind a user may subscribe to, with its words in each language
WORDS = {
    "en": {
        "late": "Order late",
        "behind": "Order behind plan",
        "short": "Material short",
        "reorder": "Reorder",
        "near_expiry": "Near expiry",
        "dwell": "Units dwelling",
        "scan.rejected": "Scan rejected",
        "item.held": "Held",
        "item.released": "Released from hold",
        "item.scrapped": "Scrapped",
        "item.reworked": "Reworked",
        "order.released": "Order released",
        "order.done": "Order done",
        "order.closed": "Order closed",
        "sink.disabled": "Delivery switched off",
    },
    "id": {
        "late": "Order terlambat",
        "behind": "Order tertinggal dari rencana",
        "short": "Material kurang",
        "reorder": "Pesan ulang",
        "near_expiry": "Hampir kedaluwarsa",
        "dwell": "Unit tertahan terlalu lama",
        "scan.rejected": "Pindaian ditolak",
        "item.held": "Ditahan",
        "item.released": "Dilepas dari tahanan",
        "item.scrapped": "Dibuang",
        "item.reworked": "Dikerjakan ulang",
        "order.released": "Order dirilis",
        "order.done": "Order selesai",
        "order.closed": "Order ditutup",
        "sink.disabled": "Pengiriman dimatikan",
    },
}
KINDS = tuple(WORDS["en"])
_MAIL = {
    "en": {"subject": "Koordinator: {n} alert(s)", "intro": "{n} alert(s) since {first} UTC:"},
    "id": {"subject": "Koordinator: {n} peringatan", "intro": "{n} peringatan sejak {first} UTC:"},
}
#: the event types the alerts sink takes
EVENT_TYPES = sorted({k for k in KINDS if "." in k} | {"flag.raised"})


def kind_of(event_type: str, payload: dict) -> str | None:
    """The alert kind of an event, or None when no one can be alerted of it."""
    if event_type == "flag.raised":
        flag = payload.get("flag")
        return flag if flag in FLAG_KINDS else None
    return event_type if event_type in KINDS else None


def subscribe(user: User, kinds: list[str], *, email: bool = True, now: dt.datetime) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown alert kind {unknown[0]}")
    ensure_sink(now)
    sub = AlertSubscription.get_or_none(AlertSubscription.user == user.id)
    if sub is None:
        sub = AlertSubscription(user=user.id)
    sub.kinds, sub.email, sub.updated_at = sorted(set(kinds)), email, now
    sub.save()


def ensure_sink(now: dt.datetime) -> None:
    """The dispatcher's `alerts` sink, made at the first subscription (it starts with the
    events after the newest one, as every new sink)."""
    if Sink.get_or_none(Sink.kind == "alerts") is None:
        last = Event.select(pw.fn.MAX(Event.id)).scalar() or 0
        Sink.create(
            name="alerts", kind="alerts", config={}, types=EVENT_TYPES, cursor=last, created_at=now
        )


def event_site(event_type: str, payload: dict) -> int | None:
    """The id of the site an event belongs to, or None: plant-wide (see the module's
    docstring). A few primary-key reads; called only when a subscriber is limited."""
    # a flag of one site's stock, or the plant-wide reorder flag of a product only one
    # site stocks (flags.py)
    for key in ("site", "stocked_at"):
        site = payload.get(key)
        if isinstance(site, str) and site:
            found = locations.site_by_code(site)
            return found.id if found is not None else None
    item = payload.get("item")
    if event_type.startswith("item.") and isinstance(item, str) and item:
        # an item event: where the item lies, as siteaccess places items (a lot received
        # by one site's scanner into another site's place is the latter's)
        found = Item.get_or_none(Item.code == item)
        if found is not None:
            placed = _item_site(found)
            if placed is not None:
                return placed
    station = payload.get("station")
    if isinstance(station, str) and station:
        found = Station.get_or_none(Station.code == station)
        if found is not None:
            return siteaccess.station_site(found.id)
    if isinstance(item, str) and item and event_type.startswith("scan."):
        found = Item.get_or_none(Item.code == item)
        if found is not None:
            return _item_site(found)
    order = payload.get("order")
    if isinstance(order, str) and order:
        line = (
            ProductionOrder.select(ProductionOrder.station)
            .where(ProductionOrder.number == order)
            .tuples()
            .first()
        )
        if line is not None and line[0] is not None:
            return siteaccess.station_site(line[0])
    return None


def _item_site(item: Item) -> int | None:
    """An item's site as siteaccess places it: its location's, else its station's."""
    if item.location_id:
        loc = Location.get_or_none(Location.id == item.location_id)
        if loc is not None:
            return loc.site_id
    if item.station_id:
        return siteaccess.station_site(item.station_id)
    return None


def record(event: Event, now: dt.datetime) -> int:
    """Write the alerts of `event` for every user subscribed to its kind (a user limited
    to sites: of an event of those sites, or of none); returns how many users were
    alerted (an event recorded before alerts nobody again)."""
    payload = event.payload or {}
    kind = kind_of(event.type, payload)
    if kind is None:
        return 0
    subscribed = [
        s
        for s in AlertSubscription.select(
            AlertSubscription.user, AlertSubscription.kinds, User.role, User.site_ids
        )
        .join(User)
        .where(User.active)
        .objects()
        if kind in (s.kinds or [])
    ]
    # the subscription row carries its user's role and sites: siteaccess reads them
    if any(siteaccess.site_ids(s) is not None for s in subscribed):
        site = event_site(event.type, payload)
        if site is not None:
            subscribed = [
                s for s in subscribed if (mine := siteaccess.site_ids(s)) is None or site in mine
            ]
    users = [s.user_id for s in subscribed]
    if not users:
        return 0
    rows = [{"user": u, "event_id": event.id, "kind": kind, "created_at": now} for u in users]
    return Alert.insert_many(rows).on_conflict_ignore().execute() and len(users)


def due_mail(now: dt.datetime, batch_s: float) -> list[tuple[User, list[Alert]]]:
    """Per user to be mailed (subscribed with e-mail, an address) whose oldest unmailed
    alert is `batch_s` old: all of their unmailed alerts, oldest first."""
    cutoff = now - dt.timedelta(seconds=batch_s)
    mailing = (
        AlertSubscription.select(AlertSubscription.user)
        .join(User)
        .where(
            AlertSubscription.email & User.active & User.email.is_null(False) & (User.email != "")
        )
    )
    oldest = (
        Alert.select(Alert.user, pw.fn.MIN(Alert.created_at).alias("first"))
        .where(Alert.mailed_at.is_null() & Alert.user.in_(mailing))
        .group_by(Alert.user)
    )
    out = []
    for row in oldest:
        if row.first > cutoff:
            continue
        pending = list(
            Alert.select()
            .where((Alert.user == row.user_id) & Alert.mailed_at.is_null())
            .order_by(Alert.id)
        )
        out.append((User.get_by_id(row.user_id), pending))
    return out


def mark_mailed(alerts: list[Alert], now: dt.datetime) -> None:
    Alert.update(mailed_at=now).where(Alert.id.in_([a.id for a in alerts])).execute()


def _name(event: Event) -> str:
    p = event.payload or {}
    if event.type == "flag.raised":
        name = str(p.get("order") or p.get("product") or p.get("station") or p.get("subject", ""))
        site = p.get("site")  # a flag of one site's stock: one alert per site, told apart
        return f"{name} @ {site}" if isinstance(site, str) and site else name
    return event.subject


def line(alert: Alert, event: Event | None, lang: str) -> str:
    """One alert as a line of text in `lang`: what, about what, and the event's message."""
    words = WORDS.get(lang, WORDS["en"])
    label = words.get(alert.kind, alert.kind)
    if event is None:
        return f"{label} (#{alert.event_id})"
    text = f"{label}: {_name(event)}"
    message = (event.payload or {}).get("message")
    if event.type == "flag.raised" and message and lang == "en":
        text += f" ({message})"
    return text


def mail(user: User, alerts: list[Alert]) -> tuple[str, str]:
    """The subject and text of one mail with `alerts`, in the user's language."""
    lang = user.language if user.language in _MAIL else "en"
    found = {e.id: e for e in Event.select().where(Event.id.in_([a.event_id for a in alerts]))}
    n, first = len(alerts), alerts[0].created_at.strftime("%Y-%m-%d %H:%M")
    lines = [_MAIL[lang]["intro"].format(n=n, first=first), ""]
    for a in alerts:
        lines.append(f"{a.created_at:%H:%M:%S}  {line(a, found.get(a.event_id), lang)}")
    return _MAIL[lang]["subject"].format(n=n), "\n".join(lines) + "\n"


def unread(user_id: int, limit: int = 50) -> list[tuple[Alert, Event | None]]:
    """The user's unread alerts, newest first, with their events."""
    rows = list(
        Alert.select()
        .where((Alert.user == user_id) & Alert.read_at.is_null())
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    found = {e.id: e for e in Event.select().where(Event.id.in_([a.event_id for a in rows]))}
    return [(a, found.get(a.event_id)) for a in rows]


def unread_count(user_id: int) -> int:
    return Alert.select().where((Alert.user == user_id) & Alert.read_at.is_null()).count()


def mark_read(user_id: int, now: dt.datetime, up_to: int | None = None) -> int:
    """Mark the user's alerts read (all, or those up to alert id `up_to`)."""
    query = Alert.update(read_at=now).where((Alert.user == user_id) & Alert.read_at.is_null())
    if up_to is not None:
        query = query.where(Alert.id <= up_to)
    return query.execute()
