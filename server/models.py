"""Peewee models: the plant's master data, items, the scan ledger and stock counters.

Models are bound to `database_proxy`, which `server.db.init_db()` points at the database
named by DATABASE_URL. Nothing here knows about URLs, Flask or MQTT.

Quantities are `DecimalField`s (a lot of 12.5 kg of resin is normal); counts of items are
integers. Times are stored as naive UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import json

import peewee as pw

from server.core.stages import Action, Kind, Stage, Tracking

database_proxy = pw.DatabaseProxy()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JSONField(pw.TextField):
    """JSON stored as text, so SQLite and PostgreSQL hold it the same way."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


def Qty(**kw) -> pw.DecimalField:  # noqa: N802 - reads like a field class
    return pw.DecimalField(max_digits=18, decimal_places=4, auto_round=True, **kw)


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in enum_cls]


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class User(BaseModel):
    username = pw.CharField(max_length=64, unique=True)
    password_hash = pw.CharField(max_length=256, null=True)
    role = pw.CharField(
        max_length=16, choices=[(r, r) for r in ("operator", "clerk", "supervisor", "admin")]
    )
    badge = pw.CharField(max_length=64, unique=True, null=True)
    language = pw.CharField(max_length=8, default="en")
    #: where e-mail alerts go (server/core/alerts.py); none: no mail, the pages still show them
    email = pw.CharField(max_length=254, null=True)
    active = pw.BooleanField(default=True)
    #: raised to end every session of the user (logout everywhere, new password, new role)
    session_version = pw.IntegerField(default=0)
    #: the ids of the sites the user is limited to; null: every site (server/core/siteaccess.py)
    site_ids = JSONField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class ApiToken(BaseModel):
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = pw.CharField(max_length=64, default="")
    token_hash = pw.CharField(max_length=64, unique=True)  # sha256 hex of the token
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked = pw.BooleanField(default=False)


class LoginThrottle(BaseModel):
    """Failures counted per key: sign-ins (`pair:<name>|<address>`, `addr:<address>`,
    `user:<name>`) and unknown badges per scanner (`badge:<scanner>`), shared by every
    worker; see server/core/throttle.py for the policy."""

    key = pw.CharField(max_length=200, unique=True)
    failures = pw.IntegerField(default=0)
    last_failure_at = pw.DateTimeField(default=utcnow)
    locked_until = pw.DateTimeField(null=True)


class LoginAttempt(BaseModel):
    """The sign-in audit: who (as typed, and the user if known), from where, when, result."""

    at = pw.DateTimeField(default=utcnow, index=True)
    username = pw.CharField(max_length=64)
    user_id = pw.IntegerField(null=True)
    address = pw.CharField(max_length=64)
    result = pw.CharField(max_length=16)


class Product(BaseModel):
    sku = pw.CharField(max_length=64, unique=True)
    name = pw.CharField(max_length=200)
    kind = pw.CharField(max_length=16, choices=_choices(Kind))
    tracking = pw.CharField(max_length=8, choices=_choices(Tracking), default=Tracking.UNIT)
    gtin = pw.CharField(max_length=14, unique=True, null=True)  # stored as GTIN-14
    unit = pw.CharField(max_length=16, default="ea")
    reorder_point = Qty(null=True)
    #: items in stock expiring within this many days raise the near_expiry flag; null: none
    near_expiry_days = pw.IntegerField(null=True)
    #: an inactive product keeps its items and history but takes no new items or orders
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class BomLine(BaseModel):
    product = pw.ForeignKeyField(Product, backref="bom_lines", on_delete="CASCADE")
    component = pw.ForeignKeyField(Product, backref="used_in")
    qty = Qty()

    class Meta:
        indexes = ((("product", "component"), True),)


