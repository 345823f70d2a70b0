"""The notification area: a supervisor's unread alerts (server/core/alerts.py) in the page
header of every page, their list at /alerts with "mark read", and the subscription form.
Marking read and subscribing go through the JSON API's own operations."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from server.api import alerts as api_alerts
from server.core import alerts
from server.models import Alert, AlertSubscription, Event
from server.web import bp
from server.web.admin import _submit
from server.web.pages import role_required, web_user

#: read alerts still listed under the unread ones
READ_SHOWN = 20
#: the alert kinds on the subscription form (the mail's words are alerts.WORDS, the same)
KIND_TEXT = {
    "late": lazy_gettext("Order late"),
    "behind": lazy_gettext("Order behind plan"),
    "short": lazy_gettext("Material short"),
    "reorder": lazy_gettext("Reorder"),
    "near_expiry": lazy_gettext("Near expiry"),
    "dwell": lazy_gettext("Units dwelling"),
    "scan.rejected": lazy_gettext("Scan rejected"),
    "item.held": lazy_gettext("Held"),
    "item.released": lazy_gettext("Released from hold"),
    "item.scrapped": lazy_gettext("Scrapped"),
    "item.reworked": lazy_gettext("Reworked"),
    "order.released": lazy_gettext("Order released"),
    "order.done": lazy_gettext("Order done"),
    "order.closed": lazy_gettext("Order closed"),
    "sink.disabled": lazy_gettext("Delivery switched off"),
}


@bp.route("/alerts")
@role_required("supervisor")
def alerts_page():
    user = web_user()
    read = list(
        Alert.select()
        .where((Alert.user == user.id) & Alert.read_at.is_null(False))
        .order_by(Alert.id.desc())
        .limit(READ_SHOWN)
    )
    found = {e.id: e for e in Event.select().where(Event.id.in_([a.event_id for a in read]))}
    sub = AlertSubscription.get_or_none(AlertSubscription.user == user.id)
    return render_template(
        "alerts.html",
        pending=alerts.unread(user.id),
        read=[(a, found.get(a.event_id)) for a in read],
        line=lambda a, e: alerts.line(a, e, user.language),
        kinds=alerts.KINDS,
        kind_word=lambda k: str(KIND_TEXT.get(k, k)),
        subscribed=set(sub.kinds) if sub else set(),
        by_email=sub.email if sub else True,
        address=user.email or "",
    )


@bp.route("/alerts/read", methods=["POST"])
@role_required("supervisor")
def alerts_read():
    up_to = request.form.get("up_to", "").strip()
    data = {"up_to": up_to} if up_to else {}
    _submit(api_alerts.read_alerts, api_alerts.ReadIn, data)
    return redirect(request.form.get("next") or url_for("web.alerts_page"))


@bp.route("/alerts/subscription", methods=["POST"])
@role_required("supervisor")
def alerts_subscribe():
    data: dict = {
        "kinds": [k for k in alerts.KINDS if request.form.get(f"k_{k}") == "on"],
        "email": request.form.get("email") == "on",
    }
    if request.form.get("address", "").strip():
        data["address"] = request.form["address"].strip()
    if _submit(api_alerts.put_alert_subscription, api_alerts.SubscriptionIn, data):
        flash(gettext("Alert subscription saved."))
    return redirect(url_for("web.alerts_page"))
