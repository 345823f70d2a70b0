"""Cycle counts: a supervisor counts a location (with its subtree) or a set of bins.

open -> closed -> approved (or cancelled while open). Nothing changes stock until approval.

- **Open**: `open_count()` names the locations; the count expects whatever is on hand under
  them *when it closes*, not a snapshot taken at the open.
- **Counting**: a scanner in count mode (`CMD-COUNT-<id>`, until `CMD-DONE`; the scan page
  scans the same label) records each item it scans as seen (`see()`): a lot with the scan's
  `qty` (else its label's quantity), where it was seen (the scanner's current location when
  that is in the count, else the count's first location). Scanning an item again is fine:
  the last sighting counts. The item itself is not changed.
- **Scans during the count** (the rule, docs/decisions.md): an ordinary scan of an item
  while its count is open is answered as always. At the close, an item with an accepted
  ordinary scan after its sighting (or, never seen, after the open) is taken as that scan
  left it: its record is confirmed (`scanned`), never `missing`, and a sighting older than
  the scan is superseded (`moved`) rather than made an adjustment.
- **Close**: `close()` sets each line's outcome: `found`, `missing` (on hand under the
  count, not seen), `elsewhere` (seen here, recorded at another location), `variance` (a
  lot seen with another quantity), `not_in_stock` (seen, but shipped, consumed, scrapped or
  never received: listed, not adjusted), `moved` / `scanned` (see above). Set-based: a few
  queries for the whole location, so a 5,000-item location closes well under 2 s
  (bench/bench_counts.py).
- **Approve**: `approve()` writes one ledger row (`action` `adjust`, a reason of the list
  that applies to `adjust`) per missing, elsewhere and variance line and changes the item:
  missing is written off (stage `scrapped`), elsewhere moves to where it was seen,
  variance takes the counted quantity. The stock counters follow in the same transaction.
  An item changed since the close (its stage, location or quantity no longer as recorded
  then) is left alone and reported `skipped`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import peewee as pw

from server.core import events, locations, reasonlist
from server.core.errors import Conflict, Invalid, NotFound, Rejected
from server.core.stages import ON_HAND, Stage, Tracking
from server.core.stock import StockDelta
from server.models import (
    CountLine,
    CycleCount,
    Item,
    LedgerEntry,
    Location,
    Product,
    User,
)

OUTCOMES = ("found", "missing", "elsewhere", "variance", "not_in_stock", "moved", "scanned")
#: the outcomes approval adjusts
ADJUSTED = ("missing", "elsewhere", "variance")
DEFAULT_WHY = "COUNT"
LABEL_PREFIX = "CMD-COUNT-"
_ON_HAND = [s.value for s in ON_HAND]
_CHUNK = 500


def label_text(count: CycleCount) -> str:
    """The command label that puts a scanner in count mode for `count`."""
    return f"{LABEL_PREFIX}{count.id}"


def get(count_id: int) -> CycleCount:
    count = CycleCount.get_or_none(CycleCount.id == count_id)
    if count is None:
        raise NotFound("unknown_count", f"No count {count_id}")
    return count


def open_count(codes: list[str], *, note: str = "", user: User | None = None, now=None):
    """A new open count of the locations `codes` (each with its subtree), all of one
    site. Refused: `unknown_location` (no such location, or deactivated), `bad_parent`
    (locations of two sites)."""
    if not codes:
        raise Invalid("bad_payload", "Name the location(s) to count")
    locs: list[Location] = []
    for code in codes:
        loc = locations.by_code(code)
        if loc is None or not loc.active:
            raise NotFound("unknown_location", f"No active location {locations.normal_code(code)}")
        if loc.id not in {x.id for x in locs}:
            locs.append(loc)
    if len({loc.site_id for loc in locs}) > 1:
        raise Invalid("bad_parent", "A count covers locations of one site")
    return CycleCount.create(
        site_id=locs[0].site_id,
        scope=[loc.id for loc in locs],
        note=note or "",
        opened_by_id=user.id if user else None,
        opened_at=now or dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )


def scope_ids(count: CycleCount) -> list[int]:
    """The ids of every location the count covers (the named ones and their subtrees)."""
    out: list[int] = []
    for lid in count.scope or []:
        loc = Location.get_or_none(Location.id == lid)
        if loc is None:
            continue
        for sub in locations.subtree_ids(loc):
            if sub not in out:
                out.append(sub)
    return out


def counting(count_id: int) -> CycleCount:
    """The count a `CMD-COUNT-<id>` label names, for a scan: open, else refused."""
    count = CycleCount.get_or_none(CycleCount.id == count_id)
    if count is None:
        raise Rejected("unknown_count", f"Count {count_id} not known")
    if count.status != "open":
        raise Rejected("count_not_open", f"Count {count.id} is {count.status}")
    return count


def see(
    count: CycleCount,
    item: Item,
    qty: Decimal | None,
    *,
    scanner_location_id: int | None,
    scanner_id: str,
    now: dt.datetime,
) -> str:
    """Record `item` as seen by a count-mode scan; returns the worker's answer."""
    if count.status != "open":
        raise Rejected("count_not_open", f"Count {count.id} is {count.status}")
    product: Product = item.product
    if qty is not None and product.tracking == Tracking.UNIT and qty != 1:
        raise Rejected("bad_quantity", "A unit is counted one at a time")
    counted = qty if qty is not None else Decimal(item.qty)
    scope = scope_ids(count)
    seen_at = scanner_location_id if scanner_location_id in scope else count.scope[0]
    line = CountLine.get_or_none((CountLine.count_id == count.id) & (CountLine.item_id == item.id))
    again = line is not None and line.counted is not None
    fields = {
        "counted": counted,
        "seen_location_id": seen_at,
        "seen_at": now,
        "scanner_id": scanner_id,
    }
    if line is None:
        CountLine.create(count_id=count.id, item_id=item.id, **fields)
    else:
        CountLine.update(**fields).where(CountLine.id == line.id).execute()
    what = f"{product.name} lot {item.lot}" if item.lot else product.name
    amount = f"{_num(counted)} {product.unit}"
    if again:
        return f"Counted again: {what} {amount} (count {count.id})"
    return f"Counted: {what} {amount} (count {count.id})"


