"""`apply_scan()`: one scan, one transaction.

1. deduplicate on scan_id (a repeat returns the stored first answer, `duplicate: true`);
2. parse the code (internal, GS1, EPC, command label);
3. resolve the scanner, its station and context (operator, order, action), the item;
4. check the stage transition, then the schedule (reject or warn per station policy);
5. write the ledger row (accepted and rejected alike), the item, stock counters, genealogy;
6. return the answer for the worker.

`apply_scans()` does the same for a batch in one transaction (group commit, used by the
MQTT ingest); each scan runs in its own savepoint so one rejection undoes only itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import re
from decimal import Decimal

import peewee as pw

from server.core import (
    codes,
    counts,
    events,
    holds,
    hot,
    locations,
    machines,
    oee,
    pgbatch,
    plantday,
    printjobs,
    reasonlist,
    rework,
    schedule,
    shipments,
    throttle,
)
from server.core.errors import DomainError, Rejected
from server.core.items import new_item, split
from server.core.reasons import CONFIGURABLE_CHECKS
from server.core.stages import (
    ALLOWED_FROM,
    EXPIRY_EXEMPT,
    GONE,
    HOLD_ACTIONS,
    ON_HAND,
    OVERRIDE_ACTIONS,
    REASON_ACTIONS,
    SUPERVISOR_ACTIONS,
    WHILE_HELD,
    Action,
    Kind,
    Stage,
    Tracking,
    illegal_message,
    target_stage,
)
from server.core.stock import StockDelta
from server.models import (
    BomLine,
    Item,
    LedgerEntry,
    Location,
    Product,
    ProductionOrder,
    Reason,
    Scanner,
    Station,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

SUPERVISOR_ROLES = ("supervisor", "admin")
#: unknown badges a scanner may scan (within throttle.FORGET_AFTER) before its badge
#: command labels are locked (docs/decisions.md)
FREE_BADGE_FAILURES = 10


@dataclasses.dataclass(frozen=True)
class ScanIn:
    """A scan as the adapters hand it over: plain, already type-checked values."""

    scan_id: str
    scanner_id: str
    code: str
    scanned_at: dt.datetime | None = None
    source: str = "barcode"
    qty: Decimal | None = None
    station: str | None = None
    note: str | None = None
    #: a code of the plant's reason list (server/core/reasonlist.py), not a rejection code
    reason: str | None = None
    #: completing a lot: this much of it is scrap (with a reason), `qty` is the good part
    scrap_qty: Decimal | None = None
    #: the API caller, when the scan came over HTTP with a user's token or session
    user_id: int | None = None


@dataclasses.dataclass
class ScanResult:
    scan_id: str
    status: str  # accepted | rejected
    duplicate: bool = False
    reason: str | None = None
    message: str = ""
    item: str | None = None
    stage: str | None = None
    warnings: list[dict] = dataclasses.field(default_factory=list)
    action: str | None = None
    #: the item's location code after the scan; for a location label, the scanner's new
    #: current location (docs/protocol.md)
    location: str | None = None
    #: the JSON text of to_dict(), made once: the ledger stores it, the ingest publishes it
    _json: str | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies, a tenth of a scan's time
        return {
            "scan_id": self.scan_id,
            "status": self.status,
            "duplicate": self.duplicate,
            "reason": self.reason,
            "message": self.message,
            "item": self.item,
            "stage": self.stage,
            "warnings": [dict(w) for w in self.warnings],
            "action": self.action,
            "location": self.location,
        }

    def to_json(self) -> str:
        """to_dict() as compact JSON. Made once per result: a result is not changed after
        it is stored (a duplicate is a copy, see apply_scans)."""
        if self._json is None:
            self._json = hot.compact_json(self.to_dict())
        return self._json

    @classmethod
    def from_dict(cls, data: dict, **changes) -> ScanResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in {**data, **changes}.items() if k in fields})


class _Ctx:
    """What is known about a scan so far; a rejection records whatever was resolved."""

    def __init__(self, scan: ScanIn, now: dt.datetime, batch: _Batch):
        self.scan = scan
        self.batch = batch
        self.now = now
        self.scanner: Scanner | None = None
        self.station: Station | None = None
        self.operator: User | None = None
        self.order: ProductionOrder | None = None
        self.action: str | None = None
        self.item: Item | None = None
        #: the item the label named, before any split: what a rejection records (a part
        #: split off is rolled back with the rest of the scan)
        self.scanned: Item | None = None
        #: the location the ledger row records (the item's after the scan)
        self.location_id: int | None = None
        self.from_stage: str | None = None
        self.parsed: codes.Parsed | None = None
        #: the reason-list code given for this scan (label or payload), once checked
        self.why: str | None = None
        self.warnings: list[dict] = []
        self.delta = StockDelta()
        #: output and scrap for the OEE buckets (server/core/oee.py)
        self.oee = oee.OeeDelta()
        #: throttle keys to count a failure on when this scan is rejected
        self.failure_keys: dict[str, int] | None = None
        #: the number of the order this scan completed (order.done)
        self.order_done: str | None = None
        #: the shipment a ship row went out in, or a return row came back from
        self.shipment_id: int | None = None

    def check(self, code: str, message: str | None = None) -> None:
        """A schedule check failed: reject, or warn when the station's policy says so."""
        policy = (self.station.policy or {}) if self.station else {}
        answer = policy.get(code, CONFIGURABLE_CHECKS.get(code, "reject"))
        err = Rejected(code, message)
        if answer == "warn":
            self.warnings.append({"code": code, "message": err.message})
        else:
            raise err


def apply_scan(
    db: pw.Database, scan: ScanIn, *, now: dt.datetime | None = None, tz: str | None = None
) -> ScanResult:
    """Apply one scan in its own transaction and return the answer for the worker."""
    return apply_scans(db, [scan], now=now, tz=tz)[0]


#: errors of the database itself (read-only, locked, gone, I/O), not of one scan
DATABASE_ERRORS = (pw.OperationalError, pw.InterfaceError, pw.InternalError)


