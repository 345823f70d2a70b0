"""Schema migrations: a new database records them, an existing one gets them applied once,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from server import migrations
from server.db import create_schema, init_db
from server.models import (
    LedgerEntry,
    Product,
    Scanner,
    SchemaMigration,
    Station,
    User,
    utcnow,
)

pytestmark = pytest.mark.alters_schema

FIRST = "0001_active_flags_and_session_version"
#: the columns 0001 adds, as a database made before it lacks them
ADDED = {"user": "session_version", "product": "active", "station": "active", "scanner": "active"}


@pytest.fixture
def database(db_url):
    db = init_db(db_url)
    db.connect(reuse_if_open=True)
    yield db
    db.close()
    if hasattr(db, "close_all"):
        db.close_all()


def _columns(db: pw.Database, table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)}


def _as_before_0001(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0001."""
    for table, column in ADDED.items():
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    SchemaMigration.delete().execute()


def test_every_migration_is_listed_in_order():
    names = [name for name, _module in migrations.available()]
    assert names == sorted(names) and names[0] == FIRST
    assert all(callable(module.up) for _name, module in migrations.available())


def test_an_existing_database_gets_pending_migrations_once(database):
    create_schema(database)
    _as_before_0001(database)
    # rows written by the older release, which knows nothing of the new columns
    now = "2026-01-01 00:00:00"
    database.execute_sql(
        'INSERT INTO "station" ("code", "name", "default_action", "policy", '
        '"operator_required", "created_at") VALUES (%s, %s, %s, %s, %s, %s)'.replace(
            "%s", database.param
        ),
        ("S1", "old", "move", "{}", False, now),
    )
    database.execute_sql(
        'INSERT INTO "product" ("sku", "name", "kind", "tracking", "unit", "created_at") '
        "VALUES (%s, %s, %s, %s, %s, %s)".replace("%s", database.param),
        ("P1", "old", "raw", "unit", "ea", now),
    )
    assert "active" not in _columns(database, "product")

    # every migration is pending (the later ones find their columns there and add nothing)
    assert create_schema(database) == [name for name, _module in migrations.available()]

    for table, column in ADDED.items():
        assert column in _columns(database, table), table
    # rows from before the migration take the new columns' defaults
    assert Product.get(Product.sku == "P1").active is True
    assert Station.get(Station.code == "S1").active is True
    assert SchemaMigration.select().count() == len(migrations.available())
    assert create_schema(database) == []  # a second start changes nothing


def test_a_new_database_records_its_migrations_without_running_them(database, monkeypatch):
    ran = []
    for _name, module in migrations.available():
        monkeypatch.setattr(module, "up", lambda db, m=module: ran.append(m))
    assert create_schema(database) == []
    assert ran == []
    names = [m.name for m in SchemaMigration.select().order_by(SchemaMigration.name)]
    assert names == [name for name, _module in migrations.available()]
    for table, column in ADDED.items():
        assert column in _columns(database, table)
    User.create(username="u", role="admin")
    Scanner.create(id="SC1")
    assert User.get(User.username == "u").session_version == 0
    assert Scanner.get_by_id("SC1").active is True


NEAR_EXPIRY = "0004_near_expiry_days"


