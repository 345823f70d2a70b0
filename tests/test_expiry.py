"""Expiry: FEFO picking by bare GTIN and by GTIN + lot, `expired` rejected or warned per
station, the plant's local day, and the supplier's (17) kept on the received item."""

from __future__ import annotations

import datetime as dt

import pytest

from server.core.scans import ScanIn, apply_scan
from server.models import Item, LedgerEntry, Station
from tests.conftest import GTIN_BOLT, new_scan_id

#: the day of the pick (naive UTC noon); receipts are a month before, an hour apart
PICK = dt.datetime(2026, 6, 15, 12, 0)
TODAY = PICK.date()


def _scan(db, scanner, code, *, now=PICK, tz=None, **kw):
    scan = ScanIn(scan_id=new_scan_id(), scanner_id=scanner, code=code, **kw)
    return apply_scan(db, scan, now=now, tz=tz)


def _label(lot: str, expiry: dt.date | None, qty: int = 10) -> str:
    exp = f"17{expiry:%y%m%d}" if expiry is not None else ""
    return f"]C101{GTIN_BOLT}{exp}10{lot}\x1d37{qty}"


def _receive(db, lots):
    """Receive (name, lot, expiry offset in days from TODAY or None) in this order, an
    hour apart; the item code of each name."""
    out = {}
    for n, (name, lot, offset) in enumerate(lots):
        expiry = None if offset is None else TODAY + dt.timedelta(days=offset)
        at = PICK - dt.timedelta(days=30) + dt.timedelta(hours=n)
        r = _scan(db, "sc-recv", _label(lot, expiry), now=at)
        assert r.accepted, r
        out[name] = r.item
    return out


# (case, received in this order: (name, lot, expiry offset or None), scanned, picked or
# the reason of the rejection)
FEFO_CASES = [
    ("earliest expiry beats older receipt", [("a", "L1", 30), ("b", "L2", 10)], None, "b"),
    ("same expiry: oldest receipt", [("a", "L1", 10), ("b", "L2", 10)], None, "a"),
    ("no expiry after an expiry", [("a", "L1", None), ("b", "L2", 100)], None, "b"),
    ("no expiry at all: oldest receipt", [("a", "L1", None), ("b", "L2", None)], None, "a"),
    ("expired skipped for unexpired", [("a", "L1", -1), ("b", "L2", 5)], None, "b"),
    ("expired skipped for no expiry", [("a", "L1", -3), ("b", "L2", None)], None, "b"),
    ("expiring today is not expired", [("a", "L1", 0), ("b", "L2", 5)], None, "a"),
    ("only expired: expired", [("a", "L1", -2), ("b", "L2", -1)], None, "expired"),
    (
        "lot scan: FEFO inside the lot",
        [("a", "L1", 20), ("b", "L1", 10), ("c", "L2", 1)],
        "L1",
        "b",
    ),
    ("lot scan: expired lot", [("a", "L1", -1), ("b", "L2", 5)], "L1", "expired"),
]


@pytest.mark.parametrize(
    ("lots", "lot", "expected"),
    [c[1:] for c in FEFO_CASES],
    ids=[c[0] for c in FEFO_CASES],
)
def test_fefo_pick(plant, db, lots, lot, expected):
    plant.order("WO-1", "WIDGET", 100)
    # a received expiry goes to the item, pick or no pick
    received = _receive(db, lots)
    for name, _lot, offset in lots:
        want = None if offset is None else TODAY + dt.timedelta(days=offset)
        assert Item.get(Item.code == received[name]).expiry == want
    code = f"]C101{GTIN_BOLT}10{lot}" if lot else f"]C101{GTIN_BOLT}"
    r = _scan(db, "sc-line", code)
    if expected == "expired":
        assert (r.status, r.reason) == ("rejected", "expired"), r
        assert r.item == received["a"]  # the earliest-expired one, recorded on the row
        assert LedgerEntry.get(LedgerEntry.scan_id == r.scan_id).reason == "expired"
        assert Item.get(Item.code == received["a"]).stage == "component"
    else:
        assert r.accepted, r
        assert r.item == received[expected]
        assert Item.get(Item.code == r.item).stage == "wip"