def apply_scans(
    db: pw.Database,
    scans: list[ScanIn],
    *,
    now: dt.datetime | None = None,
    raise_db_errors: bool = False,
    tz: str | None = None,
) -> list[ScanResult]:
    """Apply scans in order in one transaction (group commit); answers in the same order.

    Known scan_ids are looked up for the whole batch at once, stations are cached for the
    batch, and stock counter deltas are summed over the batch and written once before the
    commit: a batch of 200 moves touches a handful of counter rows, not 400.

    An unexpected error answers its scan `server_error`. With `raise_db_errors` one of
    `DATABASE_ERRORS` is raised instead, for the whole batch: the ingest then keeps every
    message with the broker and retries, rather than log and answer each scan of a
    read-only or locked database.

    `tz` is the plant's time zone (IANA name, None for UTC): an expiry date is a local
    date, so whether a lot has expired turns at the plant's midnight.
    """
    if not pgbatch.available(db):
        return _apply_batch(db, scans, now, raise_db_errors, tz, None)
    with writing(db):
        writes = pgbatch.BatchWrites(db, defer=True)
        try:
            return _apply_batch(db, scans, now, raise_db_errors, tz, writes)
        except pgbatch.LedgerConflict:
            pgbatch.undo(db, writes)
        # a scan_id of the batch committed meanwhile by another worker: once more, with
        # each ledger row in its scan's savepoint, where that scan finds the first answer
        return _apply_batch(
            db, scans, now, raise_db_errors, tz, pgbatch.BatchWrites(db, defer=False)
        )


def _apply_batch(
    db: pw.Database,
    scans: list[ScanIn],
    now: dt.datetime | None,
    raise_db_errors: bool,
    tz: str | None,
    writes: pgbatch.BatchWrites | None,
) -> list[ScanResult]:
    results: list[ScanResult] = []
    with writing(db), pgbatch.active(db, writes):
        answered = _stored_many([s.scan_id for s in scans])
        batch = _Batch(tz, writes)
        if writes is not None:
            writes.read_items(_item_codes(scans, answered))
        for scan in scans:
            prior = answered.get(scan.scan_id)
            if prior is not None:
                # a repeat inside the batch: a copy of the first answer, marked duplicate
                results.append(prior if prior.duplicate else _as_duplicate(prior))
                continue
            result = _apply_one(db, scan, now or utcnow(), batch, raise_db_errors)
            if result.reason != "server_error":
                answered[scan.scan_id] = result
            results.append(result)
        batch.delta.flush()
        batch.oee.flush()
        if writes is not None:
            writes.flush_ledger()
        if batch.touched:
            # one update per scanner per batch, not per scan; after the ledger rows, which
            # a scanner's last answer may name by scan id (PostgreSQL's batched INSERT)
            hot.touch_scanners(batch.touched, now or utcnow())
        # last, right before the commit: on PostgreSQL the outbox lock is held from here
        events.write(batch.events, now or utcnow())
        if writes is not None:
            writes.finish()
    return results


def _as_duplicate(result: ScanResult) -> ScanResult:
    return dataclasses.replace(result, duplicate=True, warnings=[dict(w) for w in result.warnings])


@contextlib.contextmanager
def writing(db: pw.Database):
    """A write transaction. On SQLite the writers of every process first queue on the
    database's writer lock (`server/db.py`) instead of SQLite's sleep-polling.

    Inside an open transaction nothing more is opened: the caller's transaction is the
    one, and it holds the lock already (taking it again could make two processes each hold
    one lock and wait for the other). Not even a savepoint: SQLite keeps the original of
    every page changed under an open savepoint in its statement journal, so one around a
    whole batch held every page the batch changed until its end (and PostgreSQL would
    spend a subtransaction on it); the scans' own savepoints are released one by one."""
    if db.in_transaction():
        yield
        return
    lock = getattr(db, "writer_lock", None)
    if lock is None:
        with db.atomic():
            yield
    else:
        with lock, db.atomic():
            yield


class _Batch:
    """What scans of one batch share: the summed stock deltas and caches of the rows a
    batch reads again and again (scanners, stations, products, users). Orders are not
    cached: scans of the batch change them."""

    def __init__(self, tz: str | None = None, writes: pgbatch.BatchWrites | None = None) -> None:
        self.tz = tz
        self.writes = writes
        self._today: tuple[dt.datetime, dt.date] | None = None
        self.delta = StockDelta()
        self.oee = oee.OeeDelta()
        self._down: dict[int, tuple[str, str]] | None = None
        self._stations: dict = {}
        self._products: dict = {}
        self._users: dict = {}
        self._scanners: dict = {}
        self._reasons: dict = {}
        self._locations: dict = {}
        #: scanner id -> the id of its last scan's ledger row, for the scanners that
        #: scanned in this batch (None until that row is written)
        self.touched: dict[str, int | str | None] = {}
        #: the batch's events (server/core/events.py), written just before the commit
        self.events: list[tuple[str, str, dict]] = []
        self._print_rules: dict | None = None

    def print_rules(self) -> dict:
        """The stations' print rules, read once per batch (server/core/printjobs.py)."""
        if self._print_rules is None:
            self._print_rules = printjobs.rules_by_station()
        return self._print_rules

    def today(self, now: dt.datetime) -> dt.date:
        """The plant's calendar day of `now` (made once per batch, not per scan)."""
        if self._today is None or self._today[0] != now:
            self._today = (now, plantday.local_date(now, self.tz))
        return self._today[1]

    def item_by_code(self, code: str) -> Item | None:
        """The item of an internal code, row-locked: read ahead for the batch on
        PostgreSQL (server/core/pgbatch.py), else one query."""
        if self.writes is not None:
            item = self.writes.take(code)
            if item is not None:
                return item
        return hot.item_by_code(code)

    def scanner(self, scanner_id: str) -> Scanner | None:
        if scanner_id not in self._scanners:
            self._scanners[scanner_id] = hot.scanner(scanner_id)
        return self._scanners[scanner_id]

    def forget_scanner(self, scanner_id: str) -> None:
        """A command label changed the scanner's context: read it again."""
        self._scanners.pop(scanner_id, None)

    def reason(self, code: str) -> Reason | None:
        """A reason of the reason list by its normalised code: read once per batch, and
        only by a scan that gives a reason."""
        if code not in self._reasons:
            self._reasons[code] = hot.get(Reason, "code", code)
        return self._reasons[code]

    def location(self, location_id: int) -> Location | None:
        if location_id not in self._locations:
            self._locations[location_id] = hot.get(Location, "id", location_id)
        return self._locations[location_id]

    def down(self, station_id: int) -> tuple[str, str] | None:
        """(code, reason) of a down machine at the station. The down machines of the whole
        plant are read once per batch (one query, whatever the stations), again only
        after a machine command of the batch changed one."""
        if self._down is None:
            self._down = hot.down_machines()
        return self._down.get(station_id)

    def user(self, user_id: int) -> User | None:
        if user_id not in self._users:
            self._users[user_id] = hot.get(User, "id", user_id)
        return self._users[user_id]

    def product(self, product_id: int) -> Product:
        if product_id not in self._products:
            self._products[product_id] = hot.get(Product, "id", product_id)
        return self._products[product_id]

    def station(self, *, id: int | None = None, code: str | None = None) -> Station | None:
        key = ("id", id) if id is not None else ("code", code)
        if key not in self._stations:
            self._stations[key] = hot.get(Station, *key)
        return self._stations[key]


