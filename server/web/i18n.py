"""Languages of the pages and of the worker messages on the scan station page.

The languages are the folders under `server/web/translations/` plus English (the
language of the source). Adding one is a translation-only change: see docs/pages.md.
The locale of a request is the station's language on a scan station page, else the
signed-in user's language, else the browser's preference.

Worker messages come from the core in English; this module maps their reason codes,
stages and actions to translated text, so the core stays free of any web concern.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext

from server.core.reasons import describe

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"

_ = lazy_gettext

#: the worker message of each reason code; msgids equal server/core/reasons.py's texts
REASON_TEXT = {
    "unknown_code": _("Label not recognised"),
    "bad_check_digit": _("Misread label - scan again"),
    "unknown_item": _("No item with this label"),
    "unknown_product": _("Product not registered"),
    "bad_quantity": _("Quantity not possible"),
    "unknown_scanner": _("Scanner not registered"),
    "unknown_station": _("Station not known"),
    "unknown_operator": _("Badge not known"),
    "unknown_order": _("Order not known"),
    "unknown_action": _("Action not known"),
    "operator_required": _("Scan your badge first"),
    "supervisor_required": _("Supervisor needed"),
    "reason_required": _("Reason needed"),
    "illegal_transition": _("Not allowed from this stage"),
    "not_scheduled": _("No released order for this"),
    "not_in_bom": _("Not on this order's bill"),
    "over_issue": _("More than the order needs"),
    "over_plan": _("Order already complete"),
    "wrong_station": _("Wrong station for this unit"),
    "routing_incomplete": _("Routing not finished"),
    "short_material": _("Issued material short"),
    "bad_payload": _("Scan not readable"),
    "server_error": _("Server problem - scan again"),
    "csrf_failed": _("Page expired - reload it"),
    "unauthorized": _("Signed out - sign in again"),
    "forbidden": _("Not allowed for your role"),
    "network": _("No connection to the server"),
}

STAGE_TEXT = {
    "new": _("new"),
    "raw": _("raw"),
    "component": _("component"),
    "wip": _("WIP"),
    "finished": _("finished"),
    "shipped": _("shipped"),
    "supplies": _("supplies"),
    "consumed": _("consumed"),
    "scrapped": _("scrapped"),
}

ACTION_TEXT = {
    "receive": _("Received"),
    "start": _("Started"),
    "issue": _("Issued"),
    "move": _("Moved"),
    "complete": _("Completed"),
    "ship": _("Shipped"),
    "use": _("Used"),
    "consume": _("Consumed"),
    "scrap": _("Scrapped"),
    "return": _("Returned"),
    "create": _("Created"),
    "split": _("Split"),
    "reprint": _("Label reprinted"),
}

STATUS_TEXT = {
    "planned": _("planned"),
    "released": _("released"),
    "in_progress": _("in progress"),
    "done": _("done"),
    "closed": _("closed"),
}

ROLE_TEXT = {
    "operator": _("operator"),
    "supervisor": _("supervisor"),
    "admin": _("admin"),
}

FLAG_TEXT = {
    "late": _("late"),
    "behind": _("behind"),
    "short": _("short"),
    "dwell": _("dwelling"),
    "reorder": _("reorder"),
}


def languages() -> list[str]:
    """English plus every language with a catalogue, sorted with English first."""
    found = (
        sorted(
            p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file()
        )
        if TRANSLATIONS.is_dir()
        else []
    )
    return [DEFAULT] + [code for code in found if code != DEFAULT]


def language_name(code: str) -> str:
    try:
        return Locale.parse(code).get_display_name(code).capitalize()
    except (ValueError, TypeError):
        return code


def reason_text(code: str | None) -> str:
    """The worker message of a reason code in the request's language."""
    if not code:
        return ""
    text = REASON_TEXT.get(code)
    return str(text) if text is not None else describe(code)


def stage_text(stage: str | None) -> str:
    text = STAGE_TEXT.get(stage or "")
    return str(text) if text is not None else (stage or "")


def action_text(action: str | None) -> str:
    text = ACTION_TEXT.get(action or "")
    return str(text) if text is not None else (action or "")


def flag_text(flag: str) -> str:
    text = FLAG_TEXT.get(flag)
    return str(text) if text is not None else flag


def status_text(status: str) -> str:
    text = STATUS_TEXT.get(status)
    return str(text) if text is not None else status


def role_text(role: str) -> str:
    text = ROLE_TEXT.get(role)
    return str(text) if text is not None else role


def worker_catalogue() -> dict:
    """What the scan station's script needs to word answers in the page's language."""
    return {
        "lang": str(get_locale() or DEFAULT),
        "reasons": {code: reason_text(code) for code in REASON_TEXT},
        "stages": {code: stage_text(code) for code in STAGE_TEXT},
        "actions": {code: action_text(code) for code in ACTION_TEXT},
        "accepted": gettext("Accepted"),
        "rejected": gettext("Rejected"),
        "command": gettext("Command"),
        "duplicate": gettext("Already scanned - same answer"),
        "ready": gettext("Ready - scan a label"),
        # command answers, worded from the scanner's context after the command
        "signed_in": gettext("Signed in: %(name)s", name="{name}"),
        "signed_out": gettext("Signed out: %(name)s", name="{name}"),
        "signed_out_again": gettext(
            "Signed out: %(name)s (the same badge again signs out)", name="{name}"
        ),
        "order_selected": gettext("Order %(number)s selected", number="{name}"),
        "action_selected": gettext("Action: %(action)s", action="{name}"),
        "defaults": gettext("Done - back to the station's defaults"),
    }


def select_locale() -> str:
    supported = languages()
    wanted = g.get("page_language")  # set by the scan station page from its station
    if wanted in supported:
        return wanted
    user = g.get("web_user")
    if user is not None and user.language in supported:
        return user.language
    return request.accept_languages.best_match(supported) or DEFAULT


def compile_catalogues(folder: Path = TRANSLATIONS) -> list[Path]:
    """Compile each messages.po whose .mo is missing or older; returns the files written.

    The .mo files are committed; this keeps them in step after a translator edits a .po
    (a read-only install simply keeps the committed ones).
    """
    written = []
    for po_path in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        try:
            tmp = mo_path.with_suffix(f".mo.{os.getpid()}")
            with tmp.open("wb") as f:
                write_mo(f, catalog)
            os.replace(tmp, mo_path)
            written.append(mo_path)
        except OSError as exc:
            log.warning("cannot compile %s: %s", po_path, exc)
    return written


def init_app(app: Flask) -> None:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