def progress(count: CycleCount) -> dict:
    """How far the count is: items seen, items expected (on hand under it now)."""
    scope = scope_ids(count)
    seen = (
        CountLine.select()
        .where((CountLine.count_id == count.id) & CountLine.counted.is_null(False))
        .count()
    )
    expected = 0
    if scope:
        expected = (
            Item.select().where(Item.location_id.in_(scope) & Item.stage.in_(_ON_HAND)).count()
        )
    seen_here = 0
    if scope and seen:
        seen_here = (
            CountLine.select()
            .join(Item, on=(CountLine.item_id == Item.id))
            .where(
                (CountLine.count_id == count.id)
                & CountLine.counted.is_null(False)
                & Item.location_id.in_(scope)
                & Item.stage.in_(_ON_HAND)
            )
            .count()
        )
    return {"seen": seen, "expected": expected, "seen_expected": seen_here}


def _last_scans(item_ids: list[int], since: dt.datetime) -> dict[int, dt.datetime]:
    """Per item, the time of its last accepted ledger row since `since` that is not a
    count sighting (an ordinary scan, a split, an API change)."""
    out: dict[int, dt.datetime] = {}
    for i in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[i : i + _CHUNK]
        rows = (
            LedgerEntry.select(LedgerEntry.item, pw.fn.MAX(LedgerEntry.received_at))
            .where(
                LedgerEntry.item.in_(chunk)
                & (LedgerEntry.received_at >= since)
                & (LedgerEntry.status == "accepted")
                & ((LedgerEntry.action.is_null()) | (LedgerEntry.action != "count"))
            )
            .group_by(LedgerEntry.item)
            .tuples()
        )
        for item_id, when in rows:
            if isinstance(when, str):
                when = dt.datetime.fromisoformat(when)
            out[item_id] = when
    return out


def _items(ids: list[int]) -> dict[int, tuple]:
    out = {}
    for i in range(0, len(ids), _CHUNK):
        rows = (
            Item.select(Item.id, Item.stage, Item.location_id, Item.qty, Product.tracking)
            .join(Product)
            .where(Item.id.in_(ids[i : i + _CHUNK]))
            .tuples()
        )
        for iid, stage, lid, qty, tracking in rows:
            out[iid] = (stage, lid, Decimal(qty), tracking)
    return out