def _as_before_0004(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0004."""
    db.execute_sql('ALTER TABLE "product" DROP COLUMN "near_expiry_days"')
    SchemaMigration.delete().where(SchemaMigration.name == NEAR_EXPIRY).execute()


def test_0004_adds_near_expiry_days_to_existing_products(database):
    create_schema(database)
    _as_before_0004(database)
    database.execute_sql(
        'INSERT INTO "product" ("sku", "name", "kind", "tracking", "unit", "active", '
        '"created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)'.replace("%s", database.param),
        ("P1", "old", "raw", "lot", "kg", True, "2026-01-01 00:00:00"),
    )
    assert "near_expiry_days" not in _columns(database, "product")

    assert create_schema(database) == [NEAR_EXPIRY]

    assert "near_expiry_days" in _columns(database, "product")
    assert Product.get(Product.sku == "P1").near_expiry_days is None  # no flag until set
    Product.update(near_expiry_days=14).where(Product.sku == "P1").execute()
    assert Product.get(Product.sku == "P1").near_expiry_days == 14
    assert create_schema(database) == []


REWORK_TO = "0005_station_rework_to"


def test_0005_gives_stations_a_rework_target(database):
    create_schema(database)
    database.execute_sql('ALTER TABLE "station" DROP COLUMN "rework_to_id"')
    SchemaMigration.delete().where(SchemaMigration.name == REWORK_TO).execute()
    database.execute_sql(
        'INSERT INTO "station" ("code", "name", "default_action", "policy", '
        '"operator_required", "active", "created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)'.replace(
            "%s", database.param
        ),
        ("RW", "old", "move", "{}", False, True, "2026-01-01 00:00:00"),
    )

    assert create_schema(database) == [REWORK_TO]

    assert "rework_to_id" in _columns(database, "station")
    assert Station.get(Station.code == "RW").rework_to_id is None


REASON_LABELS = "0002_reason_labels"
#: the columns 0002 adds: the scanner's reason for its next scan, the reason a row records
ADDED_0002 = {"scanner": "why", "ledger_entry": "why"}


def _as_before_0002(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0002."""
    for table, column in ADDED_0002.items():
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    SchemaMigration.delete().where(SchemaMigration.name == REASON_LABELS).execute()


def test_0002_adds_the_reason_columns(database):
    create_schema(database)
    _as_before_0002(database)
    database.execute_sql(
        'INSERT INTO "scanner" ("id", "name", "active", "created_at") '
        "VALUES (%s, %s, %s, %s)".replace("%s", database.param),
        ("SC-OLD", "", True, "2026-01-01 00:00:00"),
    )
    database.execute_sql(
        'INSERT INTO "ledger_entry" ("origin", "status", "message", "warnings", "received_at") '
        "VALUES (%s, %s, %s, %s, %s)".replace("%s", database.param),
        ("api", "accepted", "old", "[]", "2026-01-01 00:00:00"),
    )
    assert "why" not in _columns(database, "scanner")

    ran = create_schema(database)

    assert ran[0] == REASON_LABELS
    for table, column in ADDED_0002.items():
        assert column in _columns(database, table), table
    assert Scanner.get_by_id("SC-OLD").why is None
    assert LedgerEntry.get(LedgerEntry.message == "old").why is None
    assert create_schema(database) == []


ITEM_HOLD = "0003_item_hold"
ADDED_0003 = ("held", "held_why", "held_by_id", "held_at")


def _as_before_0003(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0003."""
    db.execute_sql('DROP INDEX IF EXISTS "item_held"')
    db.execute_sql('DROP INDEX IF EXISTS "item_held_station"')  # the floor's (server/db.py)
    for column in ADDED_0003:
        db.execute_sql(f'ALTER TABLE "item" DROP COLUMN "{column}"')
    SchemaMigration.delete().where(SchemaMigration.name == ITEM_HOLD).execute()


def test_0003_adds_the_hold_columns(database):
    from server.models import Item

    create_schema(database)
    _as_before_0003(database)
    now = "2026-01-01 00:00:00"
    database.execute_sql(
        'INSERT INTO "product" ("sku", "name", "kind", "tracking", "unit", "active", '
        '"created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)'.replace("%s", database.param),
        ("P1", "old", "raw", "lot", "kg", True, now),
    )
    product_id = Product.get(Product.sku == "P1").id
    database.execute_sql(
        'INSERT INTO "item" ("code", "product_id", "stage", "qty", "created_at", "stage_at") '
        "VALUES (%s, %s, %s, %s, %s, %s)".replace("%s", database.param),
        ("K-OLD", product_id, "raw", 5, now, now),
    )
    assert "held" not in _columns(database, "item")

    assert create_schema(database) == [ITEM_HOLD]

    assert set(ADDED_0003) <= _columns(database, "item")
    assert {"item_held", "item_held_station"} <= {i.name for i in database.get_indexes("item")}
    old = Item.get(Item.code == "K-OLD")
    assert (old.held, old.held_why, old.held_by_id, old.held_at) == (False, None, None, None)


PLACES = "0009_places"
#: the columns 0009 adds; its tables (site, location, location_counter) are new
ADDED_0009 = {
    "station": "location_id",
    "scanner": "location_id",
    "item": "location_id",
    "ledger_entry": "location_id",
}


def _as_before_0009(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0009."""
    db.execute_sql('DROP INDEX IF EXISTS "item_location"')
    for table, column in ADDED_0009.items():
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    for table in ("location_counter", "location", "site"):
        db.execute_sql(f'DROP TABLE "{table}"')
    SchemaMigration.delete().where(SchemaMigration.name == PLACES).execute()


def test_0009_gives_a_default_site_a_location_per_station_and_every_item_a_place(database):
    from server.core import stock
    from server.models import Item, Location, Site

    create_schema(database)
    _as_before_0009(database)
    now = "2026-01-01 00:00:00"

    def insert(sql: str, *values) -> None:
        database.execute_sql(sql.replace("%s", database.param), values)

    for code in ("RECV", "LINE"):
        insert(
            'INSERT INTO "station" ("code", "name", "default_action", "policy", '
            '"operator_required", "active", "created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)',
            code, f"old {code}", "receive", "{}", False, True, now,
        )  # fmt: skip
    insert(
        'INSERT INTO "product" ("sku", "name", "kind", "tracking", "unit", "active", '
        '"created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)',
        "P1", "old", "raw", "lot", "kg", True, now,
    )  # fmt: skip
    product_id = Product.get(Product.sku == "P1").id
    # by hand: the model reads the column the old schema lacks
    line_id = database.execute_sql(
        'SELECT "id" FROM "station" WHERE "code" = %s'.replace("%s", database.param), ("LINE",)
    ).fetchone()[0]
    for code, stage, station_id in (("K-AT", "raw", line_id), ("K-NEW", "new", None)):
        insert(
            'INSERT INTO "item" ("code", "product_id", "stage", "qty", "station_id", '
            '"created_at", "stage_at", "held") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            code, product_id, stage, 5, station_id, now, now, False,
        )  # fmt: skip
    insert(
        'INSERT INTO "scanner" ("id", "name", "active", "created_at") VALUES (%s, %s, %s, %s)',
        "SC-OLD", "", True, now,
    )  # fmt: skip
    assert "location_id" not in _columns(database, "item")

    assert create_schema(database) == [PLACES]

    for table, column in ADDED_0009.items():
        assert column in _columns(database, table), table
    assert "item_location" in {i.name for i in database.get_indexes("item")}
    assert [s.code for s in Site.select()] == ["MAIN"]
    line = Location.get(Location.code == "LINE")
    assert (line.kind, line.site_id) == ("line", Site.get().id)
    assert Station.get(Station.code == "LINE").location_id == line.id
    assert Station.get(Station.code == "RECV").location_id is not None
    assert Item.get(Item.code == "K-AT").location_id == line.id
    assert Item.get(Item.code == "K-NEW").location_id is None  # placed when received
    assert Scanner.get_by_id("SC-OLD").location_id is None
    assert stock.location_counters()[(line.id, product_id, "raw")] == (1, 5)


REWORK_REASONS = "0006_rework_reasons"


def _as_before_0006(db: pw.Database) -> None:
    """A reason list of the release before 0006: no reason applies to a rework."""
    from server.models import Reason

    Reason.delete().where(Reason.code.in_(["ASSEMBLY", "REPAIR"])).execute()
    for reason in Reason.select():
        uses = [u for u in reason.applies_to or [] if u != "rework"]
        Reason.update(applies_to=uses).where(Reason.id == reason.id).execute()
    SchemaMigration.delete().where(SchemaMigration.name == REWORK_REASONS).execute()


def test_0006_gives_a_reason_list_its_rework_reasons(database):
    from server.core import reasonlist
    from server.models import Reason

    create_schema(database)
    _as_before_0006(database)
    # the plant wrote its own REPAIR already: it stays the plant's
    Reason.create(
        code="REPAIR", text_en="Our repair", text_id="Perbaikan kami", applies_to=["hold"]
    )

    assert create_schema(database) == [REWORK_REASONS]

    rework = {r.code: r for r in Reason.select() if "rework" in (r.applies_to or [])}
    assert set(rework) == {"ASSEMBLY"}
    assert (rework["ASSEMBLY"].text_en, rework["ASSEMBLY"].text_id) == (
        "Assembly error",
        "Kesalahan perakitan",
    )
    assert reasonlist.check_reason("assembly", "rework").code == "ASSEMBLY"
    assert Reason.get(Reason.code == "REPAIR").text_en == "Our repair"


EVENTS = "0007_events"
#: the tables 0007 adds: the outbox, the flags last raised, the sinks and their attempts
ADDED_0007 = ("delivery_attempt", "sink", "flag_state", "event")


def _as_before_0007(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0007."""
    for table in ADDED_0007:
        db.execute_sql(f'DROP TABLE "{table}"')
    SchemaMigration.delete().where(SchemaMigration.name == EVENTS).execute()


def test_0007_adds_the_event_tables(database):
    create_schema(database)
    _as_before_0007(database)
    assert not set(ADDED_0007) & set(database.get_tables())

    assert create_schema(database) == [EVENTS]

    assert set(ADDED_0007) <= set(database.get_tables())
    assert "payload" in _columns(database, "event")
    assert "cursor" in _columns(database, "sink")
    assert create_schema(database) == []


LABEL_TEMPLATES = "0008_label_templates"


def _as_before_0008(db: pw.Database) -> None:
    """The schema of the release before 0008: no label_template table."""
    db.execute_sql('DROP TABLE "label_template"')
    SchemaMigration.delete().where(SchemaMigration.name == LABEL_TEMPLATES).execute()


def test_0008_adds_label_templates_with_the_default(database):
    from server.models import LabelTemplate

    create_schema(database)
    _as_before_0008(database)

    assert create_schema(database) == [LABEL_TEMPLATES]

    rows = list(LabelTemplate.select())
    assert [(r.name, r.version) for r in rows] == [("default", 1)]
    assert rows[0].design["width"] == 50.8 and rows[0].design["symbology"] == "code128"
    assert "stage" not in {b["field"] for b in rows[0].design["boxes"]}
    assert create_schema(database) == []
    assert LabelTemplate.select().count() == 1


MACHINES = "0011_machines_shifts_oee"


def _as_before_0011(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0011."""
    for table in ("oee_bucket", "downtime", "machine", "shift"):
        db.execute_sql(f'DROP TABLE "{table}"')
    for column in ("std_minutes", "setup_minutes"):
        db.execute_sql(f'ALTER TABLE "routing_step" DROP COLUMN "{column}"')
    SchemaMigration.delete().where(SchemaMigration.name == MACHINES).execute()


def test_0011_adds_machines_shifts_and_standard_times(database):
    from server.models import Machine, Product, RoutingStep, Shift

    create_schema(database)
    _as_before_0011(database)
    assert "std_minutes" not in _columns(database, "routing_step")

    # create_schema makes the missing tables from the models, the migration the columns
    assert create_schema(database) == [MACHINES]

    assert {"std_minutes", "setup_minutes"} <= _columns(database, "routing_step")
    station = Station.create(code="M1", name="m", default_action="move")
    product = Product.create(sku="P11", name="p", kind="finished")
    step = RoutingStep.create(product=product, seq=1, station=station, std_minutes=2)
    assert RoutingStep.get_by_id(step.id).setup_minutes is None
    Machine.create(code="PRESS1", name="Press", station=station)
    Shift.create(name="Early", start="06:00", end="14:00")
    assert create_schema(database) == []


ALERTS = "0012_alerts"


def _as_before_0012(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0012."""
    for table in ("alert", "alert_subscription"):
        db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql('ALTER TABLE "user" DROP COLUMN "email"')
    SchemaMigration.delete().where(SchemaMigration.name == ALERTS).execute()


def test_0012_adds_alerts_and_the_users_email(database):
    from server.core import alerts
    from server.models import Alert, utcnow

    create_schema(database)
    User.create(username="boss", role="supervisor")
    _as_before_0012(database)
    assert "email" not in _columns(database, "user")

    assert create_schema(database) == [ALERTS]

    boss = User.get(User.username == "boss")
    assert boss.email is None
    User.update(email="boss@plant.example").where(User.id == boss.id).execute()
    alerts.subscribe(boss, ["late"], now=utcnow())
    Alert.create(user=boss, event_id=1, kind="late")
    assert alerts.unread_count(boss.id) == 1


COUNTS = "0014_counts_and_shipments"


def _as_before_0014(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0014."""
    for table in ("count_line", "cycle_count", "shipment"):
        db.execute_sql(f'DROP TABLE "{table}"')
    for table, column in (
        ("scanner", "count_id"),
        ("scanner", "shipment_id"),
        ("item", "shipment_id"),
        ("ledger_entry", "shipment_id"),
    ):
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    SchemaMigration.delete().where(SchemaMigration.name == COUNTS).execute()


def test_0014_adds_cycle_counts_shipments_and_the_scanners_context(database):
    from server.models import CountLine, CycleCount

    create_schema(database)
    _as_before_0014(database)
    assert "count_id" not in _columns(database, "scanner")
    # a scanner of the older release, which knows nothing of count mode
    database.execute_sql(
        'INSERT INTO "scanner" ("id", "name", "active", "created_at") '
        "VALUES (%s, %s, %s, %s)".replace("%s", database.param),
        ("old-sc", "old", True, "2026-01-01 00:00:00"),
    )
    assert create_schema(database) == [COUNTS]
    assert {"count_id", "shipment_id"} <= _columns(database, "scanner")
    assert "shipment_id" in _columns(database, "item")
    assert "shipment_id" in _columns(database, "ledger_entry")
    assert Scanner.get_by_id("old-sc").count_id is None
    count = CycleCount.create(site_id=1, scope=[1])
    CountLine.create(count_id=count.id, item_id=1, counted=3)
    assert CycleCount.get_by_id(count.id).status == "open"


PRINT_JOBS = "0013_print_jobs"


def _as_before_0013(db: pw.Database) -> None:
    """Turn the current schema into the one of the release before 0013."""
    for table in ("print_rule", "print_job"):
        db.execute_sql(f'DROP TABLE "{table}"')
    SchemaMigration.delete().where(SchemaMigration.name == PRINT_JOBS).execute()


def test_0013_adds_print_jobs_and_rules(database):
    from server.models import Printer, PrintJob, PrintRule

    create_schema(database)
    _as_before_0013(database)
    assert "print_job" not in database.get_tables()

    assert create_schema(database) == [PRINT_JOBS]

    station = Station.create(code="END", name="End", default_action="complete")
    printer = Printer.create(name="zebra-1", kind="zpl-tcp", address="127.0.0.1")
    PrintRule.create(station=station, event="complete", printer=printer)
    job = PrintJob.create(printer=printer, source="test", data=b"^XA^XZ")
    assert PrintJob.get_by_id(job.id).state == "queued"
    assert bytes(PrintJob.get_by_id(job.id).data) == b"^XA^XZ"
    assert create_schema(database) == []


USER_SITES = "0017_user_sites"


def test_0017_leaves_every_existing_user_on_every_site(database):
    from server.core import siteaccess
    from server.core.locations import create_site

    create_schema(database)
    User.create(username="ana", role="supervisor")
    database.execute_sql('ALTER TABLE "user" DROP COLUMN "site_ids"')
    SchemaMigration.delete().where(SchemaMigration.name == USER_SITES).execute()
    assert "site_ids" not in _columns(database, "user")

    assert create_schema(database) == [USER_SITES]

    ana = User.get(User.username == "ana")
    assert ana.site_ids is None and siteaccess.site_ids(ana) is None
    site = create_site("SBY", "Surabaya")
    assert siteaccess.set_sites(ana, ["sby"]) == [site.id]
    assert User.get(User.username == "ana").site_ids == [site.id]


SHIFT_SITES = "0016_shifts_per_site"


def test_0016_gives_shifts_a_site_and_breaks(database):
    from server.core import shifts
    from server.models import Shift, Site

    create_schema(database)
    # the schema before 0016: no site or breaks, the name unique on its own
    database.execute_sql('DROP INDEX IF EXISTS "shift_site_name"')
    for column in ("site_id", "breaks"):
        database.execute_sql(f'ALTER TABLE "shift" DROP COLUMN "{column}"')
    database.execute_sql('CREATE UNIQUE INDEX "shift_name" ON "shift" ("name")')
    SchemaMigration.delete().where(SchemaMigration.name == SHIFT_SITES).execute()
    database.execute_sql(
        'INSERT INTO "shift" ("name", "start", "end", "active", "created_at") '
        "VALUES (%s, %s, %s, %s, %s)".replace("%s", database.param),
        ("Early", "06:00", "14:00", True, "2026-01-01 00:00:00"),
    )

    assert create_schema(database) == [SHIFT_SITES]

    old = Shift.get(Shift.name == "Early")
    assert (old.site_id, old.breaks) == (None, [])  # every site, no breaks: as before
    indexes = {i.name for i in database.get_indexes("shift")}
    assert "shift_name" not in indexes and "shift_site_name" in indexes
    Site.create(code="EAST", name="East")
    shifts.create("Early", "07:00", "15:00", site="EAST", breaks=["10:00-10:15"])
    with pytest.raises(pw.IntegrityError), database.atomic():
        Shift.create(name="Early", start="08:00", end="16:00")  # a second plant-wide Early


PRINTER_FIELDS = "0015_printer_site_dpi_media"


def test_0015_gives_printers_a_site_dpi_and_media(database):
    from server.models import Printer

    create_schema(database)
    columns = ("site_id", "dpi", "media_width_mm", "media_height_mm", "media_kind")
    for column in columns:
        database.execute_sql(f'ALTER TABLE "printer" DROP COLUMN "{column}"')
    SchemaMigration.delete().where(SchemaMigration.name == PRINTER_FIELDS).execute()
    # a printer of the older release, which knows nothing of dpi or media
    database.execute_sql(
        'INSERT INTO "printer" ("name", "kind", "address", "active", "created_at") '
        "VALUES (%s, %s, %s, %s, %s)".replace("%s", database.param),
        ("zebra-old", "zpl-tcp", "10.0.0.9", True, "2026-01-01 00:00:00"),
    )
    assert create_schema(database) == [PRINTER_FIELDS]
    assert set(columns) <= _columns(database, "printer")
    old = Printer.get(Printer.name == "zebra-old")
    # drawn at 203 dpi as before, media not known: not checked
    assert (old.dpi, old.site_id, old.media_width_mm, old.media_kind) == (203, None, None, "gap")
    assert create_schema(database) == []


LAST_LEDGER_ID = "0018_scanner_last_ledger_id"


def test_0018_gives_each_scanner_the_id_of_its_last_answer(database):
    create_schema(database)
    station = Station.create(code="S1", name="one", default_action="move")
    Scanner.create(id="sc-1", station=station.id)
    Scanner.create(id="sc-2", station=station.id)  # never scanned
    stamp = utcnow()
    rows = [
        LedgerEntry.create(
            scanner_id="sc-1",
            action="move",
            status=status,
            received_at=stamp - dt.timedelta(seconds=s),
        )
        for status, s in (("accepted", 30), ("rejected", 1))
    ]
    later = LedgerEntry.create(  # received after the stamp: not its last answer yet
        scanner_id="sc-1", action="move", status="accepted", received_at=stamp + dt.timedelta(1)
    )
    Scanner.update(last_scan_at=stamp).where(Scanner.id == "sc-1").execute()
    database.execute_sql('ALTER TABLE "scanner" DROP COLUMN "last_ledger_id"')
    SchemaMigration.delete().where(SchemaMigration.name == LAST_LEDGER_ID).execute()
    assert "last_ledger_id" not in _columns(database, "scanner")

    assert create_schema(database) == [LAST_LEDGER_ID]

    assert Scanner.get_by_id("sc-1").last_ledger_id == rows[1].id != later.id
    assert Scanner.get_by_id("sc-2").last_ledger_id is None
    assert create_schema(database) == []


TOTALS = "0019_location_totals"


def test_0019_sums_the_subtree_totals_and_site_counters_of_existing_stock(database):
    """A database of the release before 0019 has location counters but no totals: the
    upgrade makes the tables and sums them, a bin's stock counted in its areas above."""
    from server.core import locations, stock
    from server.models import Item, Location

    create_schema(database)
    product = Product.create(sku="P1", name="one", kind="raw", tracking="lot", unit="kg")
    store = locations.create(code="STORE", kind="area")
    shelf = locations.create(code="SHELF", kind="area", parent="STORE")
    a_bin = locations.create(code="BIN-1", kind="bin", parent="SHELF")
    for n, (where, stage, qty) in enumerate(
        [(a_bin, "raw", 5), (a_bin, "raw", 2.5), (shelf, "wip", 1), (a_bin, "shipped", 9)]
    ):
        Item.create(code=f"K-{n}", product=product.id, stage=stage, qty=qty, location_id=where.id)
    stock.rebuild_locations(database)
    for table in ("location_total", "site_counter"):
        database.execute_sql(f'DROP TABLE "{table}"')
    SchemaMigration.delete().where(SchemaMigration.name == TOTALS).execute()

    assert create_schema(database) == [TOTALS]

    totals, site_counters = stock.stored_totals()
    assert (totals, site_counters) == stock.recount_totals_from_items()
    assert totals[(store.id, "kg")] == (3, 8.5) and totals[(a_bin.id, "kg")] == (2, 7.5)
    assert site_counters[(Location.get_by_id(a_bin.id).site_id, product.id, "wip")] == (1, 1)
    assert create_schema(database) == []