class Site(BaseModel):
    """A plant site: it owns locations (and, later, stations, printers and a broker)."""

    code = pw.CharField(max_length=32, unique=True)
    name = pw.CharField(max_length=200)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class Location(BaseModel):
    """A place stock lies in, in a tree under its site: area -> bin, and a station's line
    side (server/core/locations.py). `code` is what its label carries (`LOC-<code>`),
    unique over all sites. `parent_id` and `site_id` are plain ids, not foreign keys (a
    foreign key column cannot be dropped or altered on SQLite; locations are deactivated,
    never deleted)."""

    site_id = pw.IntegerField()
    kind = pw.CharField(max_length=8)  # area | bin | line
    code = pw.CharField(max_length=32, unique=True)
    name = pw.CharField(max_length=200, default="")
    parent_id = pw.IntegerField(null=True, index=True)
    #: what may be stored here: {"products": [sku...], "kinds": [kind...]}; null: anything
    allow = JSONField(null=True)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class Station(BaseModel):
    code = pw.CharField(max_length=32, unique=True)
    name = pw.CharField(max_length=200)
    default_action = pw.CharField(max_length=16, choices=_choices(Action))
    #: check -> "reject" | "warn"; missing checks take reasons.CONFIGURABLE_CHECKS
    policy = JSONField(default=dict)
    operator_required = pw.BooleanField(default=False)
    dwell_limit_minutes = pw.IntegerField(null=True)
    #: for a rework station: the id of the routing station a unit reworked here goes to
    #: next (null, or not on the unit's routing: the routing's first station); see
    #: server/core/rework.py. A plain id, not a foreign key: SQLite cannot drop or alter a
    #: column named in a foreign key, and stations are deactivated, never deleted.
    rework_to_id = pw.IntegerField(null=True)
    #: the station's own location (its line side): where its scans put items
    location_id = pw.IntegerField(null=True)
    #: language of the scan station page and its worker messages; null: the user's
    language = pw.CharField(max_length=8, null=True)
    #: an inactive station keeps its history; its scanners' scans are refused
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class RoutingStep(BaseModel):
    product = pw.ForeignKeyField(Product, backref="routing", on_delete="CASCADE")
    seq = pw.IntegerField()
    station = pw.ForeignKeyField(Station)
    #: standard run time of one unit at this step, minutes (null: not set); see
    #: server/core/labour.py
    std_minutes = Qty(null=True)
    #: setup time of the step once per order, minutes (null: none)
    setup_minutes = Qty(null=True)

    class Meta:
        indexes = ((("product", "seq"), True),)


