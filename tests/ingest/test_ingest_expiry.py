"""FEFO over MQTT: a bare-GTIN issue published like an agent's, through a real broker and
the real ingest process, takes the earliest-expiring unexpired lot on the plant's day."""

from __future__ import annotations

import datetime as dt

from server.core import plantday
from server.models import Item, Station
from tests.conftest import GTIN_BOLT
from tests.ingest.conftest import wait_for

OK_TIME = "2026-11-26T08:00:00Z"
TZ = "Asia/Jakarta"


def _label(lot: str, expiry: dt.date) -> str:
    return f"]C101{GTIN_BOLT}17{expiry:%y%m%d}10{lot}\x1d3710"


def test_bare_gtin_issue_over_mqtt_takes_the_earliest_expiring_lot(
    plant, broker, make_ingest, peer, monkeypatch
):
    today = plantday.local_date(dt.datetime.now(dt.UTC).replace(tzinfo=None), TZ)
    received = {}
    # received oldest first: LATE, then SOON, then GONE (expired yesterday, taken as warned)
    Station.update(policy={"expired": "warn"}).where(Station.code == "RECV").execute()
    for lot, offset in (("LATE", 60), ("SOON", 10), ("GONE", -1)):
        r = plant.scan("sc-recv", _label(lot, today + dt.timedelta(days=offset)), expected=201)
        received[lot] = r["item"]
    plant.order("WO-1", "WIDGET", 100)
    monkeypatch.setenv("PLANT_TIMEZONE", TZ)
    ingest = make_ingest(broker).start()

    bare = {"scan_id": "fefo-1", "code": f"]C101{GTIN_BOLT}", "scanned_at": OK_TIME}
    peer.publish("sc-line", bare)
    assert wait_for(lambda: "fefo-1" in peer.results, 20), ingest.log()[-3000:]
    first = peer.results["fefo-1"][0]
    assert (first["status"], first["item"]) == ("accepted", received["SOON"]), first
    peer.publish("sc-line", {**bare, "scan_id": "fefo-2"})
    assert wait_for(lambda: "fefo-2" in peer.results, 20), ingest.log()[-3000:]
    assert peer.results["fefo-2"][0]["item"] == received["LATE"]
    # only the expired lot is left: the line station rejects it
    peer.publish("sc-line", {**bare, "scan_id": "fefo-3"})
    assert wait_for(lambda: "fefo-3" in peer.results, 20), ingest.log()[-3000:]
    third = peer.results["fefo-3"][0]
    assert (third["status"], third["reason"], third["item"]) == (
        "rejected",
        "expired",
        received["GONE"],
    )
    stages = {lot: Item.get(Item.code == code).stage for lot, code in received.items()}
    assert stages == {"LATE": "wip", "SOON": "wip", "GONE": "component"}
