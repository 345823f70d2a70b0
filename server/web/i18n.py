"""Languages of the pages and of the worker messages on the scan station page.

The languages are the folders under `server/web/translations/` plus English (the
language of the source). Adding one is a translation-only change: see docs/pages.md.
The locale of a request is the station's language on a scan station page, else the
signed-in user's language, else the browser's preference.

Messages come from the core in English, with a reason code and parameters (the action,
the stage, the quantities of a flag). The English text is shown only on English pages;
every other language words the message here from its code and parameters, so the core
stays free of any web concern and a change of an English sentence in the core cannot
break a translation. Dates and times are formatted by Babel for the page's language in
the plant's time zone (`PLANT_TIMEZONE`).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, request
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext, lazy_gettext

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
    "other_site": _("Scanner of another site"),
    "unknown_station": _("Station not known"),
    "unknown_operator": _("Badge not known"),
    "badge_locked": _("Too many unknown badges - wait"),
    "unknown_location": _("Location not known"),
    "no_location": _("Scan a location label first"),
    "wrong_location": _("Not stored at this location"),
    "unknown_order": _("Order not known"),
    "unknown_count": _("Count not known"),
    "unknown_shipment": _("Shipment not known"),
    "count_not_open": _("This count is closed"),
    "count_not_closed": _("Close the count first"),
    "unknown_action": _("Action not known"),
    "operator_required": _("Scan your badge first"),
    "supervisor_required": _("Supervisor needed"),
    "reason_required": _("Reason needed"),
    "unknown_reason": _("Reason not on the list"),
    "reason_not_applicable": _("Reason does not fit this action"),
    "on_hold": _("Item on hold"),
    "not_held": _("Item is not on hold"),
    "illegal_transition": _("Not allowed from this stage"),
    "not_scheduled": _("No released order for this"),
    "not_in_bom": _("Not on this order's bill"),
    "machine_down": _("Machine down"),
    "unknown_machine": _("Machine not known"),
    "over_issue": _("More than the order needs"),
    "over_unissue": _("More than was issued to the order"),
    "over_plan": _("Order already complete"),
    "wrong_station": _("Wrong station for this unit"),
    "routing_incomplete": _("Routing not finished"),
    "short_material": _("Issued material short"),
    "expired": _("Expired - do not use"),
    "bad_payload": _("Scan not readable"),
    "server_error": _("Server problem - scan again"),
    "csrf_failed": _("Page expired - reload it"),
    "unauthorized": _("Signed out - sign in again"),
    "forbidden": _("Not allowed for your role"),
    "network": _("No connection to the server"),
}

#: what to do next after a rejection, shown after its message on the scan station page
#: (an illegal_transition says it in its own detail, NEXT_STEP_TEXT below)
REASON_NEXT = {
    "unknown_code": _("Scan a Koordinator label, a supplier label or a command label."),
    "unknown_item": _("Check the label; ask the office to print a new one."),
    "unknown_product": _("Ask a supervisor to register the product first."),
    "bad_quantity": _("Enter a quantity above 0 and not more than the lot holds."),
    "unknown_scanner": _("Ask a supervisor to register this scanner."),
    "other_site": _("Pick a scanner of your own site, or ask an admin for this site."),
    "unknown_station": _("Ask a supervisor to set up the station."),
    "unknown_operator": _("Scan your own badge, or ask a supervisor to register it."),
    "unknown_order": _("Scan the order label from the order sheet."),
    "count_not_open": _("Scan CMD-DONE to leave count mode."),
    "unknown_action": _("Scan an action label from the station sheet."),
    "supervisor_required": _("Call a supervisor to scan it."),
    "reason_required": _("Pick a reason or scan a reason label, then scan the item again."),
    "unknown_reason": _("Pick a reason from the list."),
    "reason_not_applicable": _("Pick a reason that fits this action."),
    "on_hold": _("Put it aside for quality; a supervisor must release it."),
    "not_held": _("Nothing to release: carry on with the item."),
    "not_scheduled": _("Ask a supervisor to release an order for it, or scan the order label."),
    "not_in_bom": _("Take it back to stores: this order does not use it."),
    "over_issue": _("Issue only what is still needed: enter a smaller quantity."),
    "over_unissue": _("Return only what was issued: enter a smaller quantity."),
    "over_plan": _("Scan the next order's label."),
    "wrong_station": _("Take the unit to the station of its next step."),
    "routing_incomplete": _("Take the unit back to the station it missed."),
    "short_material": _("Issue the missing material to the order first."),
    "expired": _("Put it aside for scrap; take another lot."),
    "bad_payload": _("Scan the label again."),
    "forbidden": _("Ask a supervisor."),
}

#: the worker messages of an illegal_transition (server/core/stages.py NEXT_STEP), whole
#: sentences translated whole; msgids equal the core's texts (tests/web/test_rejection_texts.py)
NEXT_STEP_TEXT = [
    _("This item is new (never received or started): receive it or start it first"),
    _("This item is new (not started yet): start it at its first station"),
    _("This item is new (never received): receive it first"),
    _("This item is raw material in stock: issue it to an order"),
    _("This item is a component in stock: issue it to an order"),
    _("This item is in work (WIP): move it to its next station or complete it"),
    _(
        "This item is in work (WIP), issued to an order: it is consumed when its unit is "
        "completed, or unissue it to return it to stock"
    ),
    _("This item is in work (WIP), issued to an order: it is consumed when its unit is completed"),
    _("This item is finished: ship it"),
    _("This item is already shipped: only a supervisor can return it"),
    _("This item is in supplies: use it at stores"),
    _("This item is already consumed: nothing more can be done with it"),
    _("This item is scrapped: nothing more can be done with it"),
]
_MESSAGE_TEXT = {str(t._args[0]): t for t in NEXT_STEP_TEXT}

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
    "rework": _("Reworked"),
    "unissue": _("Unissued"),
    "transfer": _("Transferred"),
    "count": _("Counted"),
    "adjust": _("Adjusted by a count"),
    "hold": _("Held"),
    "release": _("Released"),
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
    "clerk": _("clerk"),
    "supervisor": _("supervisor"),
    "admin": _("admin"),
}

FLAG_TEXT = {
    "late": _("late"),
    "behind": _("behind"),
    "short": _("short"),
    "dwell": _("dwelling"),
    "reorder": _("reorder"),
    "near_expiry": _("near expiry"),
}


KIND_TEXT = {
    "raw": _("raw material"),
    "component": _("component"),
    "finished": _("finished good"),
    "supplies": _("supplies"),
}

TRACKING_TEXT = {"unit": _("per unit"), "lot": _("per lot")}
#: the kinds of a location (server/core/locations.py)
LOCATION_KIND_TEXT = {"area": _("area"), "bin": _("bin"), "line": _("line side")}

#: a station's default action, as the verb shown in the admin's choice
#: what a reason of the plant's reason list applies to (server/core/reasonlist.USES)
REASON_USE_TEXT = {
    "scrap": _("scrap"),
    "hold": _("hold"),
    "release": _("release"),
    "rework": _("rework"),
    "return": _("return"),
    "adjust": _("adjust"),
    "downtime": _("downtime"),
}

VERB_TEXT = {
    "receive": _("receive"),
    "start": _("start"),
    "issue": _("issue"),
    "move": _("move"),
    "complete": _("complete"),
    "ship": _("ship"),
    "use": _("use"),
    "consume": _("consume"),
    "scrap": _("scrap"),
    "return": _("return"),
    "rework": _("rework"),
    "unissue": _("unissue"),
    "transfer": _("transfer"),
    "count": _("count"),
    "hold": _("hold"),
    "release": _("release"),
}

#: accepted command labels (the action of the answer is "command:<name>")
COMMAND_TEXT = {
    "command:op": _("Operator badge"),
    "command:out": _("Signed out"),
    "command:ord": _("Order selected"),
    "command:act": _("Action selected"),
    "command:why": _("Reason selected"),
    "command:qc": _("Quality check"),
    "command:done": _("Back to the station defaults"),
    "command:loc": _("Location selected"),
    "command:count": _("Count mode"),
    "command:shp": _("Shipment selected"),
    "command:down": _("Machine down - downtime recorded"),
    "command:up": _("Machine running again"),
}

#: warnings of an accepted scan that are not reason codes
WARNING_TEXT = {
    "split": _("Split - label the part taken"),
    "label_printing": _("Label printing"),
}

#: states of a print job and why it was made (server/core/printjobs.py)
PRINT_STATE_TEXT = {
    "queued": _("Queued"),
    "sent": _("Printed"),
    "cancelled": _("Cancelled"),
    "failed": _("Cannot be drawn"),
}
PRINT_SOURCE_TEXT = {
    "receive": _("Receive"),
    "split": _("Split"),
    "complete": _("Complete"),
    "api": _("Print labels"),
    "test": _("Test print"),
}
PRINTER_STATE_TEXT = {"online": _("Online"), "offline": _("Offline"), "unknown": _("Not tried yet")}
#: the media a printer holds (server/core/printers.py)
MEDIA_KIND_TEXT = {"gap": _("Gap labels"), "continuous": _("Continuous roll")}

#: codes of refused forms and planning calls that are not scan reasons
ERROR_TEXT = {
    "bad_payload": _("Not a valid entry"),
    "bad_status": _("Not possible in the order's status"),
    "exists": _("Already exists"),
    "not_found": _("Not found"),
    "unknown_site": _("Site not known"),
    "reason_required": _("Reason needed"),
    "unknown_station": _("Station not known"),
    "printer_unavailable": _("The printer is switched off in Koordinator"),
    "print_job_sent": _("Printed already"),
    "unknown_print_job": _("Print job not known"),
    "unknown_printer": _("Printer not known"),
    "unknown_rule": _("No such print rule"),
    "unknown_template": _("Label template not known"),
    "bad_media": _("Media size not possible: gap labels need width and height"),
    "media_mismatch": _("The label is larger than the printer's media"),
}

#: pydantic error types of a refused form field
INVALID_TEXT = {
    "missing": _("needed"),
    "string_too_short": _("needed"),
    "string_too_long": _("too long"),
    "string_pattern_mismatch": _("not in the expected form"),
    "literal_error": _("not one of the choices"),
    "enum": _("not one of the choices"),
    "decimal_parsing": _("not a number"),
    "greater_than": _("too small"),
}

#: the form fields named in refusals
FIELD_TEXT = {
    "sku": "SKU",
    "gtin": "GTIN",
    "name": _("name"),
    "kind": _("kind"),
    "tracking": _("tracking"),
    "unit": _("unit"),
    "reorder_point": _("reorder point"),
    "code": _("code"),
    "default_action": _("default action"),
    "language": _("language"),
    "id": "Id",
    "station": _("station"),
    "number": _("number"),
    "product": _("product"),
    "qty": _("quantity"),
    "start": _("start"),
    "due": _("due"),
    "lines": _("lines"),
    "stations": _("stations"),
}

#: how an order was closed (planning.close_order)
CLOSE_TEXT = {
    "closed": _("closed"),
    "cancelled": _("cancelled"),
    "short_closed": _("closed short"),
}

#: planning history entries of an order
EVENT_TEXT = {"plan": _("Planned or changed"), "release": _("Released"), "close": _("Closed")}


def english() -> bool:
    return str(get_locale() or DEFAULT).split("_")[0] == DEFAULT


def _text(table: dict, key, fallback: str) -> str:
    text = table.get(key or "")
    return str(text) if text is not None else fallback


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


def message_text(message: str | None) -> str:
    """A core message in the request's language when the catalogue has it as a whole
    sentence (an illegal transition's next step); any other message as it is."""
    text = _MESSAGE_TEXT.get(message or "")
    return str(text) if text is not None else (message or "")


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


def kind_text(kind: str | None) -> str:
    return _text(KIND_TEXT, kind, kind or "")


def location_kind_text(kind: str | None) -> str:
    return _text(LOCATION_KIND_TEXT, kind, kind or "")


def tracking_text(tracking: str | None) -> str:
    return _text(TRACKING_TEXT, tracking, tracking or "")


def listed_reason_text(reason) -> str:
    """A reason of the plant's reason list (a `Reason` row or its code) in the page's
    language: its Indonesian text on Indonesian pages when written, else its English."""
    from server.core import reasonlist

    if isinstance(reason, str):
        reason = reasonlist.lookup(reason) or reason
        if isinstance(reason, str):
            return reason
    return reasonlist.text(reason, str(get_locale() or DEFAULT))


def no_reason_text() -> str:
    return gettext("No reason from the list (a note)")


def scrap_chart_title() -> str:
    return gettext("Scrap events")


def reason_use_text(use: str) -> str:
    return _text(REASON_USE_TEXT, use, use)


def verb_text(action: str | None) -> str:
    return _text(VERB_TEXT, action, action or "")


def warning_text(code: str) -> str:
    return _text(WARNING_TEXT, code, "") or reason_text(code)


def print_state_text(state: str) -> str:
    return _text(PRINT_STATE_TEXT, state, state)


def print_source_text(source: str) -> str:
    return _text(PRINT_SOURCE_TEXT, source, source)


def label_history_text(entry: dict) -> str:
    """A print job's line in an item's history (printjobs.item_prints)."""
    printer = entry["printer"]
    if entry["action"] == "label_queued":
        return gettext("Label queued at %(printer)s", printer=printer)
    if entry["action"] == "label_sent":
        return gettext("Label sent to %(printer)s", printer=printer)
    if entry["action"] == "label_cancelled":
        return gettext("Label cancelled at %(printer)s", printer=printer)
    text = gettext("Label failed at %(printer)s", printer=printer)
    error = entry.get("error") or ""
    if error.startswith("media_mismatch"):
        return f"{text}: {error_text('media_mismatch', error)}"
    return f"{text}: {error}" if error and english() else text


def media_kind_text(kind: str) -> str:
    return _text(MEDIA_KIND_TEXT, kind, kind)


def printer_state_text(state: str) -> str:
    return _text(PRINTER_STATE_TEXT, state, state)


def close_text(how: str) -> str:
    return _text(CLOSE_TEXT, how, how.replace("_", " "))


def field_text(name: str) -> str:
    return _text(FIELD_TEXT, name, name)


def error_text(code: str | None, message: str) -> str:
    """A refusal of the core in the page's language: its English message on English
    pages, else the text of its code."""
    if english() or not code:
        return message
    text = ERROR_TEXT.get(code) or REASON_TEXT.get(code)
    return str(text) if text is not None else message


def invalid_text(err: dict) -> str:
    """One pydantic error of a form: 'field: what is wrong' in the page's language."""
    where = ".".join(field_text(str(p)) for p in err.get("loc", ()) if p != "")
    what = err.get("msg", "") if english() else _text(INVALID_TEXT, err.get("type"), "")
    what = what or str(_("not valid"))
    return f"{where}: {what}" if where else what


def language_label(code: str | None) -> str:
    """A language code as its name; no code: the user's own language."""
    return language_name(code) if code else gettext("user’s language")


def detail_text(reason: str | None, action: str | None, stage: str | None, message: str) -> str:
    """The core's detail of a refused scan: the English message on English pages,
    elsewhere worded from the reason code and its parameters (action, stage), or nothing
    when the code alone says it all."""
    if english():
        return message
    if message in _MESSAGE_TEXT:  # a whole sentence of the core's, translated whole
        return str(_MESSAGE_TEXT[message])
    if reason == "illegal_transition" and action and stage:
        return gettext(
            "%(action)s is not possible from stage %(stage)s",
            action=verb_text(action),
            stage=stage_text(stage),
        )
    return ""


def command_text(action: str | None, operator: str | None = None, order: str | None = None):
    """An accepted command label, from its action and the ledger's operator and order."""
    text = _text(COMMAND_TEXT, action, action or "")
    extra = operator if action == "command:op" else order if action == "command:ord" else None
    return f"{text}: {extra}" if extra else text


def flag_message(flag: dict) -> str:
    """A flag's message from its parameters (server/core/flags.py)."""
    kind = flag.get("flag")
    if english():
        return flag.get("message", "")
    if kind == "late":
        return gettext("%(days)s day(s) past due", days=flag.get("days"))
    if kind == "behind":
        return gettext(
            "completed %(done)s of %(expected)s planned by today",
            done=flag.get("completed"),
            expected=flag.get("expected"),
        )
    if kind == "short":
        listing = ", ".join(
            f"{m['material']} {m['missing']} {m['unit']}" for m in flag.get("materials", [])
        )
        return gettext("short of %(materials)s", materials=listing)
    if kind == "dwell":
        return gettext("%(n)s unit(s) dwelling", n=flag.get("count"))
    if kind == "near_expiry":
        return gettext(
            "%(n)s item(s) expire by %(until)s (%(expired)s expired), first %(lot)s %(date)s",
            n=flag.get("count"),
            until=flag.get("until"),
            expired=flag.get("expired"),
            lot=(flag.get("lots") or [{}])[0].get("lot") or "-",
            date=flag.get("earliest"),
        )
    return ""


_EDIT = ("qty", "start", "due", "station")


def event_text(action: str, message: str) -> str:
    """A planning history entry (planning.order_events): the English message on English
    pages; elsewhere the kind of entry and the changed fields (`field old -> new`)."""
    if english():
        return f"{action} · {message}" if message else action
    said = [_text(EVENT_TEXT, action, action)]
    for part in (message or "").split("; "):
        name, _sp, rest = part.partition(" ")
        if name in _EDIT and " -> " in rest:
            old, new = rest.split(" -> ", 1)
            said.append(f"{field_text(name)} {old} → {new}")
    return " · ".join(said)


def plant_timezone() -> str:
    return current_app.config.get("PLANT_TIMEZONE") or "UTC"


def when(value) -> str:
    """A naive UTC time in the plant's time zone, formatted for the page's language."""
    if value is None:
        return ""
    if isinstance(value, str):  # an API figure's RFC 3339 text ("...Z"), naive UTC again
        value = dt.datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=None)
    return format_datetime(value, "short")