def _item_codes(scans: list[ScanIn], answered: dict) -> list[str]:
    """The internal item codes the batch's new scans name (read ahead on PostgreSQL)."""
    out = set()
    for scan in scans:
        if scan.scan_id in answered:
            continue
        try:
            parsed = codes.parse(scan.code, scan.source)
        except Exception:  # noqa: BLE001 - its scan is answered in its turn
            continue
        if parsed.kind == codes.CodeKind.ITEM:
            out.add(parsed.item_code)
    return sorted(out)


def _stored_many(scan_ids: list[str]) -> dict[str, ScanResult]:
    out: dict[str, ScanResult] = {}
    for scan_id, result in hot.stored(scan_ids):
        data = json.loads(result) if result else {"scan_id": scan_id}
        out[scan_id] = ScanResult.from_dict(data, duplicate=True)
    return out


def _stored(scan_id: str) -> ScanResult | None:
    return _stored_many([scan_id]).get(scan_id)


def _apply_one(
    db: pw.Database, scan: ScanIn, now: dt.datetime, batch: _Batch, raise_db_errors: bool
) -> ScanResult:
    ctx = _Ctx(scan, now, batch)
    try:
        try:
            printing = None
            with _savepoint(db):
                result = _process(ctx)
                if result.accepted and ctx.station is not None:
                    printing = _print_rule(ctx, result, batch)
                _write_ledger(ctx, result)
            batch.delta.merge(ctx.delta)
            batch.events.extend(events.scan_events(scan, result, ctx))
            if printing is not None:
                batch.events.append(printing)
            batch.oee.merge(ctx.oee)
            return result
        except Rejected as rej:
            if ctx.scanned is not None:
                ctx.item = ctx.scanned
            result = ScanResult(
                scan_id=scan.scan_id,
                status="rejected",
                reason=rej.code,
                message=rej.message,
                item=ctx.item.code if ctx.item and ctx.item.id else None,
                stage=ctx.from_stage,
                warnings=ctx.warnings,
                action=ctx.action,
            )
            with _savepoint(db):
                # counted with the rejection's ledger row: the scan's own savepoint,
                # where the failure was found, is rolled back
                if ctx.failure_keys:
                    throttle.count_failure(db, ctx.failure_keys, now)
                _write_ledger(ctx, result)
            ctx.order_done = None
            batch.events.extend(events.scan_events(scan, result, ctx))
            return result
    except DATABASE_ERRORS:
        if raise_db_errors:
            raise
        log.exception("database error applying scan %s", scan.scan_id)
    except pw.IntegrityError:
        # Another worker committed the same scan_id between our check and our insert.
        prior = _stored(scan.scan_id)
        if prior is not None:
            return prior
        log.exception("integrity error applying scan %s", scan.scan_id)
    except Exception:
        log.exception("unexpected error applying scan %s", scan.scan_id)
    # Not stored: the agent sends it again and it is applied then.
    return ScanResult(
        scan_id=scan.scan_id,
        status="rejected",
        reason="server_error",
        message="Server problem - scan again",
    )


def _print_rule(ctx: _Ctx, result: ScanResult, batch: _Batch):
    """The station's print rule for this accepted scan (server/core/printjobs.py): a
    queued job in the scan's savepoint and its event for the batch, and the answer says
    where the label prints. No rule: two comparisons, the rules are read once per batch."""
    if printjobs.rule_event(result.action, result.warnings) is None:
        return None
    got = printjobs.for_scan(
        batch.print_rules(),
        ctx.station.id,
        result.action,
        result.warnings,
        ctx.item if ctx.item is not None and ctx.item.id else None,
        ctx.scan.scan_id,
        ctx.now,
    )
    if got is None:
        return None
    name, event = got
    text = f"Label printing at {name}"
    result.warnings.append({"code": "label_printing", "message": text, "printer": name})
    result.message = f"{result.message} - {text[0].lower()}{text[1:]}"
    return event


class _savepoint:  # noqa: N801 - used as `with _savepoint(db):`
    """One scan's savepoint inside the batch transaction: a rejection undoes only what that
    scan wrote. Always the same name (scans do not nest), so SQLite and PostgreSQL reuse one
    prepared statement instead of parsing peewee's fresh uuid-named savepoint each time. A
    class rather than a generator: it is entered once or twice for every scan."""

    __slots__ = ("execute", "writes")

    def __init__(self, db: pw.Database) -> None:
        self.execute = db.execute_sql
        # PostgreSQL: opened with the scan's first write, released with the next statement
        self.writes = getattr(db, "batch_writes", None)

    def __enter__(self) -> None:
        if self.writes is not None:
            self.writes.savepoint()
            return
        self.execute('SAVEPOINT "scan"')

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.writes is not None:
            self.writes.release(exc_type is not None)
            return
        if exc_type is not None:
            self.execute('ROLLBACK TO SAVEPOINT "scan"')
        self.execute('RELEASE SAVEPOINT "scan"')