class ProductionOrder(BaseModel):
    number = pw.CharField(max_length=64, unique=True)
    product = pw.ForeignKeyField(Product, backref="orders")
    qty = Qty()
    start = pw.DateField()
    due = pw.DateField()
    station = pw.ForeignKeyField(Station, null=True, backref="orders")  # the line
    status = pw.CharField(max_length=16, default="planned", index=True)
    completed = Qty(default=0)
    started = Qty(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    released_at = pw.DateTimeField(null=True)
    done_at = pw.DateTimeField(null=True)


class OrderMaterial(BaseModel):
    """Material issued to an order, per component product, kept in step with the ledger."""

    order = pw.ForeignKeyField(ProductionOrder, backref="materials", on_delete="CASCADE")
    product = pw.ForeignKeyField(Product)
    issued = Qty(default=0)
    consumed = Qty(default=0)

    class Meta:
        indexes = ((("order", "product"), True),)


class Scanner(BaseModel):
    """A scanner and its context, changed by command labels until changed again."""

    id = pw.CharField(max_length=64, primary_key=True)
    station = pw.ForeignKeyField(Station, null=True, backref="scanners")
    name = pw.CharField(max_length=200, default="")
    secret_hash = pw.CharField(max_length=256, null=True)  # broker password, hashed
    operator = pw.ForeignKeyField(User, null=True)
    order = pw.ForeignKeyField(ProductionOrder, null=True)
    action = pw.CharField(max_length=16, null=True)
    #: the reason-list code (`CMD-WHY-<code>`) of the next scan only: cleared by the scan
    #: that is accepted with it
    why = pw.CharField(max_length=32, null=True)
    #: the location of the last location label scanned (`LOC-<code>`): where receives and
    #: transfers put items, until another location label or CMD-DONE
    location_id = pw.IntegerField(null=True)
    #: count mode (`CMD-COUNT-<id>`): the cycle count its item scans record sightings for,
    #: until CMD-DONE (server/core/counts.py); a plain id, not a foreign key
    count_id = pw.IntegerField(null=True)
    #: the shipment its ship scans go out in (`SHP-<ref>`, until CMD-DONE)
    shipment_id = pw.IntegerField(null=True)
    context_at = pw.DateTimeField(null=True)
    last_scan_at = pw.DateTimeField(null=True)
    #: the id of its last scan's ledger row, written with `last_scan_at` (the plant floor
    #: reads each scanner's last answer by it); a plain id, not a foreign key
    last_ledger_id = pw.IntegerField(null=True)
    #: an inactive scanner's scans are refused as from an unknown scanner
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class Item(BaseModel):
    code = pw.CharField(max_length=16, unique=True)
    # single-column FK indexes are left out where a composite index below starts with the
    # same column: every scan updates the item, and each index is another write
    product = pw.ForeignKeyField(Product, backref="items", index=False)
    stage = pw.CharField(max_length=16, choices=_choices(Stage), default=Stage.NEW)
    qty = Qty(default=1)
    lot = pw.CharField(max_length=64, null=True)
    serial = pw.CharField(max_length=64, null=True)
    #: unique outside identity: "01<gtin>21<serial>" (SGTIN) or "00<sscc>"
    ext_key = pw.CharField(max_length=64, unique=True, null=True)
    expiry = pw.DateField(null=True)
    station = pw.ForeignKeyField(Station, null=True, backref="items", index=False)
    order = pw.ForeignKeyField(ProductionOrder, null=True, backref="items", index=False)
    parent = pw.ForeignKeyField("self", null=True, backref="children")
    split_from = pw.ForeignKeyField("self", null=True, backref="splits")
    created_at = pw.DateTimeField(default=utcnow)
    stage_at = pw.DateTimeField(default=utcnow)  # when it reached its stage/station
    #: on hold (QC, a suspect lot): a status beside the stage; only release and scrap move
    #: it. Why (a reason-list code), who and when it was held
    held = pw.BooleanField(default=False)
    held_why = pw.CharField(max_length=32, null=True)
    #: the user's id, not a foreign key: only read for the item page, never joined, and a
    #: foreign key column cannot be dropped again on SQLite
    held_by_id = pw.IntegerField(null=True)
    held_at = pw.DateTimeField(null=True)
    #: where it is (server/core/locations.py); a gone item keeps the last one, as station.
    #: Indexed by create_schema after the migrations (item_location: 0009 adds the column)
    location_id = pw.IntegerField(null=True)
    #: the shipment it last left the plant in (a ship scan after a `SHP-<ref>` label); kept
    #: after a return, which names it (server/core/shipments.py)
    shipment_id = pw.IntegerField(null=True)

    class Meta:
        only_save_dirty = True  # a scan updates the columns it changed, not all 15
        indexes = (
            (("product", "stage"), False),
            (("product", "lot", "stage"), False),
            (("order", "stage"), False),
            (("station", "stage"), False),
        )


class LedgerEntry(BaseModel):
    """The append-only history: every scan (accepted or rejected) and every other change.

    `scan_id` is unique for scans; API and system entries (creation, split, consume,
    reprint) leave it null. `result` keeps the answer sent for a scan so a duplicate gets
    the very same answer.

    Every scan inserts a row, so each index is paid on every scan. Indexed: what the pages
    filter on (scan_id, scanner, item, time). The rejected list and an order's planning
    history read through partial indexes that accepted scan rows never touch; operator and
    station are only joined from the ledger row, never searched by (docs/model.md).
    """

    scan_id = pw.CharField(max_length=64, unique=True, null=True)
    origin = pw.CharField(max_length=8, default="scan")  # scan | api | system
    scanner_id = pw.CharField(max_length=64, null=True, index=True)
    raw_code = pw.TextField(null=True)
    code_kind = pw.CharField(max_length=8, null=True)
    action = pw.CharField(max_length=16, null=True)
    item = pw.ForeignKeyField(Item, null=True, backref="ledger")
    from_stage = pw.CharField(max_length=16, null=True)
    to_stage = pw.CharField(max_length=16, null=True)
    qty = Qty(null=True)  # the item's quantity after the entry
    status = pw.CharField(max_length=8, default="accepted")
    #: the rejection reason code (server/core/reasons.py) of a rejected row
    reason = pw.CharField(max_length=32, null=True)
    message = pw.CharField(max_length=200, default="")
    note = pw.CharField(max_length=200, null=True)
    #: the reason-list code a worker gave (reason label or the scan's "reason"), not a
    #: rejection reason: see `reason` above and server/core/reasonlist.py
    why = pw.CharField(max_length=32, null=True)
    warnings = JSONField(default=list)
    operator = pw.ForeignKeyField(User, null=True, index=False)
    station = pw.ForeignKeyField(Station, null=True, index=False)
    #: where the item is after the entry (a location label's location for its own row)
    location_id = pw.IntegerField(null=True)
    order = pw.ForeignKeyField(ProductionOrder, null=True, index=False)
    #: a ship row: the shipment it went out in; a return row: the one it came back from
    shipment_id = pw.IntegerField(null=True)
    scanned_at = pw.DateTimeField(null=True)
    received_at = pw.DateTimeField(default=utcnow, index=True)
    result = JSONField(null=True)


# Partial indexes: only the rows they find are written to them (see LedgerEntry). The
# conditions are SQL literals: DDL takes no bound parameters on every driver.
LedgerEntry.add_index(
    LedgerEntry.index(
        LedgerEntry.status,
        name="ledger_entry_rejected",
        where=LedgerEntry.status == pw.SQL("'rejected'"),
    )
)
LedgerEntry.add_index(
    LedgerEntry.index(
        LedgerEntry.order,
        name="ledger_entry_order_api",
        where=LedgerEntry.origin == pw.SQL("'api'"),
    )
)


class StockCounter(BaseModel):
    """Items and quantity per product x stage x station (0 = no station).

    Kept in step with every item change in the same transaction, so stock pages read a
    table of a few thousand rows instead of the item table.
    """

    product = pw.ForeignKeyField(Product)
    stage = pw.CharField(max_length=16)
    station_id = pw.IntegerField(default=0)
    count = pw.BigIntegerField(default=0)
    qty = Qty(default=0)

    class Meta:
        indexes = ((("product", "stage", "station_id"), True),)


class LocationCounter(BaseModel):
    """Items and quantity per product x stage x location (0 = none), kept in step with
    every item change like StockCounter: the stock by place reads these rows."""

    product = pw.ForeignKeyField(Product, index=False)
    stage = pw.CharField(max_length=16)
    location_id = pw.IntegerField(default=0)
    count = pw.BigIntegerField(default=0)
    qty = Qty(default=0)

    class Meta:
        indexes = ((("location_id", "product", "stage"), True),)


class LocationTotal(BaseModel):
    """Items on hand and their quantity in a location and everything below it, per unit
    (migration 0019): the stock by place of a site or a large subtree reads a listed
    location's totals here instead of summing its subtree's LocationCounter rows. Kept in
    step with LocationCounter in the same transaction (server/core/stock.py), moved with
    a location's subtree when it is moved in the tree, rebuilt by `recount-stock`."""

    location_id = pw.IntegerField()
    unit = pw.CharField(max_length=16)
    count = pw.BigIntegerField(default=0)
    qty = Qty(default=0)

    class Meta:
        indexes = ((("location_id", "unit"), True),)


class SiteCounter(BaseModel):
    """Items on hand and their quantity per site x product x stage (migration 0019): the
    `products` of a site's stock by place, kept in step with LocationCounter like
    LocationTotal."""

    site_id = pw.IntegerField()
    product_id = pw.IntegerField()
    stage = pw.CharField(max_length=16)
    count = pw.BigIntegerField(default=0)
    qty = Qty(default=0)

    class Meta:
        indexes = ((("site_id", "product_id", "stage"), True),)


class Reason(BaseModel):
    """A plant's reason list entry: why a worker scrapped, held, released, returned or
    adjusted something (`CMD-WHY-<code>`, the scan's `"reason"`). Not to be confused with
    the rejection reason codes of server/core/reasons.py, which say why a scan was refused;
    see server/core/reasonlist.py."""

    code = pw.CharField(max_length=32, unique=True)
    text_en = pw.CharField(max_length=200)
    text_id = pw.CharField(max_length=200, default="")
    #: the uses it applies to, a list of reasonlist.USES
    applies_to = JSONField(default=list)
    #: an inactive reason keeps its history; new scans naming it are refused
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class SchemaMigration(BaseModel):
    """A migration of server/migrations applied to (or recorded in) this database."""

    name = pw.CharField(max_length=128, primary_key=True)
    applied_at = pw.DateTimeField()


MODELS = [
    SchemaMigration,
    User,
    ApiToken,
    LoginThrottle,
    LoginAttempt,
    Product,
    BomLine,
    Site,
    Location,
    Station,
    RoutingStep,
    ProductionOrder,
    OrderMaterial,
    Scanner,
    Item,
    LedgerEntry,
    StockCounter,
    LocationCounter,
    LocationTotal,
    SiteCounter,
    Reason,
]


class Printer(BaseModel):
    """A label printer registered by an admin; print jobs go to these only, by name.

    `kind` is `zpl-tcp` (address `host[:port]`, raw TCP, port 9100 by default) or
    `pdf-cups` (address: a CUPS queue name). `station` is where it stands, if anywhere;
    `site_id` the site (a plain id, like `Location.site_id`). `dpi` is its print head's
    resolution (203, 300, 600: ZPL is drawn in its dots); the media loaded is
    `media_width_mm` x `media_height_mm`, `media_kind` `gap` (die-cut labels: a label
    must fit both) or `continuous` (cut to any length: the width only). No media width:
    not known, not checked (docs/labels.md "Printers").
    """

    name = pw.CharField(max_length=64, unique=True)
    kind = pw.CharField(max_length=16)
    address = pw.CharField(max_length=255)
    station = pw.ForeignKeyField(Station, null=True, backref="printers")
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    site_id = pw.IntegerField(null=True)
    dpi = pw.IntegerField(default=203)
    media_width_mm = pw.FloatField(null=True)
    media_height_mm = pw.FloatField(null=True)
    media_kind = pw.CharField(max_length=16, default="gap")


MODELS.append(Printer)


class Event(BaseModel):
    """The event outbox (server/core/events.py): one row per thing that happened, written
    in the transaction of the change that caused it. Ids grow in commit order (the writer
    takes the outbox lock before its first event), so a sink's cursor is one id."""

    id = pw.BigAutoField()
    type = pw.CharField(max_length=48)
    #: what the event is about: an item code, an order number, `flag:<key>`, a scanner
    subject = pw.CharField(max_length=200, default="")
    payload = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)


