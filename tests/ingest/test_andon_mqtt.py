"""The andon sink against a real Mosquitto: a station's stack light topic turns red within
a second of a held unit at the station, green again when it is released, amber within a
second of a scan let through with a warning, and a light that connects later gets the
colour standing now (retained)."""

from __future__ import annotations

import json
import time

from server.core import andon
from server.dispatch import Dispatcher, DispatchSettings, add_sink
from tests.ingest.test_dispatch_mqtt import Subscriber, _until
from tests.test_scans import _in_stock

LIGHT = "koordinator/stations/RECV/andon"
FAST = DispatchSettings(poll_s=0.05, timeout_s=2, flags=False)


def _colours(sub: Subscriber) -> list[bytes]:
    return [p for t, p, _r in sub.got() if t == LIGHT]


def test_the_light_turns_red_within_a_second_of_a_held_unit(broker, db, plant):
    steel = _in_stock(plant, "STEEL", qty=1)
    add_sink("light", "andon", {"url": broker.url}, andon.TYPES)
    sub = Subscriber(broker.host, broker.port, "koordinator/stations/#")
    dispatcher = Dispatcher(db, FAST).start()
    try:
        assert _until(lambda: _colours(sub)[-1:] == [b"green"]), sub.got()
        started = time.monotonic()
        plant.api.post(f"/api/items/{steel}/hold", {"reason": "DAMAGED"}, expected=200)
        assert _until(lambda: _colours(sub)[-1:] == [b"red"], timeout=1.0), sub.got()
        took = time.monotonic() - started
        assert took < 1.0, took
        detail = [json.loads(p) for t, p, _r in sub.got() if t == LIGHT + "/detail"][-1]
        assert detail == {"station": "RECV", "colour": "red", "why": ["held:1"]}

        # a light switched on now learns the colour standing (retained)
        late = Subscriber(broker.host, broker.port, LIGHT)
        assert _until(lambda: late.got())
        assert late.got()[0][1:] == (b"red", True)
        late.close()

        plant.api.post(f"/api/items/{steel}/release", {"reason": "QC_OK"}, as_="supervisor")
        assert _until(lambda: _colours(sub)[-1:] == [b"green"], timeout=1.0), sub.got()
        # a rejection at the station is red too
        plant.scan("sc-recv", "nonsense", expected=422)
        assert _until(lambda: _colours(sub)[-1:] == [b"red"], timeout=1.0), sub.got()
        # other stations were published once, green, and never changed
        line = [p for t, p, _r in sub.got() if t == "koordinator/stations/LINE/andon"]
        assert line == [b"green"]
    finally:
        dispatcher.stop()
        sub.close()


def test_a_warning_at_the_station_turns_its_light_amber(broker, db, plant):
    """A scan let through with a warning (a unit at a station off its routing, where the
    station's policy warns): the station's light is amber within a second, and says why."""
    from server.models import Station
    from tests.test_scans import _started

    Station.update(policy={"wrong_station": "warn"}).where(Station.code == "QA").execute()
    unit = _started(plant)
    qa = "koordinator/stations/QA/andon"
    add_sink("light", "andon", {"url": broker.url}, andon.TYPES)
    sub = Subscriber(broker.host, broker.port, "koordinator/stations/#")
    dispatcher = Dispatcher(db, FAST).start()
    try:
        lights = lambda: [p for t, p, _r in sub.got() if t == qa]  # noqa: E731
        assert _until(lambda: lights()[-1:] == [b"green"]), sub.got()
        started = time.monotonic()
        answer = plant.scan("sc-qa", unit, expected=201)
        assert answer["warnings"], answer
        assert _until(lambda: lights()[-1:] == [b"amber"], timeout=1.0), sub.got()
        assert time.monotonic() - started < 1.0
        detail = [json.loads(p) for t, p, _r in sub.got() if t == qa + "/detail"][-1]
        assert detail == {"station": "QA", "colour": "amber", "why": ["warning:wrong_station"]}
    finally:
        dispatcher.stop()
        sub.close()
