"""Checks of scans against the master production schedule.

The flags shown to supervisors (late, behind, short, reorder, dwell) live in `flags.py`.

An order is *active* when released or in progress. "At that line" means the order's
station is the scanning station, or the order names no station (plant-wide).
"""

from __future__ import annotations

from decimal import Decimal

import peewee as pw

from server.core.errors import Rejected
from server.models import BomLine, OrderMaterial, Product, ProductionOrder, RoutingStep, Station

ACTIVE = ("released", "in_progress")
STATUSES = ("planned", "released", "in_progress", "done", "closed")


def routing_of(product_id: int) -> list[int]:
    """Station ids of the product's routing, in order (empty: no routing)."""
    return [
        s
        for (s,) in RoutingStep.select(RoutingStep.station)
        .where(RoutingStep.product == product_id)
        .order_by(RoutingStep.seq)
        .tuples()
    ]


def _at_line(query, station: Station):
    return query.where(
        (ProductionOrder.station.is_null()) | (ProductionOrder.station == station.id)
    )


def order_for_start(
    product: Product, station: Station, selected: ProductionOrder | None, qty: Decimal
) -> ProductionOrder:
    """The order a new unit of `product` starts under, or Rejected(not_scheduled/over_plan)."""
    if selected is not None:
        if selected.product_id != product.id or selected.status not in ACTIVE:
            raise Rejected(
                "not_scheduled", f"Order {selected.number} is not an active order for this"
            )
        candidates = [selected]
    else:
        candidates = list(
            _at_line(
                ProductionOrder.select().where(
                    (ProductionOrder.product == product.id) & (ProductionOrder.status.in_(ACTIVE))
                ),
                station,
            ).order_by(ProductionOrder.due, ProductionOrder.id)
        )
    if not candidates:
        raise Rejected("not_scheduled")
    for order in candidates:
        if Decimal(order.started) + qty <= Decimal(order.qty):
            return order
    raise Rejected(
        "over_plan", f"Order {candidates[0].number} has all its units started", order=candidates[0]
    )


def need_per_unit(order: ProductionOrder, component_id: int) -> Decimal | None:
    line = (
        BomLine.select(BomLine.qty)
        .where((BomLine.product == order.product_id) & (BomLine.component == component_id))
        .first()
    )
    return None if line is None else Decimal(line.qty)


def issued(order_id: int, component_id: int) -> Decimal:
    row = (
        OrderMaterial.select(OrderMaterial.issued)
        .where((OrderMaterial.order == order_id) & (OrderMaterial.product == component_id))
        .first()
    )
    return Decimal(row.issued) if row else Decimal(0)


def remaining_need(order: ProductionOrder, component_id: int) -> Decimal:
    per_unit = need_per_unit(order, component_id) or Decimal(0)
    return per_unit * Decimal(order.qty) - issued(order.id, component_id)


def order_for_issue(
    product: Product, station: Station, selected: ProductionOrder | None
) -> tuple[ProductionOrder, Decimal]:
    """The order material of `product` is issued to, and that order's remaining need.

    The scanner's selected order if any, else the earliest due active order at that line
    whose bill needs the material and still has need left.
    """
    if selected is not None:
        if selected.status not in ACTIVE:
            raise Rejected("not_scheduled", f"Order {selected.number} is not released")
        if need_per_unit(selected, product.id) is None:
            raise Rejected("not_in_bom", f"Order {selected.number} does not need {product.sku}")
        return selected, remaining_need(selected, product.id)
    candidates = list(
        _at_line(
            ProductionOrder.select()
            .join(BomLine, on=(BomLine.product == ProductionOrder.product))
            .where((ProductionOrder.status.in_(ACTIVE)) & (BomLine.component == product.id)),
            station,
        ).order_by(ProductionOrder.due, ProductionOrder.id)
    )
    if not candidates:
        raise Rejected("not_scheduled", f"No released order needs {product.sku} here")
    for order in candidates:
        need = remaining_need(order, product.id)
        if need > 0:
            return order, need
    return candidates[0], Decimal(0)


def add_issued(order_id: int, component_id: int, issued_qty=0, consumed_qty=0) -> None:
    (
        OrderMaterial.insert(
            order=order_id, product=component_id, issued=issued_qty, consumed=consumed_qty
        )
        .on_conflict(
            conflict_target=[OrderMaterial.order, OrderMaterial.product],
            update={
                OrderMaterial.issued: OrderMaterial.issued + pw.EXCLUDED.issued,
                OrderMaterial.consumed: OrderMaterial.consumed + pw.EXCLUDED.consumed,
            },
        )
        .execute()
    )