def _write_ledger(ctx: _Ctx, result: ScanResult) -> None:
    item = ctx.item if ctx.item is not None and ctx.item.id else None
    row_id = hot.insert_ledger(
        scan_id=ctx.scan.scan_id,
        origin="scan",
        scanner_id=ctx.scan.scanner_id,
        raw_code=ctx.scan.code[:500].replace("\x00", "\ufffd"),
        code_kind=ctx.parsed.kind if ctx.parsed else None,
        action=ctx.action,
        item_id=item.id if item is not None else None,
        from_stage=ctx.from_stage,
        to_stage=result.stage if result.accepted and item else None,
        qty=item.qty if item is not None and result.accepted else None,
        status=result.status,
        reason=result.reason,
        message=result.message[:200],
        note=(ctx.scan.note or None) and ctx.scan.note[:200].replace("\x00", "\ufffd"),
        why=ctx.why,
        warnings=result.warnings,
        operator_id=ctx.operator.id if ctx.operator else None,
        station_id=ctx.station.id if ctx.station else None,
        order_id=ctx.order.id if ctx.order else None,
        scanned_at=ctx.scan.scanned_at,
        received_at=ctx.now,
        result=result.to_json(),
        location_id=ctx.location_id,
        shipment_id=ctx.shipment_id,
    )
    if ctx.scan.scanner_id in ctx.batch.touched:
        # its id, or its scan id while it waits for the batch's INSERT (PostgreSQL)
        ctx.batch.touched[ctx.scan.scanner_id] = row_id if row_id is not None else ctx.scan.scan_id


# --- the steps ---------------------------------------------------------------------------


def _process(ctx: _Ctx) -> ScanResult:
    scan = ctx.scan
    ctx.scanner = ctx.batch.scanner(scan.scanner_id)
    if ctx.scanner is None:
        raise Rejected("unknown_scanner", f"Scanner {scan.scanner_id!r} is not registered")
    if not ctx.scanner.active:
        raise Rejected("unknown_scanner", f"Scanner {ctx.scanner.id} is deactivated")
    ctx.batch.touched.setdefault(ctx.scanner.id, None)
    if scan.station:
        ctx.station = ctx.batch.station(code=scan.station)
        if ctx.station is None:
            raise Rejected("unknown_station", f"Station {scan.station!r} not known")
    elif ctx.scanner.station_id:
        ctx.station = ctx.batch.station(id=ctx.scanner.station_id)
    else:
        raise Rejected("unknown_station", "This scanner has no station")
    if ctx.station is not None and not ctx.station.active:
        raise Rejected("unknown_station", f"Station {ctx.station.code} is deactivated")
    if ctx.scanner.operator_id:
        ctx.operator = ctx.batch.user(ctx.scanner.operator_id)
    if ctx.operator is None and scan.user_id:
        ctx.operator = ctx.batch.user(scan.user_id)
    if ctx.scanner.order_id:
        ctx.order = hot.get(ProductionOrder, "id", ctx.scanner.order_id)

    qty = codes.parse_qty(scan.qty)
    ctx.parsed = parsed = codes.parse(scan.code, scan.source)
    if parsed.kind == codes.CodeKind.COMMAND:
        return _command(ctx, parsed)
    if ctx.scanner.count_id:
        # count mode: the item is recorded as seen, nothing else changes
        return _count_scan(ctx, parsed, qty if qty is not None else parsed.qty)

    ctx.action = action = Action(ctx.scanner.action or ctx.station.default_action)
    if ctx.station.operator_required and ctx.operator is None:
        raise Rejected("operator_required")
    down = ctx.batch.down(ctx.station.id)
    if down is not None:
        ctx.check("machine_down", f"Machine {down[0]} is down: {down[1]}")
    given = scan.reason or ctx.scanner.why
    if given is not None:
        # an ordinary scan gives none: no reason lookup on the hot path
        use = "scrap" if scan.scrap_qty is not None else action.value
        ctx.why = reasonlist.check_reason(given, use, ctx.batch.reason).code
    if scan.scrap_qty is not None:
        if action != Action.COMPLETE:
            raise Rejected("bad_quantity", "scrap_qty goes with completing a lot")
        _may_scrap(ctx, Action.SCRAP, note_will_do=False)
    elif action in SUPERVISOR_ACTIONS:
        _may_scrap(ctx, action, note_will_do=True)
    if qty is None and parsed.qty is not None:
        qty = parsed.qty

    if action in REASON_ACTIONS and ctx.why is None:
        # a rework's reason is what the scrap and rework Pareto counts (docs/decisions.md)
        raise Rejected("reason_required", f"Scan a reason label to {action.value}")
    item = _resolve_item(ctx, parsed, action, qty)
    if action in HOLD_ACTIONS:
        result = _hold(ctx, item, action)
    else:
        holds.check_not_held(item, action)  # the item row is read already: no query
        if item.expiry is not None and action not in EXPIRY_EXEMPT:
            _check_expiry(ctx, item, action)
        held = bool(item.held)
        result = _transition(ctx, item, action, qty)
        if held and action == Action.SCRAP and ctx.item is item:
            holds.clear_on_scrap(item)
    if ctx.scanner.why is not None:
        # the reason label is one shot: used up by the scan accepted with it (a rejected
        # scan rolls this back, so the worker scans the right part without a new label)
        Scanner.update(why=None).where(Scanner.id == ctx.scanner.id).execute()
        ctx.batch.forget_scanner(ctx.scanner.id)
    return result


def _count_scan(ctx: _Ctx, parsed: codes.Parsed, qty: Decimal | None) -> ScanResult:
    """A scan in count mode (`CMD-COUNT-<id>`): the item is seen by the count (server/core/
    counts.py); its stage, place and quantity stay as they are until the count is
    approved."""
    ctx.action = "count"
    count = counts.counting(ctx.scanner.count_id)
    item = _counted_item(parsed)
    ctx.item = item
    ctx.from_stage = str(item.stage)
    message = counts.see(
        count,
        item,
        qty,
        scanner_location_id=ctx.scanner.location_id,
        scanner_id=ctx.scanner.id,
        now=ctx.now,
    )
    return ScanResult(
        scan_id=ctx.scan.scan_id,
        status="accepted",
        message=message,
        item=item.code,
        stage=str(item.stage),
        warnings=ctx.warnings,
        action="count",
        location=_location_code(ctx, item),
    )


def _counted_item(parsed: codes.Parsed) -> Item:
    """The item a count-mode scan names: an item label, an SGTIN/SSCC, or a GS1 lot (its
    newest on-hand item of that lot)."""
    if parsed.kind == codes.CodeKind.ITEM:
        item = hot.item_by_code(parsed.item_code)
    elif parsed.ext_key and (found := Item.select().where(Item.ext_key == parsed.ext_key).first()):
        item = found
    elif parsed.gtin and parsed.lot:
        product = Product.get_or_none(Product.gtin == parsed.gtin)
        item = None
        if product is not None:
            item = (
                Item.select()
                .where((Item.product == product.id) & (Item.lot == parsed.lot))
                .order_by(Item.stage.in_([str(s) for s in ON_HAND]).desc(), Item.id.desc())
                .first()
            )
    else:
        item = None
    if item is None:
        raise Rejected("unknown_item")
    item.product = Product.get_by_id(item.product_id)
    return item


