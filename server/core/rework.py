"""Rework and unissue: the two scans that take an item a step back.

- **rework** takes a made unit in work or finished back into `wip` at a rework station.
  Its genealogy stays (the children consumed into it keep their parent); a finished unit
  of an active or done order takes its completion back (`completed` falls, a done order is
  in progress again), because it will be completed again. Its routing position is the
  rework station: the next station expected is the one the rework station names
  (`Station.rework_to_id`) when that is on the unit's routing, else the routing's first
  station (`resume_at`). Completed again, the unit consumes no second bill of material
  (`built`).
- **unissue** returns issued-but-unused material to its stock stage with its lot, all of it
  or a part (`qty`, split like an issue), and the order's issued figure falls by as much.
  More than the order has issued and not consumed is `over_unissue`; an item in work that
  was never issued (a unit being made) is an `illegal_transition`.

The scan transaction (`scans.py`) calls these from its action branches; they read and
write through the models and raise `Rejected` like every other check.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from server.core.errors import Rejected
from server.core.items import split
from server.core.schedule import ACTIVE, add_issued
from server.core.stages import Action, Kind, Stage, illegal_message
from server.core.stock import StockDelta
from server.models import Item, LedgerEntry, OrderMaterial, ProductionOrder, Station


def resume_at(routing: list[int], station: Station | None) -> int:
    """The routing station next for a unit at `station`, a station off its routing: the one
    a rework station names if the routing has it, else the routing's first station."""
    target = station.rework_to_id if station is not None else None
    return target if target in routing else routing[0]


def built(unit: Item) -> bool:
    """Whether material was already consumed into `unit` (it is completed again after a
    rework, and its bill is not consumed a second time)."""
    return Item.select(Item.id).where(Item.parent == unit.id).limit(1).exists()


def take_back_completion(unit: Item, *, lock) -> ProductionOrder | None:
    """A finished unit going back to work: its order's completed count falls by the unit's
    quantity and a done order is in progress again. Returns the order so changed; None for
    a unit in work, one without an order or one whose order is closed (a closed order's
    figures are final)."""
    if unit.stage != Stage.FINISHED or not unit.order_id:
        return None
    order = lock(ProductionOrder.select().where(ProductionOrder.id == unit.order_id)).get()
    if order.product_id != unit.product_id or order.status not in (*ACTIVE, "done"):
        return None
    # the order row is locked (`lock`): its status as read is still its status
    ProductionOrder.update(
        completed=ProductionOrder.completed - Decimal(unit.qty),
        status="in_progress" if order.status == "done" else order.status,
        done_at=None,
    ).where(ProductionOrder.id == order.id).execute()
    return order


def unissue(
    item: Item,
    qty: Decimal | None,
    *,
    delta: StockDelta,
    now: dt.datetime,
    scanner_id: str,
    warnings: list[dict],
    selected: ProductionOrder | None = None,
) -> tuple[Item, ProductionOrder | None]:
    """Take issued material `item` (or `qty` of it) off its order, ready to go back to
    stock; returns the item that goes (a new label when part of a lot) and its order.
    `selected` is the scanner's selected order: the worker returns it from that order, and
    nothing of this item was issued to another one."""
    order = ProductionOrder.get_by_id(item.order_id) if item.order_id else None
    kind = Kind(item.product.kind)
    if not _issued(item, kind, order):
        raise Rejected("illegal_transition", illegal_message(Stage(item.stage), kind))
    moving = qty if qty is not None else Decimal(item.qty)
    if selected is not None and (order is None or selected.id != order.id):
        where = f"order {order.number}" if order is not None else "no order"
        raise Rejected(
            "over_unissue", f"Nothing of this was issued to {selected.number}: it is on {where}"
        )
    if order is not None:
        mat = OrderMaterial.get_or_none(
            (OrderMaterial.order == order.id) & (OrderMaterial.product == item.product_id)
        )
        out = Decimal(mat.issued) - Decimal(mat.consumed) if mat else Decimal(0)
        if moving > out:
            raise Rejected(
                "over_unissue",
                f"Order {order.number} has only {max(out, 0).normalize()} of this issued "
                "and unused",
            )
    if qty is not None and qty < Decimal(item.qty):
        item = split(item, qty, delta=delta, now=now, scanner_id=scanner_id)
        warnings.append(
            {"code": "split", "message": f"Split: label the part returned with {item.code}"}
        )
    if order is not None:
        add_issued(order.id, item.product_id, issued_qty=-moving)
        item.order = None
    return item, order


def _issued(item: Item, kind: Kind, order: ProductionOrder | None) -> bool:
    """Whether `item`, in work, is material issued to an order rather than a unit made."""
    if order is not None:
        return order.product_id != item.product_id
    if kind != Kind.COMPONENT:
        return True  # raw material reaches work only by an issue
    # a component with no order: issued (with the station warning), or started unscheduled
    last = (
        LedgerEntry.select(LedgerEntry.action)
        .where(
            (LedgerEntry.item == item.id)
            & (LedgerEntry.status == "accepted")
            & (LedgerEntry.to_stage == Stage.WIP)
            & (LedgerEntry.action.in_([Action.ISSUE.value, Action.START.value]))
        )
        .order_by(LedgerEntry.id.desc())
        .first()
    )
    return last is not None and last.action == Action.ISSUE.value