class FlagState(BaseModel):
    """A flag raised at the last evaluation (server/core/events.py `evaluate_flags`): a row
    while it stands, none once it clears. `key` is `<flag>:<kind>:<name>`."""

    key = pw.CharField(max_length=200, primary_key=True)
    flag = pw.CharField(max_length=16)
    subject = pw.CharField(max_length=200)
    raised_at = pw.DateTimeField()
    detail = JSONField(default=dict)


class Sink(BaseModel):
    """Where events go (server/dispatch.py): an MQTT broker, a webhook URL, a label printer
    (server/core/printjobs.py), later an andon light. Its row is its cursor: `cursor` is
    the id of the last event delivered, and a dispatcher holds the row locked (PostgreSQL,
    SKIP LOCKED) while it delivers."""

    name = pw.CharField(max_length=64, unique=True)
    kind = pw.CharField(max_length=16)  # webhook | mqtt | andon | alerts | printer
    #: kind-specific settings: url and secret of a webhook
    config = JSONField(default=dict)
    #: event types it takes (a list; `["*"]` every type)
    types = JSONField(default=lambda: ["*"])
    cursor = pw.BigIntegerField(default=0)
    active = pw.BooleanField(default=True)
    #: failed attempts on the event after `cursor`, and when to try it again
    failures = pw.IntegerField(default=0)
    retry_at = pw.DateTimeField(null=True)
    #: the first failure of the current run of failures (automatic disable after N days)
    failing_since = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class DeliveryAttempt(BaseModel):
    """Every attempt to deliver an event to a sink, successful or not."""

    id = pw.BigAutoField()
    sink = pw.ForeignKeyField(Sink, backref="attempts", on_delete="CASCADE")
    event_id = pw.BigIntegerField()
    attempt = pw.IntegerField()
    ok = pw.BooleanField()
    detail = pw.CharField(max_length=500, default="")
    duration_ms = pw.IntegerField(default=0)
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("sink", "event_id"), False),)


