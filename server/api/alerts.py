"""Alerts of the signed-in supervisor (server/core/alerts.py): the subscription
(GET/PUT /api/alerts/subscription), the unread alerts (GET /api/alerts) and marking them
read (POST /api/alerts/read). Each user sees and changes only their own."""

from __future__ import annotations

from typing import Literal

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Strict, whole_number
from server.core import alerts
from server.models import AlertSubscription, User, utcnow

AlertKind = Literal[alerts.KINDS]  # type: ignore[valid-type]


class SubscriptionIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {"kinds": ["late", "item.held"], "email": True, "address": "ana@plant.example"}
            ]
        }
    )

    kinds: list[AlertKind] = pydantic.Field(max_length=len(alerts.KINDS))
    email: bool = True
    address: str | None = pydantic.Field(
        default=None,
        max_length=254,
        pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
        description="the user's e-mail address (kept on the user); absent: unchanged",
    )


class SubscriptionOut(Answer):
    kinds: list[str]
    email: bool
    address: str | None
    available: list[str]


class ReadIn(Strict):
    up_to: whole_number(1, 2**62) | None = pydantic.Field(  # type: ignore[valid-type]
        default=None, description="mark the alerts up to this id; absent: all"
    )


def _subscription(user: User) -> dict:
    sub = AlertSubscription.get_or_none(AlertSubscription.user == user.id)
    return {
        "kinds": sub.kinds if sub else [],
        "email": sub.email if sub else True,
        "address": user.email,
        "available": list(alerts.KINDS),
    }


@op(
    "GET",
    "/alerts/subscription",
    role="supervisor",
    tag="alerts",
    summary="The alert kinds the caller is subscribed to, and the kinds there are",
    responses={200: ("The subscription", SubscriptionOut)},
)
def get_alert_subscription():
    return _subscription(current_user())


@op(
    "PUT",
    "/alerts/subscription",
    role="supervisor",
    tag="alerts",
    summary="Subscribe the caller to alert kinds (flags by name, or event types), by e-mail",
    body=SubscriptionIn,
    responses={200: ("The subscription", SubscriptionOut)},
)
def put_alert_subscription(body: SubscriptionIn):
    user = current_user()
    with current_app.extensions["koordinator.db"].atomic():
        if body.address is not None:
            User.update(email=body.address).where(User.id == user.id).execute()
            user.email = body.address
        alerts.subscribe(user, list(body.kinds), email=body.email, now=utcnow())
    return _subscription(user)


def alert_dict(alert, event, lang: str) -> dict:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "event": alert.event_id,
        "type": event.type if event else None,
        "subject": event.subject if event else None,
        "text": alerts.line(alert, event, lang),
        "at": alert.created_at.isoformat() + "Z",
    }


@op(
    "GET",
    "/alerts",
    role="supervisor",
    tag="alerts",
    summary="The caller's unread alerts, newest first (at most 50), and how many there are",
    responses={200: ("Unread alerts", None)},
)
def list_alerts():
    user = current_user()
    return {
        "unread": alerts.unread_count(user.id),
        "alerts": [alert_dict(a, e, user.language) for a, e in alerts.unread(user.id)],
    }


@op(
    "POST",
    "/alerts/read",
    role="supervisor",
    tag="alerts",
    summary="Mark the caller's alerts read (all, or up to an alert id)",
    body=ReadIn,
    responses={200: ("How many were marked", None)},
)
def read_alerts(body: ReadIn):
    return {"marked": alerts.mark_read(current_user().id, utcnow(), body.up_to)}