def close(count: CycleCount, *, user: User | None = None, now: dt.datetime) -> dict:
    """Close an open count: each line's outcome against the records now (see the module
    doc); returns the summary. Refused `count_not_open`."""
    if count.status != "open":
        raise Conflict("count_not_open", f"Count {count.id} is {count.status}")
    scope = scope_ids(count)
    scope_set = set(scope)
    expected: dict[int, tuple] = {}
    if scope:
        rows = (
            Item.select(Item.id, Item.stage, Item.location_id, Item.qty, Product.tracking)
            .join(Product)
            .where(Item.location_id.in_(scope) & Item.stage.in_(_ON_HAND))
            .tuples()
        )
        for iid, stage, lid, qty, tracking in rows:
            expected[iid] = (stage, lid, Decimal(qty), tracking)
    lines = {
        line.item_id: line for line in CountLine.select().where(CountLine.count_id == count.id)
    }
    others = [iid for iid in lines if iid not in expected]
    records = {**_items(others), **expected}
    last = _last_scans(sorted(set(expected) | set(lines)), count.opened_at)
    out_rows = []
    for iid in sorted(set(expected) | set(lines)):
        line = lines.get(iid)
        stage, lid, qty, tracking = records.get(iid, (None, None, None, None))
        scanned_at = last.get(iid)
        if line is not None and line.counted is not None:
            if scanned_at is not None and scanned_at > line.seen_at:
                outcome = "moved"
            elif stage not in _ON_HAND:
                outcome = "not_in_stock"
            elif lid not in scope_set:
                outcome = "elsewhere"
            elif Decimal(line.counted) != qty:
                outcome = "variance"
            else:
                outcome = "found"
        else:
            outcome = "scanned" if scanned_at is not None else "missing"
        out_rows.append(
            {
                "count_id": count.id,
                "item_id": iid,
                "counted": line.counted if line else None,
                "seen_location_id": line.seen_location_id if line else None,
                "seen_at": line.seen_at if line else None,
                "scanner_id": line.scanner_id if line else None,
                "outcome": outcome,
                "recorded_qty": qty,
                "recorded_location_id": lid,
                "recorded_stage": stage,
            }
        )
    CountLine.delete().where(CountLine.count_id == count.id).execute()
    for i in range(0, len(out_rows), _CHUNK):
        CountLine.insert_many(out_rows[i : i + _CHUNK]).execute()
    tally = Counter(r["outcome"] for r in out_rows)
    summary = {o: tally.get(o, 0) for o in OUTCOMES}
    summary["variances"] = sum(summary[o] for o in ADJUSTED)
    CycleCount.update(
        status="closed",
        closed_at=now,
        closed_by_id=user.id if user else None,
        summary=summary,
    ).where(CycleCount.id == count.id).execute()
    if summary["variances"]:
        events.emit(
            "count.variance",
            f"count:{count.id}",
            {"count": count.id, "locations": _codes(count), **summary},
            now=now,
        )
    return summary


def cancel(count: CycleCount, *, now: dt.datetime) -> None:
    if count.status != "open":
        raise Conflict("count_not_open", f"Count {count.id} is {count.status}")
    CycleCount.update(status="cancelled", closed_at=now).where(CycleCount.id == count.id).execute()