def day(value) -> str:
    """A date formatted for the page's language (29 Nov 2026, Nov 29, 2026)."""
    if value is None:
        return ""
    return format_date(value, "medium")


def worker_catalogue() -> dict:
    """What the scan station's script needs to word answers in the page's language."""
    return {
        "lang": str(get_locale() or DEFAULT),
        "reasons": {code: reason_text(code) for code in REASON_TEXT},
        "stages": {code: stage_text(code) for code in STAGE_TEXT},
        "actions": {code: action_text(code) for code in ACTION_TEXT},
        "messages": {msgid: str(text) for msgid, text in _MESSAGE_TEXT.items()},
        "accepted": gettext("Accepted"),
        "rejected": gettext("Rejected"),
        "command": gettext("Command"),
        "commands": {code: str(text) for code, text in COMMAND_TEXT.items()},
        "illegal": gettext("%(action)s is not possible from stage %(stage)s"),
        "verbs": {code: verb_text(code) for code in VERB_TEXT},
        "duplicate": gettext("Already scanned - same answer"),
        "lot": gettext("Lot"),
        "ready": gettext("Ready - scan a label"),
        # command answers, worded from the scanner's context after the command
        "signed_in": gettext("Signed in: %(name)s", name="{name}"),
        "signed_out": gettext("Signed out: %(name)s", name="{name}"),
        "signed_out_again": gettext(
            "Signed out: %(name)s (the same badge again signs out)", name="{name}"
        ),
        "order_selected": gettext("Order %(number)s selected", number="{name}"),
        "action_selected": gettext("Action: %(action)s", action="{name}"),
        "reason_selected": gettext("Reason for the next scan: %(reason)s", reason="{name}"),
        "location_selected": gettext("Location: %(location)s", location="{name}"),
        "shipment_selected": gettext("Shipment: %(ref)s", ref="{name}"),
        "count_mode": gettext("Count %(count)s: scan everything at the location", count="{name}"),
        "qc_pass": gettext("QC pass: parts move on"),
        "qc_fail": gettext("QC fail: scan the reason, then the part to hold"),
        "defaults": gettext("Done - back to the station's defaults"),
        # the outbox: a scan kept on the device until the server answers it
        "saved": gettext("Saved, will send"),
        "saved_detail": gettext(
            "No connection: the scan is kept on this device and sent when the connection is back"
        ),
        "saved_signin": gettext("The scan is kept on this device: sign in again to send it"),
        "no_outbox": gettext(
            "This browser cannot keep scans (private window?): the scan was not saved"
        ),
        "qty_label": gettext("Qty"),
        # a station's print rule queued the item's label (server/core/printjobs.py)
        "label_printing": gettext("Label printing at %(printer)s", printer="{printer}"),
        "next": {code: str(text) for code, text in REASON_NEXT.items()},
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
    """Compile each messages.po whose .mo is missing or says something else; returns the
    files written.

    The .mo files are committed; this keeps them in step after a translator edits a .po.
    A checkout gives the .po and the .mo arbitrary times, so an older .mo is compared by
    content before it is rewritten: a read-only install with committed, current catalogues
    writes (and warns about) nothing.
    """
    written = []
    for po_path in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        if mo_path.exists() and mo_path.read_bytes() == compiled.getvalue():
            continue
        try:
            tmp = mo_path.with_suffix(f".mo.{os.getpid()}")
            tmp.write_bytes(compiled.getvalue())
            os.replace(tmp, mo_path)
            written.append(mo_path)
        except OSError as exc:
            log.warning("cannot compile %s: %s", po_path, exc)
    return written


def init_app(app: Flask) -> None:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    # dates and times on pages are the plant's local ones
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("PLANT_TIMEZONE") or "UTC"
    Babel(app, locale_selector=select_locale)


def shift_report_words():
    """The shift report's words (server/core/shiftreport.py) in the current language."""
    from server.core.shiftreport import Words

    return Words(
        title=gettext("Shift report"),
        day=gettext("Plant day"),
        stations=gettext("Stations"),
        all_stations=gettext("all"),
        printed=gettext("Printed"),
        production=gettext("Production by order"),
        order=gettext("Order"),
        product=gettext("Product"),
        status=gettext("Status"),
        planned=gettext("Planned (day)"),
        done=gettext("Done (day)"),
        order_qty=gettext("Order qty"),
        done_total=gettext("Done (total)"),
        total=gettext("Total"),
        no_production=gettext("No order planned or completed on this day."),
        scrap=gettext("Scrap by reason"),
        reason=gettext("Reason"),
        count=gettext("Events"),
        qty=gettext("Quantity"),
        no_scrap=gettext("No scrap on this day."),
        holds_raised=gettext("Holds raised on this day"),
        holds_open=gettext("Holds still open"),
        item=gettext("Item"),
        why=gettext("Why"),
        when=gettext("When"),
        station=gettext("Station"),
        no_holds=gettext("None."),
        flags=gettext("Flags standing when printed"),
        flag=gettext("Flag"),
        about=gettext("On"),
        message=gettext("Detail"),
        no_flags=gettext("No flag is standing."),
        downtime=gettext("Downtime"),
        no_downtime=gettext("No machine was down on this day."),
        flags_raised=gettext("Flags raised on this day"),
        raised=gettext("Raised"),
        cleared=gettext("Cleared"),
        still_standing=gettext("still standing"),
        machine=gettext("Machine"),
        start=gettext("From"),
        end=gettext("To"),
        minutes=gettext("Minutes"),
        still_down=gettext("still down"),
        shift=gettext("Shift"),
        breaks=gettext("breaks"),
        site=gettext("site"),
        planned_shift=gettext("Planned (shift)"),
        done_shift=gettext("Done (shift)"),
        no_production_shift=gettext("No order planned or completed in this shift."),
        no_scrap_shift=gettext("No scrap in this shift."),
        holds_raised_shift=gettext("Holds raised in this shift"),
        flags_raised_shift=gettext("Flags raised in this shift"),
        no_downtime_shift=gettext("No machine was down in this shift."),
        more=gettext("%(n)s more not listed"),
        page=gettext("Page %(n)s"),
        status_text=status_text,
        reason_text=lambda code: (
            f"{code} · {listed_reason_text(code)}" if code else no_reason_text()
        ),
        flag_text=flag_text,
        flag_message=flag_message,
        date=lambda d: format_date(d, "medium"),
    )
