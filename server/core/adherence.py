"""The schedule view: planned against completed per product and day or week, and adherence.

Rules (also in docs/planning.md):

- **Planned** — an order's quantity is spread evenly over its days, start to due inclusive;
  day `k` of `span` gets `qty*(k+1)/span - qty*k/span` (rounded to 0.0001 on the running
  total, so the days add up to the quantity exactly). A closed order counts with what it
  completed (a cancelled one drops out). Every other status counts with its quantity, so a
  planned order not yet released still shows as load.
- **Completed** — the quantity of accepted `complete` scans, by the day (UTC) the server
  received them, per product, whatever order they went to.
- **Adherence** — over the cells (product x bucket) up to today: the sum over cells of
  `min(planned, completed)` divided by the sum of planned, in per cent. Making more than
  planned in one bucket does not make up for making less in another; producing early or
  late counts against adherence. For the current bucket only its days through today count
  as planned. `attainment` is the plain ratio of totals (completed / planned).
- Days are the plant's local days (`tz`, its IANA time zone; None is UTC); weeks are ISO
  weeks (Monday to Sunday), labelled by their Monday.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import peewee as pw

from server.core import flags as flags_mod
from server.core import plantday
from server.core.errors import Invalid
from server.models import Item, LedgerEntry, Product, ProductionOrder

Q = Decimal("0.0001")
MAX_DAYS = 400


def daily_plan(
    qty: Decimal,
    start: dt.date,
    due: dt.date,
    lo: dt.date | None = None,
    hi: dt.date | None = None,
) -> dict[dt.date, Decimal]:
    """`qty` spread evenly over the days `start..due` (inclusive); only the days inside
    `lo..hi` when given, so the cost is the window's, not the order's span."""
    span = max((due - start).days, 0) + 1
    first = 0 if lo is None else max((lo - start).days, 0)
    last = span - 1 if hi is None else min((hi - start).days, span - 1)
    out: dict[dt.date, Decimal] = {}
    # the running total before day `first`, rounded as the loop rounds it
    before = (Decimal(qty) * first / span).quantize(Q)
    for k in range(first, last + 1):
        upto = (Decimal(qty) * (k + 1) / span).quantize(Q)
        out[start + dt.timedelta(days=k)] = upto - before
        before = upto
    return out


def bucket_of(day: dt.date, bucket: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if bucket == "week" else day


def _num(d: Decimal) -> int | float:
    d = Decimal(d).quantize(Q)
    return int(d) if d == d.to_integral_value() else float(d)


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return round(float(part / whole * 100), 1) if whole else None


def completed_by_day(
    date_from: dt.date, date_to: dt.date, *, tz: str | None = None, now: dt.datetime | None = None
) -> dict[tuple[int, dt.date], Decimal]:
    """Completed quantity per (product id, plant day) from the ledger's accepted complete
    scans. The day of a scan is its date in the plant's time zone `tz` at the offset of
    `now` (exact for zones without summer time; an hour off at most around a change)."""
    lo = plantday.day_start(date_from, tz)
    hi = plantday.day_start(date_to + dt.timedelta(days=1), tz)
    offset = plantday.local(now or hi, tz).utcoffset() or dt.timedelta()
    day = _local_day(LedgerEntry.received_at, int(offset.total_seconds()))
    rows = (
        LedgerEntry.select(Item.product, day.alias("day"), pw.fn.SUM(LedgerEntry.qty))
        .join(Item, on=(LedgerEntry.item == Item.id))
        .where(
            (LedgerEntry.received_at >= lo)
            & (LedgerEntry.received_at < hi)
            & (LedgerEntry.action == "complete")
            & (LedgerEntry.status == "accepted")
        )
        .group_by(Item.product, day)
        .tuples()
    )
    out: dict[tuple[int, dt.date], Decimal] = {}
    for product_id, d, qty in rows:
        # SQLite gives text, PostgreSQL a date; peewee may convert either to a datetime
        if isinstance(d, dt.datetime):
            d = d.date()
        elif not isinstance(d, dt.date):
            d = dt.date.fromisoformat(str(d)[:10])
        out[(product_id, d)] = Decimal(qty or 0)
    return out


def _local_day(column, offset_seconds: int):
    """SQL: the date of a stored UTC time shifted by the plant's offset."""
    if not offset_seconds:
        return pw.fn.DATE(column)
    db = LedgerEntry._meta.database
    if isinstance(getattr(db, "obj", db), pw.PostgresqlDatabase):  # through the proxy
        return pw.fn.DATE(column + pw.SQL(f"interval '{offset_seconds} seconds'"))
    return pw.fn.DATE(column, f"{offset_seconds:+d} seconds")


