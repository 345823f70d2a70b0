"""The plant's time zone (PLANT_TIMEZONE): a day is the plant's local day for the flags,
the scans of today and the schedule, pages show local times in the page's language, and
a wrong zone name stops the start with a one-line error."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from flask_babel import force_locale

from server import config
from server.core import flags, plantday
from server.core.people import people
from server.models import LedgerEntry, ProductionOrder
from server.web import i18n

JAKARTA = "Asia/Jakarta"  # UTC+7, no summer time
#: 23:30 UTC on 29 November is 06:30 on 30 November in Jakarta
NIGHT = dt.datetime(2026, 11, 29, 23, 30)
ROOT = Path(__file__).resolve().parent.parent


def test_day_boundaries():
    assert plantday.local_date(NIGHT, JAKARTA) == dt.date(2026, 11, 30)
    assert plantday.local_date(NIGHT, None) == dt.date(2026, 11, 29)
    assert plantday.day_start(dt.date(2026, 11, 30), JAKARTA) == dt.datetime(2026, 11, 29, 17)
    # a zone with summer time: Berlin's 29 March 2026 begins at 23:00 UTC the day before
    assert plantday.day_start(dt.date(2026, 3, 29), "Europe/Berlin") == dt.datetime(2026, 3, 28, 23)


def _scan_at(user, when: dt.datetime, n: int) -> None:
    LedgerEntry.create(
        scan_id=f"tz-{n}",
        origin="scan",
        scanner_id="sc-a1",
        code_kind="item",
        status="accepted",
        operator=user.id,
        received_at=when,
    )


def test_a_scan_at_2330_utc_counts_in_the_next_local_day_in_jakarta(db, users):
    user = users["operator"][0]
    _scan_at(user, dt.datetime(2026, 11, 29, 16, 30), 1)  # 23:30 on the 29th in Jakarta
    _scan_at(user, dt.datetime(2026, 11, 29, 23, 10), 2)  # 06:10 on the 30th in Jakarta

    jakarta = people(NIGHT, JAKARTA)
    assert jakarta["date"] == "2026-11-30"
    assert [(p["operator"], p["scans"]) for p in jakarta["today"]] == [("operator1", 1)]

    utc = people(NIGHT)
    assert utc["date"] == "2026-11-29"
    assert [(p["operator"], p["scans"]) for p in utc["today"]] == [("operator1", 2)]


def test_late_and_behind_turn_at_local_midnight(plant):
    plant.order("WO-TZ", "WIDGET", 10)
    ProductionOrder.update(start=dt.date(2026, 11, 20), due=dt.date(2026, 11, 29)).execute()
    local = flags.compute(NIGHT, tz=JAKARTA)
    assert local.today == dt.date(2026, 11, 30)
    names = {f["flag"] for f in local.flat() if f.get("order") == "WO-TZ"}
    assert "late" in names
    utc = flags.compute(NIGHT)
    assert "late" not in {f["flag"] for f in utc.flat() if f.get("order") == "WO-TZ"}


def test_the_api_uses_the_plant_day(app, api, plant):
    app.config["PLANT_TIMEZONE"] = JAKARTA
    today = plantday.local_date(dt.datetime.now(dt.UTC).replace(tzinfo=None), JAKARTA)
    assert api.get("/api/flags", expected=200).get_json()["today"] == today.isoformat()
    assert api.get("/api/people", as_="supervisor", expected=200).get_json()["date"] == (
        today.isoformat()
    )


def test_times_and_dates_on_pages_are_local_and_in_the_pages_language(tmp_path):
    from server import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "PLANT_TIMEZONE": JAKARTA}
    )
    with app.test_request_context("/"):
        with force_locale("id"):
            assert i18n.when(NIGHT) == "30/11/26 06.30"  # day first, 24-hour
            assert i18n.day(dt.date(2026, 11, 29)) == "29 Nov 2026"
        with force_locale("en"):
            assert i18n.when(NIGHT) == "11/30/26, 6:30\u202fAM"
            assert i18n.day(dt.date(2026, 11, 29)) == "Nov 29, 2026"


def test_the_app_takes_the_zone_from_the_environment(monkeypatch, tmp_path):
    from server import create_app

    monkeypatch.setenv("PLANT_TIMEZONE", JAKARTA)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/k.db"})
    assert app.config["PLANT_TIMEZONE"] == JAKARTA
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == JAKARTA


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Jakarta"])
def test_a_wrong_zone_is_refused_with_a_one_line_error(name):
    with pytest.raises(config.ConfigError, match="PLANT_TIMEZONE"):
        config.from_env({"PLANT_TIMEZONE": name})
    assert config.from_env({})["PLANT_TIMEZONE"] == "UTC"


def test_the_cli_stops_on_a_wrong_zone(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "server", "init-db"],
        cwd=ROOT,
        env={"PLANT_TIMEZONE": "Nowhere/City", "DATABASE_URL": f"sqlite:///{tmp_path}/k.db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "PLANT_TIMEZONE='Nowhere/City'" in lines[0], proc.stderr


def test_the_schedule_counts_a_completion_on_the_plants_day(plant):
    from server.core import adherence
    from server.models import Item

    code = plant.items("WIDGET")[0]
    item = Item.get(Item.code == code)
    for n, when in enumerate(
        [dt.datetime(2026, 11, 29, 16, 30), dt.datetime(2026, 11, 29, 23, 10)]
    ):
        LedgerEntry.create(
            origin="scan",
            action="complete",
            status="accepted",
            item=item.id,
            qty=1,
            received_at=when,
            scan_id=f"tz-c{n}",
        )
    days = (dt.date(2026, 11, 29), dt.date(2026, 11, 30))
    jakarta = adherence.completed_by_day(*days, tz=JAKARTA, now=NIGHT)
    assert {d.isoformat(): int(q) for (_p, d), q in jakarta.items()} == {
        "2026-11-29": 1,
        "2026-11-30": 1,
    }
    utc = adherence.completed_by_day(*days, now=NIGHT)
    assert {d.isoformat(): int(q) for (_p, d), q in utc.items()} == {"2026-11-29": 2}