MODELS.extend([Event, FlagState, Sink, DeliveryAttempt])


class AlertSubscription(BaseModel):
    """What a supervisor wants to be alerted of (server/core/alerts.py): alert kinds (a
    flag's name such as `late`, or an event type such as `item.held`), and whether by
    e-mail besides the pages."""

    user = pw.ForeignKeyField(User, unique=True, on_delete="CASCADE")
    kinds = JSONField(default=list)
    email = pw.BooleanField(default=True)
    updated_at = pw.DateTimeField(default=utcnow)


class Alert(BaseModel):
    """One event a subscribed user is alerted of: unread on the pages until `read_at`,
    mailed in a batch at `mailed_at` (server/core/alerts.py)."""

    id = pw.BigAutoField()
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    event_id = pw.BigIntegerField()
    kind = pw.CharField(max_length=48)
    created_at = pw.DateTimeField(default=utcnow)
    mailed_at = pw.DateTimeField(null=True)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "event_id"), True),)


MODELS.extend([AlertSubscription, Alert])


class LabelTemplate(BaseModel):
    """One version of a label template (server/core/labeltemplates.py): the design
    (`labels.Design.as_dict()`: size, dpi, symbology, boxes) of `name` at `version`.
    An edit adds a row with the next version; rows are never changed, so a print records
    `name vN` and that label can be drawn again exactly."""

    name = pw.CharField(max_length=64)
    version = pw.IntegerField()
    design = JSONField()
    created_by = pw.ForeignKeyField(User, null=True, backref="+")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("name", "version"), True),)