def _hold(ctx: _Ctx, item: Item, action: Action) -> ScanResult:
    ctx.item = item
    ctx.from_stage = str(item.stage)
    message = holds.set_hold(item, action, why=ctx.why, user=ctx.operator, now=ctx.now)
    return ScanResult(
        scan_id=ctx.scan.scan_id,
        status="accepted",
        message=message,
        item=item.code,
        stage=str(item.stage),
        warnings=ctx.warnings,
        action=action.value,
        location=_location_code(ctx, item),
    )


def _may_scrap(ctx: _Ctx, action: Action, *, note_will_do: bool) -> None:
    """Who may scrap or return here, and with what reason. A supervisor (badge or token)
    always, with a reason from the list or a written note; at a station whose policy has
    `scrap_by: operator`, any signed-in worker may scrap with a reason from the list."""
    operator = ctx.operator
    has_note = note_will_do and bool((ctx.scan.note or "").strip())
    if operator is not None and operator.role in SUPERVISOR_ROLES:
        if ctx.why is None and not has_note:
            raise Rejected("reason_required")
        return
    if action == Action.SCRAP and (ctx.station.policy or {}).get("scrap_by") == "operator":
        if operator is None:
            raise Rejected("operator_required", "Scan your badge to scrap here")
        if ctx.why is None:
            raise Rejected("reason_required", "Scan a reason label first")
        return
    raise Rejected("supervisor_required")


def _scrap_off(ctx: _Ctx, item: Item, scrap_qty: Decimal, good: Decimal | None) -> str:
    """Completing a lot with scrap: `scrap_qty` is split off and scrapped (its own ledger
    row, with the reason); the rest completes under the label. Returns the answer's note."""
    total = Decimal(item.qty)
    if good is not None and good + scrap_qty != total:
        raise Rejected(
            "bad_quantity",
            f"Good {good.normalize()} and scrap {scrap_qty.normalize()} must make the "
            f"{total.normalize()} on this label",
        )
    part = split(item, scrap_qty, delta=ctx.delta, now=ctx.now, scanner_id=ctx.scan.scanner_id)
    ctx.delta.leave(part)
    part.stage = Stage.SCRAPPED
    part.station_id = ctx.station.id
    part.stage_at = ctx.now
    part.save()
    ctx.delta.enter(part)
    LedgerEntry.create(
        origin="system",
        action=Action.SCRAP.value,
        item=part,
        from_stage=ctx.from_stage,
        to_stage=Stage.SCRAPPED,
        qty=part.qty,
        message=f"Scrapped completing {item.code}",
        why=ctx.why,
        scanner_id=ctx.scan.scanner_id,
        station=ctx.station.id,
        order=item.order_id,
        operator=ctx.operator.id if ctx.operator else None,
        received_at=ctx.now,
    )
    ctx.oee.add(ctx.station.id, ctx.now, scrap=scrap_qty)
    return f"scrap {scrap_qty.normalize()} as {part.code}"


def _check_expiry(ctx: _Ctx, item: Item, action: Action) -> None:
    """An item past its expiry date (the plant's local day): reject or warn per station."""
    today = ctx.batch.today(ctx.now)
    if item.expiry < today:
        if action != Action.RECEIVE:  # a received item is undone with the rejection
            ctx.item, ctx.from_stage = item, str(item.stage)
        what = f"lot {item.lot}" if item.lot else item.code
        ctx.check("expired", f"{what} expired {item.expiry.isoformat()}")


def _resolve_item(ctx: _Ctx, parsed: codes.Parsed, action: Action, qty) -> Item:
    if parsed.kind == codes.CodeKind.ITEM:
        item = ctx.batch.item_by_code(parsed.item_code)
        if item is None:
            raise Rejected("unknown_item")
        item.product = ctx.batch.product(item.product_id)
        return item
    # GS1 or EPC: an outside identity
    if parsed.ext_key:
        item = (
            Item.select(Item, Product).join(Product).where(Item.ext_key == parsed.ext_key).first()
        )
        if item is not None:
            return hot.relock(item)
    if parsed.sscc:
        raise Rejected("unknown_item", f"No item for SSCC {parsed.sscc}")
    product = Product.get_or_none(Product.gtin == parsed.gtin)
    if product is None:
        raise Rejected("unknown_product", f"No product has GTIN {parsed.gtin}")
    if action == Action.RECEIVE:
        # a supplier label: the item comes into being with this scan
        if not product.active:
            raise Rejected("unknown_product", f"Product {product.sku} is deactivated")
        if product.tracking == Tracking.UNIT and qty not in (None, 1):
            raise Rejected("bad_quantity", "A unit-tracked product is received one by one")
        item = new_item(
            product,
            delta=ctx.delta,
            now=ctx.now,
            qty=qty if product.tracking == Tracking.LOT else None,
            lot=parsed.lot,
            serial=parsed.serial,
            ext_key=parsed.ext_key,
            expiry=parsed.expiry,
            origin="scan",
        )
        item.product = product
        return item
    if parsed.serial:
        raise Rejected("unknown_item", f"Serial {parsed.serial} of {product.sku} not received")
    # a lot or a bare GTIN: FEFO among the items of it in a stage this action starts from
    query = (
        Item.select(Item, Product)
        .join(Product)
        .where(
            (Item.product == product.id) & (Item.stage.in_([str(s) for s in ALLOWED_FROM[action]]))
        )
    )
    if parsed.lot:
        query = query.where(Item.lot == parsed.lot)
    if action == Action.RELEASE:
        query = query.where(Item.held == True)  # noqa: E712
    elif action not in WHILE_HELD:
        # picking passes held stock by: the worker gets the next lot, not on_hold
        query = query.where(Item.held == False)  # noqa: E712
    item = query.order_by(*fefo_order(ctx.batch.today(ctx.now))).first()
    if item is None:
        what = f"lot {parsed.lot}" if parsed.lot else product.sku
        raise Rejected("unknown_item", f"No {what} in stock for this")
    return hot.relock(item)