def approve(count: CycleCount, *, why: str | None, user: User | None, now: dt.datetime) -> dict:
    """Approve a closed count: one `adjust` ledger row per missing, elsewhere and variance
    line, the items changed, the stock counters in step. Refused `count_not_closed`,
    `unknown_reason`, `reason_not_applicable`."""
    if count.status != "closed":
        raise Conflict("count_not_closed", f"Count {count.id} is {count.status}")
    reason = reasonlist.check_reason(why or DEFAULT_WHY, "adjust")
    delta = StockDelta()
    lines = list(
        CountLine.select()
        .where((CountLine.count_id == count.id) & CountLine.outcome.in_(ADJUSTED))
        .order_by(CountLine.item_id)
    )
    codes = locations.codes_of(
        [ln.seen_location_id for ln in lines] + [ln.recorded_location_id for ln in lines]
    )
    adjusted = skipped = 0
    for line in lines:
        item = Item.select(Item, Product).join(Product).where(Item.id == line.item_id).first()
        if item is None or (
            item.stage != line.recorded_stage
            or item.location_id != line.recorded_location_id
            or Decimal(item.qty) != Decimal(line.recorded_qty)
        ):
            skipped += 1
            CountLine.update(outcome=f"{line.outcome}:skip"[:12]).where(
                CountLine.id == line.id
            ).execute()
            continue
        from_stage = str(item.stage)
        delta.leave(item)
        if line.outcome == "missing":
            item.stage = Stage.SCRAPPED
            item.stage_at = now
            text = f"Count {count.id}: missing at {codes.get(item.location_id)}, written off"
        elif line.outcome == "elsewhere":
            text = (
                f"Count {count.id}: found at {codes.get(line.seen_location_id)}, "
                f"recorded at {codes.get(item.location_id)}"
            )
            item.location_id = line.seen_location_id
        else:
            text = f"Count {count.id}: counted {_num(line.counted)}, recorded {_num(item.qty)}"
            item.qty = Decimal(line.counted)
        item.save()
        delta.enter(item)
        LedgerEntry.create(
            origin="api",
            action="adjust",
            item=item.id,
            from_stage=from_stage,
            to_stage=str(item.stage),
            qty=item.qty,
            message=text[:200],
            why=reason.code,
            operator=user.id if user else None,
            location_id=item.location_id,
            received_at=now,
        )
        adjusted += 1
    delta.flush()
    CycleCount.update(
        status="approved",
        approved_at=now,
        approved_by_id=user.id if user else None,
        why=reason.code,
    ).where(CycleCount.id == count.id).execute()
    events.emit(
        "count.approved",
        f"count:{count.id}",
        {
            "count": count.id,
            "locations": _codes(count),
            "why": reason.code,
            "adjusted": adjusted,
            "skipped": skipped,
        },
        now=now,
    )
    return {"adjusted": adjusted, "skipped": skipped, "why": reason.code}


def _codes(count: CycleCount) -> list[str]:
    codes = locations.codes_of(count.scope or [])
    return [codes[i] for i in count.scope or [] if i in codes]


def report(count: CycleCount, *, limit: int = 1000) -> dict:
    """The count as the API and the page show it: state, progress, and its lines (the
    sightings while open; every outcome after the close)."""
    users = {
        u.id: u.username
        for u in User.select(User.id, User.username).where(
            User.id.in_(
                [i for i in (count.opened_by_id, count.closed_by_id, count.approved_by_id) if i]
                or [-1]
            )
        )
    }
    rows = (
        CountLine.select(CountLine, Item.code, Item.lot, Product.sku, Product.unit)
        .join(Item, on=(CountLine.item_id == Item.id))
        .join(Product, on=(Item.product == Product.id))
        .where(CountLine.count_id == count.id)
        .order_by(CountLine.outcome, Item.code)
        .limit(limit)
        .objects()
    )
    rows = list(rows)
    codes = locations.codes_of(
        [r.seen_location_id for r in rows] + [r.recorded_location_id for r in rows]
    )

    return {
        "id": count.id,
        "label": label_text(count),
        "status": count.status,
        "locations": _codes(count),
        "note": count.note,
        "opened_at": _iso(count.opened_at),
        "opened_by": users.get(count.opened_by_id),
        "closed_at": _iso(count.closed_at),
        "closed_by": users.get(count.closed_by_id),
        "approved_at": _iso(count.approved_at),
        "approved_by": users.get(count.approved_by_id),
        "why": count.why,
        "progress": progress(count) if count.status == "open" else None,
        "summary": count.summary,
        "lines": [
            {
                "item": r.code,
                "sku": r.sku,
                "lot": r.lot,
                "unit": r.unit,
                "counted": _num(r.counted),
                "seen_at": codes.get(r.seen_location_id),
                "outcome": r.outcome,
                "recorded_qty": _num(r.recorded_qty),
                "recorded_at": codes.get(r.recorded_location_id),
                "recorded_stage": r.recorded_stage,
            }
            for r in rows
        ],
    }


def _num(value) -> str | None:
    """A quantity as plain text: 50, 12.5 (never 5E+1)."""
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.replace(microsecond=0).isoformat() + "Z"


def listing(status: str | None = None, limit: int = 100, site_ids=None) -> list[dict]:
    """The newest counts; `site_ids` (a user limited to sites) keeps those sites' only."""
    query = CycleCount.select().order_by(CycleCount.id.desc()).limit(limit)
    if status:
        query = query.where(CycleCount.status == status)
    if site_ids is not None:
        query = query.where(CycleCount.site_id.in_(sorted(site_ids) or [-1]))
    return [
        {
            "id": c.id,
            "status": c.status,
            "locations": _codes(c),
            "opened_at": _iso(c.opened_at),
            "summary": c.summary,
        }
        for c in query
    ]