MODELS.append(LabelTemplate)


class Shift(BaseModel):
    """A shift of the plant's day: from `start` to `end`, local times "HH:MM" on quarter
    hours; an end at or before the start ends on the next day. A shift belongs to a site
    (`site_id`) or, null, to every site; the name is unique per site (the unique index
    `shift_site_name` on the name and COALESCE(site_id, 0), made by create_schema after the
    migrations). `breaks` are its planned breaks, [{"start": "HH:MM", "end": "HH:MM"}, ...]
    in order, inside the shift; see server/core/shifts.py."""

    name = pw.CharField(max_length=64)
    start = pw.CharField(max_length=5)
    end = pw.CharField(max_length=5)
    #: the site it belongs to; null: every site. A plain id, as `Location.site_id`
    site_id = pw.IntegerField(null=True)
    breaks = JSONField(default=list)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class Machine(BaseModel):
    """A machine at a station, with its standard rate and its state (running, idle, down
    with a reason of the reason list); see server/core/machines.py."""

    code = pw.CharField(max_length=32, unique=True)
    name = pw.CharField(max_length=200)
    station = pw.ForeignKeyField(Station, backref="machines")
    #: standard output, units per hour (the performance of OEE counts against it)
    rate_per_hour = Qty(null=True)
    state = pw.CharField(max_length=8, default="running")
    #: the reason-list code (kind downtime) while down
    state_why = pw.CharField(max_length=32, null=True)
    state_since = pw.DateTimeField(default=utcnow)
    #: the machine's broker password, hashed (server/mqtt_credentials.py)
    secret_hash = pw.CharField(max_length=256, null=True)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class Downtime(BaseModel):
    """The downtime log: one row per time a machine was down, open while `ended_at` is
    null. `station_id` is the machine's station when it went down."""

    machine = pw.ForeignKeyField(Machine, backref="downtimes")
    station_id = pw.IntegerField()
    why = pw.CharField(max_length=32)
    started_at = pw.DateTimeField()
    ended_at = pw.DateTimeField(null=True)
    #: scan | api | mqtt, and who (the user id) where known
    source = pw.CharField(max_length=8)
    user_id = pw.IntegerField(null=True)
    ended_source = pw.CharField(max_length=8, null=True)

    class Meta:
        indexes = ((("station_id", "started_at"), False),)


class OeeBucket(BaseModel):
    """Output per station and quarter hour (UTC), kept in the scan transaction: `units`
    is the quantity of accepted start/move/complete scans there, `scrap` the quantity
    scrapped there (an item scrapped where it was counted moves from units to scrap)."""

    station_id = pw.IntegerField()
    bucket = pw.DateTimeField()
    units = Qty(default=0)
    scrap = Qty(default=0)

    class Meta:
        indexes = ((("station_id", "bucket"), True),)


MODELS.extend([Shift, Machine, Downtime, OeeBucket])


