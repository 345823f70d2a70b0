"""Webhook subscriptions (admin): POST/GET /api/webhooks, DELETE /api/webhooks/{name},
POST /api/webhooks/{name}/replay. A subscription is a `sink` of kind `webhook`; the
dispatcher delivers to it (docs/events.md)."""

from __future__ import annotations

import secrets
from typing import Literal

import peewee as pw
import pydantic
from flask import current_app

from server.api import op
from server.api.schemas import Answer, Code, Strict, whole_number
from server.core import events
from server.core.errors import Conflict, NotFound
from server.dispatch import add_sink
from server.models import DeliveryAttempt, Event, Sink

#: "*" or one of the event types: the document lists them, so a client learns them from it
EventType = Literal[("*", *sorted(events.TYPES))]


class WebhookIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "erp",
                    "url": "https://erp.example/koordinator",
                    "types": ["scan.accepted", "item.held"],
                }
            ]
        }
    )

    name: Code
    url: str = pydantic.Field(
        min_length=8,
        max_length=500,
        pattern=r"^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[!-~]*)?$",
        description="http(s)://host[:port]/path (a host name or an IPv4 address)",
    )
    types: list[EventType] = pydantic.Field(default_factory=lambda: ["*"], min_length=1)
    secret: str | None = pydantic.Field(
        default=None,
        min_length=16,
        max_length=200,
        description="the HMAC key; a random one is made (and shown once) when absent",
    )


class WebhookOut(Answer):
    name: str
    url: str
    types: list[str]
    active: bool
    cursor: int
    behind: int
    failures: int
    failing_since: str | None
    secret: str | None = None


class ReplayIn(Strict):
    from_event: whole_number(1, 2**62) = pydantic.Field(  # type: ignore[valid-type]
        description="deliver again from this event id on"
    )


def _when(value) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def webhook_dict(sink: Sink, newest: int) -> dict:
    last = (
        DeliveryAttempt.select()
        .where(DeliveryAttempt.sink == sink.id)
        .order_by(DeliveryAttempt.id.desc())
        .first()
    )
    return {
        "name": sink.name,
        "url": sink.config.get("url"),
        "types": sink.types,
        "active": sink.active,
        "cursor": sink.cursor,
        "behind": max(newest - sink.cursor, 0),
        "failures": sink.failures,
        "failing_since": _when(sink.failing_since),
        "last_attempt": None
        if last is None
        else {
            "event": last.event_id,
            "ok": last.ok,
            "detail": last.detail,
            "at": _when(last.at),
        },
    }


def _webhook(name: str) -> Sink:
    sink = Sink.get_or_none((Sink.name == name) & (Sink.kind == "webhook"))
    if sink is None:
        raise NotFound("unknown_webhook", f"No webhook {name}")
    return sink


@op(
    "POST",
    "/webhooks",
    role="admin",
    tag="webhooks",
    summary="Subscribe a URL to event types (signed with HMAC-SHA256, docs/events.md)",
    body=WebhookIn,
    responses={
        201: ("Subscribed; the secret is shown this once", WebhookOut),
        409: ("Name exists", None),
    },
)
def create_webhook(body: WebhookIn):
    secret = body.secret or secrets.token_hex(24)
    try:
        with current_app.extensions["koordinator.db"].atomic():
            sink = add_sink(body.name, "webhook", {"url": body.url, "secret": secret}, body.types)
    except pw.IntegrityError as exc:
        raise Conflict("exists", f"A sink called {body.name} exists") from exc
    return {**webhook_dict(sink, events.last_id()), "secret": secret}, 201


@op(
    "GET",
    "/webhooks",
    role="admin",
    tag="webhooks",
    summary="The webhook subscriptions with their delivery state",
    responses={200: ("Webhooks", None)},
)
def list_webhooks():
    newest = events.last_id()
    sinks = Sink.select().where(Sink.kind == "webhook").order_by(Sink.name)
    return {"webhooks": [webhook_dict(s, newest) for s in sinks]}


@op(
    "DELETE",
    "/webhooks/<name>",
    role="admin",
    tag="webhooks",
    summary="End a webhook subscription (its delivery log goes with it)",
    responses={200: ("Deleted", None), 404: ("No such webhook", None)},
)
def delete_webhook(name: str):
    sink = _webhook(name)
    with current_app.extensions["koordinator.db"].atomic():
        DeliveryAttempt.delete().where(DeliveryAttempt.sink == sink.id).execute()
        sink.delete_instance()
    return {"deleted": name}


@op(
    "POST",
    "/webhooks/<name>/replay",
    role="admin",
    tag="webhooks",
    summary="Deliver again from an event on (and switch a disabled webhook back on)",
    body=ReplayIn,
    responses={200: ("Replaying", WebhookOut), 404: ("No such webhook or event", None)},
)
def replay_webhook(name: str, body: ReplayIn):
    sink = _webhook(name)
    if Event.get_or_none(Event.id == body.from_event) is None:
        raise NotFound("unknown_event", f"No event {body.from_event}")
    Sink.update(
        cursor=body.from_event - 1, active=True, failures=0, retry_at=None, failing_since=None
    ).where(Sink.id == sink.id).execute()
    return webhook_dict(Sink.get_by_id(sink.id), events.last_id())
