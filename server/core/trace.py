"""Traceability: what went into a unit, where a lot went, and the recall query.

Genealogy lives in two links of `item`: `parent` (a consumed item's parent is the unit it
was built into, set at complete) and `split_from` (the part split off a lot keeps the lot
and points at the label it came from). A sub-assembly (a component made in the plant) is a
unit whose own children are its materials, and which is itself consumed into a parent one
level up, so following `parent` goes up any number of levels.

Each walk reads one level per query (`IN` over the level's ids), so a trace costs as many
queries as the genealogy is deep, never one per item.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import peewee as pw

from server.core import shipments
from server.core.errors import NotFound
from server.core.stages import Stage
from server.models import Item, LedgerEntry, Product, ProductionOrder

MAX_DEPTH = 50  # a cycle cannot happen through scans; this guards hand-edited data
CHUNK = 500


def _chunks(ids):
    ids = list(ids)
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _items(where) -> list[Item]:
    return list(
        Item.select(Item, Product, ProductionOrder)
        .join(Product)
        .switch(Item)
        .join(ProductionOrder, pw.JOIN.LEFT_OUTER)
        .where(where)
        .order_by(Item.id)
    )


def _split_codes(items: list[Item]) -> dict[int, str]:
    ids = {i.split_from_id for i in items if i.split_from_id}
    out: dict[int, str] = {}
    for part in _chunks(ids):
        out.update(Item.select(Item.id, Item.code).where(Item.id.in_(part)).tuples())
    return out


def _node(item: Item) -> dict:
    return {
        "code": item.code,
        "product": item.product.sku,
        "name": item.product.name,
        "kind": item.product.kind,
        "qty": _num(item.qty),
        "unit": item.product.unit,
        "lot": item.lot,
        "serial": item.serial,
        "stage": item.stage,
        "order": item.order.number if item.order_id else None,
    }


def _num(value):
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)


def get_item(code: str) -> Item:
    found = _items(Item.code == code.strip().upper())
    if not found:
        raise NotFound("unknown_item", f"No item {code}")
    return found[0]


def down(item: Item) -> dict:
    """What went into `item`, recursively: each node lists its `children`."""
    root = _node(item)
    root["split_from"] = None
    level = {item.id: root}
    for _ in range(MAX_DEPTH):
        if not level:
            break
        nxt: dict[int, dict] = {}
        for part in _chunks(level):
            children = _items(Item.parent.in_(part))
            codes = _split_codes(children)
            for child in children:
                node = _node(child)
                node["split_from"] = codes.get(child.split_from_id)
                level[child.parent_id].setdefault("children", []).append(node)
                nxt[child.id] = node
        for node in level.values():
            node.setdefault("children", [])
        level = nxt
    return root


def up(item: Item) -> dict:
    """Where `item` went: its `parent` chain to the top, and the parts split off it
    (`splits`), each with its own way up."""
    root = _node(item)
    nodes = {item.id: (item, root)}
    pending = [item.id]
    for _ in range(MAX_DEPTH):
        if not pending:
            break
        items = [nodes[i][0] for i in pending]
        parent_ids = {i.parent_id for i in items if i.parent_id}
        parents = {}
        for part in _chunks(parent_ids):
            parents.update({p.id: p for p in _items(Item.id.in_(part))})
        splits: dict[int, list[Item]] = {}
        for part in _chunks(pending):
            for s in _items(Item.split_from.in_(part)):
                splits.setdefault(s.split_from_id, []).append(s)
        nxt = []
        for it in items:
            node = nodes[it.id][1]
            parent = parents.get(it.parent_id)
            node["parent"] = None
            if parent is not None:
                node["parent"] = _node(parent)
                nodes[parent.id] = (parent, node["parent"])
                nxt.append(parent.id)
            node["splits"] = []
            for s in splits.get(it.id, []):
                child = _node(s)
                node["splits"].append(child)
                nodes[s.id] = (s, child)
                nxt.append(s.id)
        pending = nxt
    return root


@dataclasses.dataclass
class _Reached:
    unit: Item
    path: list[str]


def _lot_and_reached(sku: str, lot: str) -> tuple[list[Item], dict[int, _Reached]]:
    """The lot's items (with the parts split off them) and every item built from them,
    up any number of levels, each with its path from the lot."""
    product = Product.get_or_none(Product.sku == sku)
    if product is None:
        raise NotFound("not_found", f"No product {sku}")
    lot_items = _items((Item.product == product.id) & (Item.lot == lot))
    seen = {i.id for i in lot_items}
    frontier = [i.id for i in lot_items]
    for _ in range(MAX_DEPTH):  # parts split off, in case a lot number was ever edited
        nxt = []
        for part in _chunks(frontier):
            for s in _items(Item.split_from.in_(part)):
                if s.id not in seen:
                    seen.add(s.id)
                    lot_items.append(s)
                    nxt.append(s.id)
        if not nxt:
            break
        frontier = nxt
    reached: dict[int, _Reached] = {}
    current = {i.id: _Reached(i, [i.code]) for i in lot_items}
    for _ in range(MAX_DEPTH):
        parent_ids = {r.unit.parent_id for r in current.values() if r.unit.parent_id}
        if not parent_ids:
            break
        parents = {}
        for part in _chunks(parent_ids):
            parents.update({p.id: p for p in _items(Item.id.in_(part))})
        nxt = {}
        for r in current.values():
            parent = parents.get(r.unit.parent_id)
            if parent is None or parent.id in reached:
                continue
            nxt[parent.id] = reached[parent.id] = _Reached(parent, [*r.path, parent.code])
        current = nxt
    return lot_items, reached


def recalled_items(sku: str, lot: str) -> list[Item]:
    """Every item of lot `lot` of `sku` and every item built from it, as `recall` finds
    them (the recall hold holds these)."""
    lot_items, reached = _lot_and_reached(sku, lot)
    return lot_items + [r.unit for r in reached.values()]


def recall(sku: str, lot: str) -> dict:
    """Every finished or shipped unit that contains lot `lot` of product `sku`.

    The lot's items are every item of the product with that lot number, and every part
    split from them (a split keeps the lot); from there `parent` is followed up through any
    number of sub-assembly levels. Each unit comes with its order, completed and shipped
    dates and the path from the lot to it.
    """
    lot_items, reached = _lot_and_reached(sku, lot)
    units = [r for r in reached.values() if r.unit.stage in (Stage.FINISHED, Stage.SHIPPED)]
    open_ = [
        r
        for r in reached.values()
        if r.unit.stage not in (Stage.FINISHED, Stage.SHIPPED, Stage.CONSUMED, Stage.SCRAPPED)
    ]
    dates = _dates([r.unit.id for r in reached.values()])

    def out(r: _Reached) -> dict:
        node = _node(r.unit)
        d = dates.get(r.unit.id, {})
        node.update(
            made_order=d.get("made_order"),
            completed_at=d.get("complete"),
            shipped_at=d.get("ship"),
            order_due=r.unit.order.due.isoformat() if r.unit.order_id else None,
            path=r.path,
        )
        return node

    codes = _split_codes(lot_items)
    sent = shipments.of_ids(r.unit.shipment_id for r in units)
    shipped = []
    for r in sorted(units, key=lambda r: r.unit.code):
        row = out(r)
        s = sent.get(r.unit.shipment_id) if r.unit.stage == Stage.SHIPPED else None
        row["shipment"] = s.ref if s else None
        row["customer"] = s.customer if s else None
        row["shipment_date"] = s.ship_date.isoformat() if s else None
        shipped.append(row)
    return {
        "product": sku,
        "lot": lot,
        "lot_items": [{**_node(i), "split_from": codes.get(i.split_from_id)} for i in lot_items],
        "units": shipped,
        # who got the lot: each customer with the shipments and units that went to them
        "customers": _customers(shipped),
        "in_process": [out(r) for r in sorted(open_, key=lambda r: r.unit.code)],
        "orders": sorted(
            {r.unit.order.number for r in reached.values() if r.unit.order_id}
            | {d["made_order"] for d in dates.values() if d.get("made_order")}
        ),
    }


def _dates(item_ids: list[int]) -> dict[int, dict[str, str]]:
    """Per item: the latest accepted complete and ship scan time, and the order it was
    completed under (`made_order`; the item's own order may since be the parent's)."""
    out: dict[int, dict[str, str]] = {}
    for part in _chunks(item_ids):
        rows = (
            LedgerEntry.select(
                LedgerEntry.item,
                LedgerEntry.action,
                LedgerEntry.received_at,
                ProductionOrder.number,
            )
            .join(ProductionOrder, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.order == ProductionOrder.id))
            .where(
                LedgerEntry.item.in_(part)
                & (LedgerEntry.status == "accepted")
                & LedgerEntry.action.in_(("complete", "ship"))
            )
            .order_by(LedgerEntry.id)
            .tuples()
        )
        for item_id, action, at, number in rows:
            entry = out.setdefault(item_id, {})
            entry[action] = at.isoformat() + "Z"
            if action == "complete":
                entry["made_order"] = number
    return out


def _customers(units: list[dict]) -> list[dict]:
    by: dict[str, dict] = {}
    for u in units:
        if not u.get("customer"):
            continue
        entry = by.setdefault(
            u["customer"], {"customer": u["customer"], "shipments": set(), "units": []}
        )
        entry["shipments"].add(u["shipment"])
        entry["units"].append(u["code"])
    return [
        {"customer": e["customer"], "shipments": sorted(e["shipments"]), "units": e["units"]}
        for _k, e in sorted(by.items())
    ]