def test_expired_warns_where_the_station_says_so(plant, db):
    Station.update(policy={"expired": "warn"}).where(Station.code == "LINE").execute()
    plant.order("WO-1", "WIDGET", 100)
    received = _receive(db, [("a", "L1", -1)])
    r = _scan(db, "sc-line", f"]C101{GTIN_BOLT}")
    assert r.accepted and r.item == received["a"]
    assert [w["code"] for w in r.warnings] == ["expired"]
    assert "L1" in r.warnings[0]["message"]


def test_expired_item_by_its_own_code_rejected_then_scrapped(plant, db):
    plant.order("WO-1", "WIDGET", 100)
    received = _receive(db, [("a", "L1", -1), ("b", "L2", 5)])
    # an explicit scan of the expired item: no FEFO, the answer is `expired`
    r = _scan(db, "sc-line", received["a"])
    assert (r.status, r.reason) == ("rejected", "expired")
    # scrapping is how expired stock leaves: not refused for being expired
    sup = plant.scan("sc-line", "CMD-OP-B-SUPERVISOR", expected=201)
    assert sup["status"] == "accepted"
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    r = _scan(db, "sc-line", received["a"], note="expired")
    assert r.accepted and r.stage == "scrapped", r


def test_expired_at_receiving(plant, db):
    r = _scan(db, "sc-recv", _label("OLD", TODAY - dt.timedelta(days=1)))
    assert (r.status, r.reason) == ("rejected", "expired")
    assert Item.select().where(Item.lot == "OLD").count() == 0


def test_expiry_turns_at_the_plant_midnight(plant, db):
    plant.order("WO-1", "WIDGET", 100)
    received = _receive(db, [("a", "L1", 0), ("b", "L2", 5)])
    late = dt.datetime(2026, 6, 15, 20, 0)  # 03:00 on the 16th in Jakarta
    # in UTC it is still the 15th: L1 expires today and is picked first
    utc = _scan(db, "sc-line", received["a"], now=late, tz="UTC", qty=1)
    assert utc.accepted, utc
    # in Jakarta it is the 16th: L1 has expired, FEFO takes L2
    jkt = _scan(db, "sc-line", f"]C101{GTIN_BOLT}", now=late, tz="Asia/Jakarta")
    assert jkt.accepted and jkt.item == received["b"], jkt


def test_http_scan_uses_the_plant_timezone(plant, app, db):
    app.config["PLANT_TIMEZONE"] = "Pacific/Kiritimati"  # UTC+14: already tomorrow or later
    plant.order("WO-1", "WIDGET", 100)
    today_utc = dt.datetime.now(dt.UTC).date()
    label = f"]C101{GTIN_BOLT}17{today_utc:%y%m%d}10L1\x1d3710"
    Station.update(policy={"expired": "warn"}).where(Station.code == "RECV").execute()
    plant.scan("sc-recv", label, expected=201)
    r = plant.scan("sc-line", f"]C101{GTIN_BOLT}")
    if dt.datetime.now(dt.UTC).hour >= 10:  # local day at UTC+14 is past today_utc
        assert r["reason"] == "expired", r
    else:
        assert r["status"] == "accepted", r


# --- the near_expiry flag -----------------------------------------------------------------


def test_near_expiry_days_set_and_checked_through_the_api(plant, api):
    body = {"sku": "MILK", "name": "Milk", "kind": "raw", "tracking": "lot"}
    created = api.post("/api/products", {**body, "near_expiry_days": 5}, expected=201)
    assert created.get_json()["near_expiry_days"] == 5
    assert api.get("/api/products/BOLT").get_json()["near_expiry_days"] is None
    r = api.call("PATCH", "/api/products/BOLT", {"near_expiry_days": 14}, expected=200)
    assert r.get_json()["near_expiry_days"] == 14
    api.call("PATCH", "/api/products/BOLT", {"name": "Bolt M6 zinc"}, expected=200)
    assert api.get("/api/products/BOLT").get_json()["near_expiry_days"] == 14  # kept
    for bad in (-1, 3651, "7", 2.5, True):
        r = api.call("PATCH", "/api/products/BOLT", {"near_expiry_days": bad}, expected=400)
        assert r.get_json()["error"] == "bad_payload", bad
    r = api.call("PATCH", "/api/products/BOLT", {"near_expiry_days": None}, expected=200)
    assert r.get_json()["near_expiry_days"] is None  # a null clears it: no flag