def fefo_order(today: dt.date) -> tuple:
    """First expiry, first out: unexpired items earliest expiry first, then items without
    an expiry, then expired ones (picked only when nothing else is left, and then answered
    `expired`); the oldest receipt first within each. One index seek on (product, stage)
    or (product, lot, stage) and a sort of what it finds, as the oldest-receipt order
    before it (docs/decisions.md)."""
    rank = pw.Case(None, [(Item.expiry.is_null(), 1), (Item.expiry < today, 2)], 0)
    return (rank, Item.expiry, Item.created_at, Item.id)


def _transition(ctx: _Ctx, item: Item, action: Action, qty: Decimal | None) -> ScanResult:
    ctx.item = ctx.scanned = item
    ctx.from_stage = str(item.stage)
    product: Product = item.product
    to = target_stage(action, Stage(item.stage), Kind(product.kind))
    if to is None:
        raise Rejected("illegal_transition", illegal_message(Stage(item.stage), Kind(product.kind)))
    station = ctx.station
    if qty is not None and product.tracking == Tracking.UNIT and qty != 1:
        raise Rejected("bad_quantity", "A unit is scanned one at a time")
    if qty is not None and qty > Decimal(item.qty) and action != Action.RECEIVE:
        raise Rejected("bad_quantity", f"Only {Decimal(item.qty).normalize()} on this label")
    notes: list[str] = []

    if action == Action.RECEIVE:
        if qty is not None and product.tracking == Tracking.LOT:
            ctx.delta.leave(item)
            item.qty = qty
            ctx.delta.enter(item)
    elif action == Action.START:
        order = _start_order(ctx, product, station, Decimal(item.qty))
        routing = schedule.routing_of(product.id)
        if routing and routing[0] != station.id:
            ctx.check("wrong_station", "Start this unit at the first station of its routing")
        if order is not None:
            item.order = order
            ctx.order = order
            ProductionOrder.update(
                started=ProductionOrder.started + Decimal(item.qty),
                status=pw.Case(
                    None,
                    [(ProductionOrder.status == "released", "in_progress")],
                    ProductionOrder.status,
                ),
            ).where(ProductionOrder.id == order.id).execute()
            notes.append(f"order {order.number}")
    elif action == Action.ISSUE:
        order, remaining = _issue_order(ctx, product, station)
        moving = qty if qty is not None else Decimal(item.qty)
        if order is not None:
            if moving > remaining:
                ctx.check(
                    "over_issue",
                    f"Order {order.number} needs only {max(remaining, 0).normalize()} more",
                )
        if qty is not None and qty < Decimal(item.qty):
            item = split(item, qty, delta=ctx.delta, now=ctx.now, scanner_id=ctx.scan.scanner_id)
            ctx.item = item
            ctx.warnings.append(
                {"code": "split", "message": f"Split: label the part taken with {item.code}"}
            )
        if order is not None:
            item.order = order
            ctx.order = order
            schedule.add_issued(order.id, product.id, issued_qty=moving)
            notes.append(f"to {order.number}")
    elif action == Action.MOVE:
        if item.station_id == station.id:
            raise Rejected("wrong_station", "Already at this station")
        routing = schedule.routing_of(product.id)
        if routing and (item.order_id is None or item.order.product_id == product.id):
            expected = _next_on_routing(routing, item.station_id, ctx.batch)
            if expected != station.id:
                where = ctx.batch.station(id=expected).code if expected else "complete"
                ctx.check("wrong_station", f"Next for this unit: {where}")
    elif action == Action.COMPLETE:
        if ctx.scan.scrap_qty is not None:
            notes.append(_scrap_off(ctx, item, ctx.scan.scrap_qty, qty))
        order = item.order if item.order_id else None
        if order is not None and order.product_id != item.product_id:
            # material issued to the order lies in work under it: not a unit it makes
            raise Rejected(
                "illegal_transition",
                f"{product.name} is material issued to {order.number}: use it there, "
                "or unissue it back to stock",
            )
        if order is not None:
            order = ProductionOrder.select().where(ProductionOrder.id == order.id)
            order = _for_update(order).get()
        # a done order is still the unit's order: completing past it is over_plan
        if order is None or order.status not in (*schedule.ACTIVE, "done"):
            ctx.check("not_scheduled", "This unit has no active order")
            order = None
        routing = schedule.routing_of(product.id)
        if routing and item.station_id != routing[-1]:
            # Scanned at the last station straight from the one before it: arriving there
            # and completing are one scan for the worker (the row records that station).
            expected = _next_on_routing(routing, item.station_id, ctx.batch)
            if not (expected == routing[-1] == station.id):
                where = ctx.batch.station(id=expected).code
                ctx.check(
                    "routing_incomplete",
                    f"Routing not finished: move it to {where} next",
                )
        if order is not None:
            ctx.order = order
            done = Decimal(order.completed) + Decimal(item.qty)
            if done > Decimal(order.qty):
                ctx.check("over_plan", f"Order {order.number} already has {order.qty} done")
            if not rework.built(item):
                _consume_for(ctx, item, order)
            status = "done" if done >= Decimal(order.qty) else order.status
            status = "in_progress" if status == "released" else status
            if status == "done" and order.status != "done":
                ctx.order_done = order.number
            ProductionOrder.update(
                completed=ProductionOrder.completed + Decimal(item.qty),
                status=status,
                done_at=ctx.now if status == "done" else None,
            ).where(ProductionOrder.id == order.id).execute()
            notes.append(f"{order.number} {done.normalize()}/{Decimal(order.qty).normalize()}")
    elif action in (
        Action.USE,
        Action.SHIP,
        Action.SCRAP,
        Action.RETURN,
        Action.REWORK,
        Action.TRANSFER,
    ):
        if action == Action.SCRAP:
            # produced here and scrapped here: out of the station's good units
            counted = item.station_id == station.id and ctx.from_stage in _COUNTED_STAGES
            scrapped = qty if qty is not None else Decimal(item.qty)
            ctx.oee.add(station.id, ctx.now, units=-scrapped if counted else 0, scrap=scrapped)
        if qty is not None and qty < Decimal(item.qty):
            item = split(item, qty, delta=ctx.delta, now=ctx.now, scanner_id=ctx.scan.scanner_id)
            ctx.item = item
            if action == Action.TRANSFER:
                ctx.warnings.append(
                    {"code": "split", "message": f"Split: label the part taken with {item.code}"}
                )
        if action == Action.REWORK:
            order = rework.take_back_completion(item, lock=_for_update)
            if order is not None:
                ctx.order = order
                notes.append(f"{order.number} completed -{Decimal(item.qty).normalize()}")
    elif action == Action.UNISSUE:
        item, order = rework.unissue(
            item,
            qty,
            delta=ctx.delta,
            now=ctx.now,
            scanner_id=ctx.scan.scanner_id,
            warnings=ctx.warnings,
            selected=ctx.order,
        )
        ctx.item = item
        if order is not None:
            ctx.order = order
            notes.append(f"from {order.number}")

    place = _place(ctx, item, product, action, to)
    if action == Action.SHIP and ctx.scanner.shipment_id:
        # the scanner's current shipment (`SHP-<ref>`): the unit goes out in it
        item.shipment_id = ctx.shipment_id = ctx.scanner.shipment_id
        notes.append(f"shipment {shipments.ref_of(ctx.shipment_id)}")
    elif action == Action.RETURN and item.shipment_id and ctx.from_stage == Stage.SHIPPED:
        ctx.shipment_id = item.shipment_id
        notes.append(f"from shipment {shipments.ref_of(ctx.shipment_id)}")
    ctx.delta.leave(item)
    if action == Action.TRANSFER:
        # a place, not a step: stage, station (the routing position) and stage_at stay
        item.location_id = place.id
        text = f"Transfer: {product.name} → {place.code}"
    else:
        item.stage = to
        if to not in (Stage.SHIPPED, Stage.CONSUMED):
            item.station_id = station.id
        if place is not None and item.location_id != place.id:
            item.location_id = place.id
        item.stage_at = ctx.now
        # a lot is named: the worker sees which lot a bare GTIN took (FEFO)
        what = f"{product.name} lot {item.lot}" if item.lot else product.name
        text = f"{action.value.capitalize()}: {what} {ctx.from_stage} → {to}"
        if notes:
            text += " (" + ", ".join(notes) + ")"
    hot.save_item(item)
    ctx.delta.enter(item)
    if action in _OUTPUT_ACTIONS:
        ctx.oee.add(station.id, ctx.now, units=Decimal(item.qty))
    return ScanResult(
        scan_id=ctx.scan.scan_id,
        status="accepted",
        message=text,
        item=item.code,
        stage=str(to),
        warnings=ctx.warnings,
        action=action.value,
        location=_location_code(ctx, item),
    )


