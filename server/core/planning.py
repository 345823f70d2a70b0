"""Planning the master production schedule: creating, editing, releasing and closing orders.

Lifecycle: `planned` → `released` (on the floor) → `in_progress` (first unit started) →
`done` (completed reaches the plan; set by the complete scan, or by lowering the plan to
what is completed) → `closed`. An order that is not done may be closed early with a reason:
a planned or released order is cancelled, an in-progress one short-closed (its open units
can no longer complete under it). Every change is written to the ledger (origin `api`,
action `plan`, `release` or `close`, the order, the user, the reason as note).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from server.core import events
from server.core.errors import Conflict, Invalid, NotFound
from server.core.stages import MADE_IN_PLANT, Kind
from server.models import LedgerEntry, Product, ProductionOrder, Station

STATUSES = ("planned", "released", "in_progress", "done", "closed")
EDITABLE = ("planned", "released", "in_progress")
#: `station` not given in an edit (None means "plant-wide")
KEEP = object()
#: the window of dates an order may be planned in, and its longest span (docs/planning.md):
#: an order from year 1 to 9999 is a typo, and every view that spreads it over days pays
#: for it
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)
MAX_SPAN_DAYS = 366


def check_dates(start: dt.date, due: dt.date) -> None:
    """Refuse dates outside EARLIEST..LATEST or a span longer than MAX_SPAN_DAYS
    (`bad_date`), and due before start (`bad_payload`, as always)."""
    for name, day in (("start", start), ("due", due)):
        if not EARLIEST <= day <= LATEST:
            raise Invalid(
                "bad_date",
                f"{name} {day.isoformat()} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}",
            )
    if due < start:
        raise Invalid("bad_payload", "due is before start")
    if (due - start).days + 1 > MAX_SPAN_DAYS:
        raise Invalid(
            "bad_date", f"an order spans at most {MAX_SPAN_DAYS} days, start to due inclusive"
        )


@dataclasses.dataclass(frozen=True)
class OrderPlan:
    """An order as the planner writes it (API body or CSV row)."""

    number: str
    product: str
    qty: Decimal
    start: dt.date
    due: dt.date
    station: str | None = None


def get_order(number: str) -> ProductionOrder:
    order = ProductionOrder.get_or_none(ProductionOrder.number == number)
    if order is None:
        raise NotFound("not_found", f"No order {number}")
    return order


def plannable_product(sku: str) -> Product:
    product = Product.get_or_none(Product.sku == sku)
    if product is None:
        raise NotFound("unknown_product", f"No product {sku}")
    if Kind(product.kind) not in MADE_IN_PLANT:
        raise Invalid("bad_payload", f"{sku} is {product.kind}, not made in the plant")
    if not product.active:
        raise Conflict("inactive", f"Product {sku} is deactivated")
    return product


def station_or_none(code: str | None) -> Station | None:
    if not code:
        return None
    station = Station.get_or_none(Station.code == code)
    if station is None:
        raise NotFound("unknown_station", f"No station {code}")
    return station


def _log(order: ProductionOrder, action: str, message: str, now, user_id, note=None) -> None:
    LedgerEntry.create(
        origin="api",
        action=action,
        order=order.id,
        message=message[:200],
        note=note[:200] if note else None,
        operator=user_id,
        received_at=now,
    )


def create_order(plan: OrderPlan, *, now: dt.datetime, user_id: int | None = None):
    """A new planned order (the caller holds the transaction)."""
    check_dates(plan.start, plan.due)
    product = plannable_product(plan.product)
    station = station_or_none(plan.station)
    if ProductionOrder.select().where(ProductionOrder.number == plan.number).exists():
        raise Conflict("exists", f"Order {plan.number} exists")
    order = ProductionOrder.create(
        number=plan.number,
        product=product,
        qty=plan.qty,
        start=plan.start,
        due=plan.due,
        station=station,
        created_at=now,
    )
    _log(order, "plan", f"planned {plan.qty.normalize():f} {product.sku}", now, user_id)
    return order


def release_order(order: ProductionOrder, *, now: dt.datetime, user_id: int | None = None):
    if order.status != "planned":
        raise Conflict("bad_status", f"Order {order.number} is {order.status}, not planned")
    n = (
        ProductionOrder.update(status="released", released_at=now)
        .where((ProductionOrder.id == order.id) & (ProductionOrder.status == "planned"))
        .execute()
    )
    if n != 1:
        raise Conflict("bad_status", f"Order {order.number} changed meanwhile")
    _log(order, "release", "released", now, user_id)
    events.emit("order.released", order.number, _order_payload(order), now=now)


def _order_payload(order: ProductionOrder) -> dict:
    return {
        "order": order.number,
        "product": order.product.sku,
        "qty": f"{Decimal(order.qty).normalize():f}",
        "start": order.start.isoformat(),
        "due": order.due.isoformat(),
    }


def edit_order(
    order: ProductionOrder,
    *,
    qty: Decimal | None = None,
    start: dt.date | None = None,
    due: dt.date | None = None,
    station=KEEP,
    now: dt.datetime,
    user_id: int | None = None,
    note: str | None = None,
) -> list[str]:
    """Change quantity, dates (reschedule) or line of an order that is not done or closed.

    The quantity may not go below what is completed; lowering it to exactly that makes the
    order done. Returns the changes made, as text (empty: nothing changed).
    """
    if order.status not in EDITABLE:
        raise Conflict("bad_status", f"Order {order.number} is {order.status}")
    changes: dict = {}
    said: list[str] = []
    if qty is not None and Decimal(qty) != Decimal(order.qty):
        if Decimal(qty) < Decimal(order.completed):
            raise Invalid(
                "bad_quantity",
                f"Order {order.number} has {Decimal(order.completed).normalize():f} completed",
            )
        changes["qty"] = qty
        said.append(f"qty {Decimal(order.qty).normalize():f} -> {Decimal(qty).normalize():f}")
    new_start, new_due = start or order.start, due or order.due
    if (new_start, new_due) != (order.start, order.due):
        check_dates(new_start, new_due)
    if new_start != order.start:
        changes["start"] = new_start
        said.append(f"start {order.start.isoformat()} -> {new_start.isoformat()}")
    if new_due != order.due:
        changes["due"] = new_due
        said.append(f"due {order.due.isoformat()} -> {new_due.isoformat()}")
    if station is not KEEP:
        st = station_or_none(station)
        if (st.id if st else None) != order.station_id:
            old = Station.get_by_id(order.station_id).code if order.station_id else "any"
            changes["station"] = st
            said.append(f"station {old} -> {st.code if st else 'any'}")
    if not changes:
        return []
    where = (ProductionOrder.id == order.id) & (ProductionOrder.status.in_(EDITABLE))
    if "qty" in changes:
        # a complete scan may have raced us: the check holds in the same statement
        where &= ProductionOrder.completed <= changes["qty"]
    if ProductionOrder.update(**changes).where(where).execute() != 1:
        raise Conflict("bad_status", f"Order {order.number} changed meanwhile; try again")
    if "qty" in changes:
        done = (
            ProductionOrder.update(status="done", done_at=now)
            .where(
                (ProductionOrder.id == order.id)
                & (ProductionOrder.status.in_(("released", "in_progress")))
                & (ProductionOrder.completed >= changes["qty"])
            )
            .execute()
        )
        if done:
            said.append("done")
            events.emit("order.done", order.number, {"order": order.number, "by": "edit"}, now=now)
    _log(order, "plan", "; ".join(said), now, user_id, note)
    events.emit("order.changed", order.number, {"order": order.number, "changes": said}, now=now)
    return said


def close_order(
    order: ProductionOrder,
    *,
    reason: str | None,
    now: dt.datetime,
    user_id: int | None = None,
) -> str:
    """Close a done order, or cancel / short-close an open one (a reason is required).

    Returns what happened: `closed`, `cancelled` or `short_closed`.
    """
    reason = (reason or "").strip() or None
    if order.status == "closed":
        raise Conflict("bad_status", f"Order {order.number} is already closed")
    if order.status == "done":
        how = "closed"
    else:
        if reason is None:
            raise Invalid(
                "reason_required", f"Order {order.number} is {order.status}: say why it closes"
            )
        how = "cancelled" if order.status in ("planned", "released") else "short_closed"
    n = (
        ProductionOrder.update(status="closed")
        .where((ProductionOrder.id == order.id) & (ProductionOrder.status == order.status))
        .execute()
    )
    if n != 1:
        raise Conflict("bad_status", f"Order {order.number} changed meanwhile; try again")
    done = Decimal(order.completed).normalize()
    _log(
        order,
        "close",
        f"{how} at {done:f}/{Decimal(order.qty).normalize():f}",
        now,
        user_id,
        reason,
    )
    payload = {**_order_payload(order), "closed_as": how, "completed": f"{done:f}"}
    events.emit("order.closed", order.number, {**payload, "reason": reason}, now=now)
    return how


def list_orders(
    *,
    statuses: list[str] | None = None,
    product: str | None = None,
    due_from: dt.date | None = None,
    due_to: dt.date | None = None,
    limit: int = 1000,
    stations=None,
):
    """Orders by due date, filtered; `stations` (ids, or a subquery of them): the orders
    of those lines only, chosen before the limit."""
    query = (
        ProductionOrder.select(ProductionOrder, Product)
        .join(Product)
        .order_by(ProductionOrder.due, ProductionOrder.number)
    )
    if statuses:
        query = query.where(ProductionOrder.status.in_(statuses))
    if product:
        query = query.where(Product.sku == product)
    if due_from:
        query = query.where(ProductionOrder.due >= due_from)
    if due_to:
        query = query.where(ProductionOrder.due <= due_to)
    if stations is not None:
        query = query.where(ProductionOrder.station.in_(stations))
    return list(query.limit(limit))


def order_events(order: ProductionOrder) -> list[dict]:
    """The planning history of an order (plan, release, close), oldest first."""
    rows = (
        LedgerEntry.select()
        .where(
            (LedgerEntry.order == order.id)
            & (LedgerEntry.origin == "api")
            & (LedgerEntry.action.in_(("plan", "release", "close")))
        )
        .order_by(LedgerEntry.id)
    )
    return [
        {
            "at": e.received_at.isoformat() + "Z",
            "action": e.action,
            "message": e.message,
            "note": e.note,
            "user": e.operator.username if e.operator_id else None,
        }
        for e in rows
    ]