class CycleCount(BaseModel):
    """A cycle count of a location (with its subtree) or a set of bins: open -> closed ->
    approved (or cancelled). `scope` holds the ids of the locations named when it was
    opened; the items it expects are those on hand under them when it closes
    (server/core/counts.py). `summary` is the figures of the close."""

    site_id = pw.IntegerField()
    scope = JSONField()
    status = pw.CharField(max_length=12, default="open", index=True)
    note = pw.CharField(max_length=200, default="")
    opened_by_id = pw.IntegerField(null=True)
    opened_at = pw.DateTimeField(default=utcnow)
    closed_by_id = pw.IntegerField(null=True)
    closed_at = pw.DateTimeField(null=True)
    approved_by_id = pw.IntegerField(null=True)
    approved_at = pw.DateTimeField(null=True)
    why = pw.CharField(max_length=32, null=True)
    summary = JSONField(null=True)


class CountLine(BaseModel):
    """One item of a count: seen (`counted` set, by a count-mode scan) and, after the
    close, its outcome (`found`, `missing`, `elsewhere`, `variance`, `not_in_stock`,
    `moved`) against what was recorded (`recorded_qty`, `recorded_location_id`)."""

    count_id = pw.IntegerField()
    item_id = pw.IntegerField()
    #: the quantity counted (the scan's qty, else the label's); null: not seen
    counted = Qty(null=True)
    #: where it was seen: the scanner's current location when in scope, else the count's
    #: first location
    seen_location_id = pw.IntegerField(null=True)
    seen_at = pw.DateTimeField(null=True)
    scanner_id = pw.CharField(max_length=64, null=True)
    outcome = pw.CharField(max_length=12, null=True)
    recorded_qty = Qty(null=True)
    recorded_location_id = pw.IntegerField(null=True)
    recorded_stage = pw.CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("count_id", "item_id"), True),)


class Shipment(BaseModel):
    """A shipment to a customer (server/core/shipments.py): its ref is what its label
    carries (`SHP-<ref>`), unique."""

    ref = pw.CharField(max_length=32, unique=True)
    customer = pw.CharField(max_length=200)
    ship_date = pw.DateField()
    site_id = pw.IntegerField()
    note = pw.CharField(max_length=200, default="")
    created_by_id = pw.IntegerField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


MODELS.extend([CycleCount, CountLine, Shipment])


class PrintJob(BaseModel):
    """A label to print at a registered printer (server/core/printjobs.py), written in the
    transaction of the scan or action that asks for it and delivered by the dispatcher's
    printer sink (server/dispatch.py). `state`: `queued` until the printer took the bytes,
    then `sent`; `cancelled` by a clerk; `failed` when it cannot be drawn at all.

    What to print is either an item (`item`, drawn at delivery with `template`, the
    version used is recorded) or `data`, bytes rendered when the job was made (POST
    /api/labels, a test print)."""

    id = pw.BigAutoField()
    printer = pw.ForeignKeyField(Printer, backref="jobs", on_delete="CASCADE")
    state = pw.CharField(max_length=16, default="queued", index=True)
    #: why it was made: receive | split | complete (a station's print rule), api, test
    source = pw.CharField(max_length=16)
    item = pw.ForeignKeyField(Item, null=True, backref="+", on_delete="SET NULL")
    template = pw.CharField(max_length=64, null=True)
    version = pw.IntegerField(null=True)
    data = pw.BlobField(null=True)
    labels = pw.IntegerField(default=1)
    scan_id = pw.CharField(max_length=64, null=True)
    created_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    attempts = pw.IntegerField(default=0)
    last_attempt_at = pw.DateTimeField(null=True)
    last_error = pw.CharField(max_length=200, default="")
    sent_at = pw.DateTimeField(null=True)


class PrintRule(BaseModel):
    """A station's print rule: on `event` (receive, split, complete) an accepted scan at
    `station` queues a label of its item with `template` (None: the default template) at
    `printer`."""

    station = pw.ForeignKeyField(Station, backref="print_rules", on_delete="CASCADE")
    event = pw.CharField(max_length=16)
    printer = pw.ForeignKeyField(Printer, backref="rules", on_delete="CASCADE")
    template = pw.CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("station", "event"), True),)


MODELS.extend([PrintJob, PrintRule])