def _place(ctx: _Ctx, item: Item, product: Product, action: Action, to: Stage):
    """Where the scan puts the item: a transfer at the scanner's current location (a
    location label first, `no_location` without one), a receive there too when one was
    scanned, else at the station's location; an item leaving the plant (ship, use,
    consume, scrap) stays where it left from. A location with an `allow` rule that does not
    take the product answers `wrong_location` (reject or warn per station policy)."""
    scanner_loc = ctx.scanner.location_id
    if action == Action.TRANSFER:
        if not scanner_loc:
            raise Rejected("no_location")
        place = ctx.batch.location(scanner_loc)
    elif to in GONE:
        return None
    elif action == Action.RECEIVE and scanner_loc:
        place = ctx.batch.location(scanner_loc)
    elif ctx.station.location_id:
        place = ctx.batch.location(ctx.station.location_id)
    else:
        return None
    if place is None:
        raise Rejected("unknown_location")
    if place.allow and item.location_id != place.id:
        why = locations.check_allowed(place, product)
        if why is not None:
            ctx.check("wrong_location", why)
    return place


def _location_code(ctx: _Ctx, item: Item) -> str | None:
    ctx.location_id = item.location_id
    if not item.location_id:
        return None
    loc = ctx.batch.location(item.location_id)
    return loc.code if loc is not None else None


#: scans that count as a station's output for OEE, and the stages they leave an item in
_OUTPUT_ACTIONS = (Action.START, Action.MOVE, Action.COMPLETE)
_COUNTED_STAGES = (Stage.WIP.value, Stage.FINISHED.value)


def _next_on_routing(routing: list[int], station_id: int | None, batch: _Batch) -> int | None:
    """The routing's station after `station_id` (None after the last one); for a unit that
    is not on the routing, its first station or the one a rework station sends it to."""
    if station_id in routing:
        idx = routing.index(station_id)
        return routing[idx + 1] if idx + 1 < len(routing) else None
    return rework.resume_at(routing, batch.station(id=station_id) if station_id else None)


def _for_update(query):
    db = ProductionOrder._meta.database
    return query.for_update() if getattr(db, "for_update", False) else query


def _start_order(ctx: _Ctx, product: Product, station: Station, qty: Decimal):
    """`order_for_start` with the station's policy applied. When the station only warns, an
    over-plan unit still starts under the earliest order (the supervisor sees the warning);
    an unscheduled one starts with no order."""
    try:
        return schedule.order_for_start(product, station, ctx.order, qty)
    except Rejected as rej:
        ctx.check(rej.code, rej.message)
        return rej.details.get("order")


def _issue_order(ctx: _Ctx, product: Product, station: Station):
    try:
        return schedule.order_for_issue(product, station, ctx.order)
    except Rejected as rej:
        ctx.check(rej.code, rej.message)
        return None, Decimal(0)


def _consume_for(ctx: _Ctx, unit: Item, order: ProductionOrder) -> None:
    """Consume the order's issued material for `unit` by its BOM and link it to the unit."""
    for line in BomLine.select().where(BomLine.product == order.product_id):
        need = Decimal(line.qty) * Decimal(unit.qty)
        pool = (
            Item.select(Item, Product)
            .join(Product)
            .where(
                (Item.order == order.id)
                & (Item.product == line.component_id)
                & (Item.stage == Stage.WIP)
                & (Item.id != unit.id)
            )
            .order_by(Item.id)
        )
        taken = Decimal(0)
        for part in _for_update(pool):
            if taken >= need:
                break
            if Decimal(part.qty) > need - taken:
                part = split(part, need - taken, delta=ctx.delta, now=ctx.now)
            ctx.delta.leave(part)
            part.stage = Stage.CONSUMED
            part.parent = unit
            part.stage_at = ctx.now
            part.save()
            ctx.delta.enter(part)
            taken += Decimal(part.qty)
            LedgerEntry.create(
                origin="system",
                action=Action.CONSUME.value,
                item=part,
                from_stage=Stage.WIP,
                to_stage=Stage.CONSUMED,
                qty=part.qty,
                message=f"Built into {unit.code}",
                scanner_id=ctx.scan.scanner_id,
                station=ctx.station.id,
                order=order.id,
                operator=ctx.operator.id if ctx.operator else None,
                received_at=ctx.now,
            )
        if taken:
            schedule.add_issued(order.id, line.component_id, consumed_qty=taken)
        if taken < need:
            ctx.check(
                "short_material",
                f"{line.component.sku}: {taken.normalize()} of {need.normalize()} issued",
            )