def test_near_expiry_flag_rises_for_the_product(plant, api, db):
    from server.core import flags

    # stock of BOLT: expired, expiring in 3 and in 10 days, and one with no expiry
    Station.update(policy={"expired": "warn"}).where(Station.code == "RECV").execute()
    today = dt.datetime.now(dt.UTC).date()  # the test app's plant day (UTC)
    for lot, offset in (("OLD", -1), ("SOON", 3), ("LATER", 10)):
        label = _label(lot, today + dt.timedelta(days=offset))
        plant.scan("sc-recv", label, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10NONE\x1d3710", expected=201)

    def near():
        return [f for f in api.get("/api/flags").get_json()["flags"] if f["flag"] == "near_expiry"]

    assert near() == []  # no days set: no flag
    api.call("PATCH", "/api/products/BOLT", {"near_expiry_days": 7}, expected=200)
    (flag,) = near()
    assert flag["product"] == "BOLT" and flag["days"] == 7
    assert (flag["count"], flag["expired"], flag["qty"]) == (2, 1, "20")
    assert [(x["lot"], x["expired"]) for x in flag["lots"]] == [("OLD", True), ("SOON", False)]
    assert "OLD" in flag["message"]
    assert api.get("/api/flags").get_json()["counts"]["near_expiry"] == 1
    # a week on, LATER is within 7 days too
    later = flags.compute(dt.datetime.now(), today=today + dt.timedelta(days=4))
    (flag,) = [f for f in later.products if f["flag"] == "near_expiry"]
    assert [x["lot"] for x in flag["lots"]] == ["OLD", "SOON", "LATER"]
    # used stock is no longer flagged
    plant.order("WO-1", "WIDGET", 100)
    Station.update(policy={"expired": "warn"}).where(Station.code == "LINE").execute()
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10OLD", expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10SOON", expected=201)
    assert near() == []


def test_ingest_reads_the_plant_timezone():
    from server.ingest import IngestConfigError, IngestSettings

    assert IngestSettings.from_env(None, {}).plant_tz == "UTC"
    env = {"PLANT_TIMEZONE": "Asia/Jakarta"}
    assert IngestSettings.from_env(None, env).plant_tz == "Asia/Jakarta"
    with pytest.raises(IngestConfigError, match="PLANT_TIMEZONE"):
        IngestSettings.from_env(None, {"PLANT_TIMEZONE": "Mars/Olympus"})


def test_expired_is_a_station_policy_check_in_the_api_and_the_csv(api):
    body = {"code": "COLD", "name": "Cold store", "default_action": "use"}
    r = api.post("/api/stations", {**body, "policy": {"expired": "warn"}}, expected=201)
    assert r.get_json()["policy"]["expired"] == "warn"
    bad = api.post("/api/stations", {**body, "code": "C2", "policy": {"expired": "ignore"}})
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_payload"
    listed = {s["code"]: s for s in api.get("/api/stations").get_json()["stations"]}
    assert listed["COLD"]["policy"]["expired"] == "warn"
    csv = "code,name,default_action,policy\nC3,Chiller,use,expired=warn\n"
    r = api.post("/api/import/stations", data=csv, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.get_json()
    assert Station.get(Station.code == "C3").policy == {"expired": "warn"}


def test_expiry_check_adds_no_query_to_a_scan_by_the_items_own_label(plant, db, caplog):
    """The hot path: an item read by its own code carries its expiry; checking it (and the
    plant's day, made once per batch) costs no statement."""
    import logging

    soon = (TODAY + dt.timedelta(days=30)).isoformat()
    (dated,) = plant.items("BOLT", qty=5, lot="D", expiry=soon)
    (plain,) = plant.items("BOLT", qty=5, lot="P")

    def statements(code):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            assert _scan(db, "sc-recv", code).accepted
        return len([r for r in caplog.records if r.name == "peewee"])

    counted = statements(dated)
    assert counted > 0 and counted == statements(plain)
