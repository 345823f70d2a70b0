"""Page plumbing: the signed-in user, role checks, and the helpers templates use."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext

from server import auth
from server.core import alerts, plantday
from server.core.errors import DomainError
from server.core.stages import Stage
from server.models import User, utcnow
from server.web import bp, i18n

#: stages in the order the plant sees them; the chart shows the stock-holding ones
STAGES = [s.value for s in Stage]
STOCK_STAGES = ["raw", "component", "wip", "finished", "supplies", "shipped"]


class FormError(DomainError):
    """A form field refused by the page itself; its message is already translated."""


def web_user() -> User | None:
    """The user of the browser session (pages never take a Bearer token)."""
    if "web_user" not in g:
        from flask import session

        user = None
        if session.get("user_id"):
            user = User.get_or_none(
                (User.id == session["user_id"]) & (User.active == True)  # noqa: E712
            )
        g.web_user = user
    return g.web_user


def role_required(role: str) -> Callable:
    """Sign-in needed (302 to the login page), and at least `role` (else 403)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = web_user()
            if user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not auth.has_role(user, role):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in; anything else goes home."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


def age(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'12 s', '5 min', '3 h', '2 d' since `when` (naive UTC)."""
    return age_in(age_words(), when, now or utcnow())


def age_words() -> tuple[str, str, str, str]:
    """The four words of `age()`, looked up once a request: the floor page asks for 400
    ages a second per watcher, and flask-babel finds the request's catalogue anew on every
    gettext."""
    words = g.get("_age_words")
    if words is None:
        words = g._age_words = tuple(
            gettext(w, n="%(n)s") for w in ("%(n)s s", "%(n)s min", "%(n)s h", "%(n)s d")
        )
    return words


def age_in(words: tuple[str, str, str, str], when: dt.datetime | None, now: dt.datetime) -> str:
    """`age()` with its words given (`age_words()`)."""
    if when is None:
        return "—"
    seconds = max(int((now - when).total_seconds()), 0)
    if seconds < 60:
        return words[0] % {"n": seconds}
    if seconds < 3600:
        return words[1] % {"n": seconds // 60}
    if seconds < 86400:
        return words[2] % {"n": seconds // 3600}
    return words[3] % {"n": seconds // 86400}


def qty(value) -> str:
    """A quantity without trailing zeros: 12.5, 3, 0.25."""
    if value is None:
        return ""
    d = Decimal(value).normalize()
    text = f"{d:f}"
    return text


def today() -> dt.date:
    """The plant's calendar day now (PLANT_TIMEZONE)."""
    return plantday.local_date(utcnow(), i18n.plant_timezone())


NAV = [
    # endpoint, label, role
    ("web.stock", lazy_gettext("Stock"), "operator"),
    ("web.items", lazy_gettext("Items"), "operator"),
    ("web.schedule", lazy_gettext("Schedule"), "supervisor"),
    ("web.gantt", lazy_gettext("Timeline"), "supervisor"),
    ("web.plant_floor", lazy_gettext("Plant floor"), "supervisor"),
    ("web.stations", lazy_gettext("Stations"), "supervisor"),
    ("web.people_page", lazy_gettext("People"), "supervisor"),
    ("web.oee_page", lazy_gettext("OEE"), "supervisor"),
    ("web.rejected", lazy_gettext("Rejected scans"), "supervisor"),
    ("web.scrap", lazy_gettext("Scrap and hold"), "supervisor"),
    ("web.supplies", lazy_gettext("Supplies"), "supervisor"),
    ("web.counts_list", lazy_gettext("Counts"), "supervisor"),
    ("web.label_print", lazy_gettext("Print labels"), "clerk"),
    ("web.label_templates", lazy_gettext("Label templates"), "clerk"),
    ("web.print_jobs", lazy_gettext("Printers"), "clerk"),
    ("web.scan_index", lazy_gettext("Scan station"), "operator"),
    ("web.admin", lazy_gettext("Admin"), "admin"),
]


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals():
        user = web_user() if request.blueprint == "web" else None
        return {
            "me": user,
            "page_lang": lambda: str(get_locale() or i18n.DEFAULT),
            "has_role": (lambda role: user is not None and auth.has_role(user, role)),
            "unread_alerts": (lambda: alerts.unread_count(user.id) if user is not None else 0),
            "nav": [n for n in NAV if user is not None and auth.has_role(user, n[2])],
            "languages": [(code, i18n.language_name(code)) for code in i18n.languages()],
            "stage_text": i18n.stage_text,
            "reason_text": i18n.reason_text,
            "message_text": i18n.message_text,
            "action_text": i18n.action_text,
            "flag_text": i18n.flag_text,
            "status_text": i18n.status_text,
            "role_text": i18n.role_text,
            "kind_text": i18n.kind_text,
            "location_kind_text": i18n.location_kind_text,
            "tracking_text": i18n.tracking_text,
            "verb_text": i18n.verb_text,
            "reason_use_text": i18n.reason_use_text,
            "listed_reason_text": i18n.listed_reason_text,
            "warning_text": i18n.warning_text,
            "print_state_text": i18n.print_state_text,
            "print_source_text": i18n.print_source_text,
            "printer_state_text": i18n.printer_state_text,
            "media_kind_text": i18n.media_kind_text,
            "label_history_text": i18n.label_history_text,
            "error_text": i18n.error_text,
            "detail_text": i18n.detail_text,
            "command_text": i18n.command_text,
            "flag_message": i18n.flag_message,
            "event_text": i18n.event_text,
            "language_label": i18n.language_label,
            "english": i18n.english,
            "age": age,
            "qty": qty,
            "when": i18n.when,
            "day": i18n.day,
        }


@bp.errorhandler(403)
def _forbidden(exc):
    message = gettext("Your role may not open this page.")
    return render_template("error.html", code=403, message=message), 403


@bp.errorhandler(404)
def _not_found(exc):
    return render_template("error.html", code=404, message=exc.description), 404