def schedule(
    date_from: dt.date,
    date_to: dt.date,
    bucket: str,
    *,
    now: dt.datetime,
    flags: flags_mod.Flags | None = None,
    tz: str | None = None,
) -> dict:
    """The schedule view of `date_from..date_to` (inclusive) in day or week buckets;
    today is the plant's local day (`tz`, an IANA name; None is UTC).

    At most MAX_DAYS days, so at most MAX_DAYS buckets (Invalid `bad_payload` otherwise).
    """
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise Invalid("bad_payload", f"from..to covers 1 to {MAX_DAYS} days")
    today = plantday.local_date(now, tz)
    orders = list(
        ProductionOrder.select(ProductionOrder, Product)
        .join(Product)
        .where(
            (ProductionOrder.start <= date_to)
            & (ProductionOrder.due >= date_from)
            & ~((ProductionOrder.status == "closed") & (ProductionOrder.completed <= 0))
        )
        .order_by(ProductionOrder.due, ProductionOrder.id)
    )
    planned: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    planned_due: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    products: dict[int, Product] = {}
    for o in orders:
        products[o.product_id] = o.product
        qty = Decimal(o.completed) if o.status == "closed" else Decimal(o.qty)
        for day, q in daily_plan(qty, o.start, o.due, date_from, date_to).items():
            key = (o.product_id, bucket_of(day, bucket))
            planned[key] += q
            if day <= today:
                planned_due[key] += q
    done = defaultdict(Decimal)
    for (product_id, day), q in completed_by_day(date_from, date_to, tz=tz, now=now).items():
        done[(product_id, bucket_of(day, bucket))] += q
    missing = {pid for pid, _ in done} - set(products)
    if missing:
        for p in Product.select().where(Product.id.in_(list(missing))):
            products[p.id] = p

    buckets, day = [], bucket_of(date_from, bucket)
    while day <= date_to:
        buckets.append(day)
        day += dt.timedelta(days=7 if bucket == "week" else 1)
    rows, totals = [], {b: [Decimal(0), Decimal(0)] for b in buckets}
    hit = due_sum = done_sum = Decimal(0)
    for pid, product in sorted(products.items(), key=lambda kv: kv[1].sku):
        cells, p_plan, p_done = [], Decimal(0), Decimal(0)
        for b in buckets:
            plan, made = planned.get((pid, b), Decimal(0)), done.get((pid, b), Decimal(0))
            due_now = planned_due.get((pid, b), Decimal(0))
            if b <= today:
                hit += min(due_now, made)
                due_sum += due_now
                done_sum += made
            cells.append({"bucket": b.isoformat(), "planned": _num(plan), "completed": _num(made)})
            totals[b][0] += plan
            totals[b][1] += made
            p_plan += plan
            p_done += made
        rows.append(
            {
                "product": product.sku,
                "name": product.name,
                "planned": _num(p_plan),
                "completed": _num(p_done),
                "cells": cells,
            }
        )
    flags = flags if flags is not None else flags_mod.compute(now, tz=tz)
    flagged = [
        {
            "number": o.number,
            "product": o.product.sku,
            "status": o.status,
            "start": o.start.isoformat(),
            "due": o.due.isoformat(),
            "qty": _num(o.qty),
            "completed": _num(o.completed),
            # names and messages only: the details are in GET /api/flags and the order
            "flags": [{"flag": f["flag"], "message": f["message"]} for f in flags.for_order(o.id)],
        }
        for o in orders
        if flags.for_order(o.id)
    ]
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "bucket": bucket,
        "today": today.isoformat(),
        "buckets": [b.isoformat() for b in buckets],
        "rows": rows,
        "totals": [
            {"bucket": b.isoformat(), "planned": _num(p), "completed": _num(c)}
            for b, (p, c) in totals.items()
        ],
        "planned_to_date": _num(due_sum),
        "completed_to_date": _num(done_sum),
        "adherence": _pct(hit, due_sum),
        "attainment": _pct(done_sum, due_sum),
        "flagged_orders": flagged,
    }