def _command(ctx: _Ctx, parsed: codes.Parsed) -> ScanResult:
    """Command labels change this scanner's context until changed again."""
    scanner = ctx.scanner
    changes: dict = {"context_at": ctx.now}
    location = None
    if parsed.command == "OP":
        # throttled per scanner against guessing badges; a known badge does not clear the
        # count, and during a lock even a known badge is refused unlooked-at (no oracle)
        key = f"badge:{scanner.id}"
        wait = throttle.locked_for([key], ctx.now)
        if wait:
            raise Rejected(
                "badge_locked",
                f"Too many unknown badges at this scanner: wait {_wait_text(wait)}",
            )
        user = User.get_or_none((User.badge == parsed.arg) & (User.active == True))  # noqa: E712
        if user is None:
            ctx.failure_keys = {key: FREE_BADGE_FAILURES}
            raise Rejected("unknown_operator")
        if scanner.operator_id == user.id:
            changes["operator"] = None
            message = f"Signed out: {user.username}"
        else:
            changes["operator"] = user.id
            message = f"Signed in: {user.username}"
        ctx.operator = user
    elif parsed.command == "OUT":
        changes["operator"] = None
        message = "Signed out"
    elif parsed.command == "ORD":
        order = ProductionOrder.get_or_none(ProductionOrder.number == parsed.arg)
        if order is None:
            order = ProductionOrder.get_or_none(
                pw.fn.UPPER(ProductionOrder.number) == parsed.arg.upper()
            )
        if order is None:
            raise Rejected("unknown_order", f"Order {parsed.arg} not known")
        changes["order"] = order.id
        ctx.order = order
        message = f"Order {order.number} selected"
    elif parsed.command == "ACT":
        try:
            action = Action(parsed.arg.lower())
        except ValueError:
            raise Rejected("unknown_action", f"Action {parsed.arg} not known") from None
        if action not in OVERRIDE_ACTIONS:
            raise Rejected("unknown_action", f"Action {parsed.arg} cannot be selected")
        changes["action"] = action.value
        message = f"Action: {action.value}"
    elif parsed.command == "QC":
        verdict = parsed.arg.upper()
        if verdict == "PASS":
            # what passes moves on as the station's default action would
            changes.update(action=None, why=None)
            message = "QC pass: parts move on"
        elif verdict == "FAIL":
            changes["action"] = Action.HOLD.value
            message = "QC fail: scan the reason, then the part to hold"
        else:
            raise Rejected("unknown_action", f"QC {parsed.arg} not known: PASS or FAIL")
    elif parsed.command in ("DOWN", "UP"):
        return _machine_command(ctx, parsed)
    elif parsed.command == "SHP":
        # sticky: the scanner's ship scans go out in this shipment until another or CMD-DONE
        shipment = shipments.scanning(parsed.arg)
        changes["shipment_id"] = shipment.id
        ctx.shipment_id = shipment.id
        message = f"Shipment {shipment.ref}: {shipment.customer}"
    elif parsed.command == "COUNT":
        # count mode: the next item scans are sightings of this open count, until CMD-DONE
        if not re.fullmatch(r"[0-9]{1,12}", parsed.arg):
            raise Rejected("unknown_count", f"Count {parsed.arg} not known")
        count = counts.counting(int(parsed.arg))
        changes["count_id"] = count.id
        where = ", ".join(counts._codes(count))
        message = f"Count {count.id}: scan everything at {where}"
    elif parsed.command == "WHY":
        # checked for existence now, for the action when the part is scanned
        reason = reasonlist.check_reason(parsed.arg, None, ctx.batch.reason)
        changes["why"] = reason.code
        ctx.why = reason.code
        message = f"Reason: {reason.code} - {reason.text_en}"
    elif parsed.command == "LOC":
        # sticky: receives and transfers put items here until another location label or
        # CMD-DONE
        place = locations.scanning(parsed.arg)
        changes["location_id"] = place.id
        ctx.location_id = place.id
        message = f"Location: {place.code} {place.name}".rstrip()
        location = place.code
    else:  # DONE: back to the station's defaults
        changes.update(
            order=None, action=None, why=None, location_id=None, count_id=None, shipment_id=None
        )
        message = "Done - station defaults"
    Scanner.update(**changes).where(Scanner.id == scanner.id).execute()
    ctx.batch.forget_scanner(scanner.id)
    return ScanResult(
        scan_id=ctx.scan.scan_id,
        status="accepted",
        message=message,
        action=f"command:{parsed.command.lower()}",
        location=location,
    )


def _machine_command(ctx: _Ctx, parsed: codes.Parsed) -> ScanResult:
    """`CMD-DOWN-<reason>` / `CMD-UP`: every active machine of the scanner's station goes
    down with the reason (a downtime reason of the list), or runs again."""
    found = machines.at_station(ctx.station.id)
    if not found:
        raise Rejected("unknown_machine", f"No machine at station {ctx.station.code}")
    down = parsed.command == "DOWN"
    changed = [
        m.code
        for m in found
        if machines.set_state(
            m,
            "down" if down else "running",
            parsed.arg if down else None,
            now=ctx.now,
            source="scan",
            user_id=ctx.operator.id if ctx.operator else None,
            find_reason=ctx.batch.reason,
        )
    ]
    ctx.batch._down = None  # read again by the next item scan
    names = ", ".join(changed) or ", ".join(m.code for m in found)
    if down:
        ctx.why = found[0].state_why
        message = f"Machine down: {names} - {ctx.why}"
    else:
        message = f"Machine running: {names}"
    return ScanResult(
        scan_id=ctx.scan.scan_id,
        status="accepted",
        message=message,
        action=f"command:{parsed.command.lower()}",
    )


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{(seconds + 59) // 60} min"


__all__ = ["ScanIn", "ScanResult", "apply_scan", "apply_scans", "DomainError"]
