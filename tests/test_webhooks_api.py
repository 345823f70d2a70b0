"""POST/GET/DELETE /api/webhooks and the replay (admin): a subscription made over the API
receives signed events from the dispatcher, and a replay sends a range again."""

from __future__ import annotations

import json
import time

import pytest

from server.dispatch import SIGNATURE_HEADER, Dispatcher, DispatchSettings, verify
from server.models import Event, Sink
from tests.support.receiver import Receiver
from tests.test_scans import _in_stock

FAST = DispatchSettings(poll_s=0.02, backoff_base_s=0.05, timeout_s=1, flags=False)


def _drain(dispatcher, check, timeout=20.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end
        if not dispatcher.run_once():
            time.sleep(0.02)


def test_a_subscription_made_over_the_api_receives_signed_events(plant, api, db):
    with Receiver() as rx:
        made = api.post(
            "/api/webhooks",
            {"name": "erp", "url": rx.url(), "types": ["scan.accepted"]},
            expected=201,
        ).get_json()
        assert len(made["secret"]) >= 32 and made["types"] == ["scan.accepted"]
        codes = [_in_stock(plant, "GLOVES") for _ in range(2)]
        listed = api.get("/api/webhooks", expected=200).get_json()["webhooks"]
        assert [(w["name"], w["behind"], w["last_attempt"]) for w in listed] == [("erp", 2, None)]
        assert "secret" not in listed[0]  # shown once, at creation

        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(rx.ids()) == 2)
        bodies = [json.loads(b) for _p, _m, _e, _h, b in rx.requests]
        assert [b["subject"] for b in bodies] == codes
        assert all(verify(made["secret"], h[SIGNATURE_HEADER], b) for *_x, h, b in rx.requests)
        (w,) = api.get("/api/webhooks", expected=200).get_json()["webhooks"]
        assert w["behind"] == 0 and w["last_attempt"]["ok"] is True

        # replay from the first: both again, in order (the receiver dedupes on the id)
        first = rx.ids()[0]
        api.post("/api/webhooks/erp/replay", {"from_event": first}, expected=200)
        _drain(dispatcher, lambda: len(rx.ids()) == 4)
        assert rx.ids()[2:] == rx.ids()[:2]

        api.call("DELETE", "/api/webhooks/erp", expected=200)
        assert Sink.select().count() == 0
        api.call("DELETE", "/api/webhooks/erp", expected=404)


def test_replay_switches_a_disabled_webhook_back_on(plant, api, db):
    api.post("/api/webhooks", {"name": "off", "url": "http://127.0.0.1:9/x"}, expected=201)
    _in_stock(plant, "GLOVES")
    Sink.update(active=False, failures=7).execute()
    first = Event.select().order_by(Event.id).first().id
    out = api.post("/api/webhooks/off/replay", {"from_event": first}, expected=200).get_json()
    assert out["active"] is True and out["failures"] == 0 and out["cursor"] == first - 1
    api.post("/api/webhooks/off/replay", {"from_event": 10**9}, expected=404)


@pytest.mark.parametrize(
    "body, status, error",
    [
        ({"name": "x", "url": "ftp://host/x"}, 400, "bad_payload"),
        ({"name": "x", "url": "http://h/x", "types": ["no.such"]}, 400, "bad_payload"),
        ({"name": "x", "url": "http://h/x", "secret": "short"}, 400, "bad_payload"),
    ],
)
def test_bad_subscriptions_are_refused(api, db, body, status, error):
    assert api.post("/api/webhooks", body, expected=status).get_json()["error"] == error


def test_a_name_is_taken_once_and_webhooks_are_for_admins(api, db):
    api.post("/api/webhooks", {"name": "a", "url": "http://h/x"}, expected=201)
    api.post("/api/webhooks", {"name": "a", "url": "http://h/y"}, expected=409)
    for role in ("operator", "supervisor"):
        api.post("/api/webhooks", {"name": "b", "url": "http://h/x"}, as_=role, expected=403)
        api.get("/api/webhooks", as_=role, expected=403)
        api.call("DELETE", "/api/webhooks/a", as_=role, expected=403)
