"""Hold and release: the `held` status beside an item's stage.

A held item (QC fail, a suspect lot) keeps its stage; every action on it is rejected
`on_hold` except release, scrap and transfer (`stages.WHILE_HELD`: carried to a quarantine
bin, it stays held there). Holding needs a reason
from the reason list that applies to hold, releasing one that applies to release and a
supervisor. The scan path (`scans.py`) and the API (`POST /api/items/{code}/hold|release`)
both come here, so both write the same item columns and ledger row. A lot recall holds
every item of the lot and every item built from it in one go (`hold_recall`), item by item
through the same `hold_outside_a_scan` as the API's hold of one item.
"""

from __future__ import annotations

import datetime as dt

from server.core import events, hot, siteaccess, trace
from server.core.errors import Rejected
from server.core.stages import GONE, WHILE_HELD, Action, Stage
from server.models import Item, LedgerEntry

SUPERVISOR_ROLES = ("supervisor", "admin")


def check_not_held(item: Item, action: Action) -> None:
    """Reject `action` on a held item unless it is one a held item accepts."""
    if item.held and action not in WHILE_HELD:
        raise Rejected(
            "on_hold",
            f"{item.code} is on hold ({item.held_why}): a supervisor releases it first",
            why=item.held_why,
        )


def set_hold(item: Item, action: Action, *, why: str, user, now: dt.datetime) -> str:
    """Hold or release `item` (already checked: `why` applies to the action); returns the
    worker's message. Release needs a supervisor; holding a held item or releasing one
    that is not held changes nothing and is refused."""
    if Stage(item.stage) in GONE or Stage(item.stage) == Stage.NEW:
        raise Rejected(
            "illegal_transition", f"Only stock in the plant is held, not a {item.stage} item"
        )
    if action == Action.HOLD:
        if item.held:
            raise Rejected("on_hold", f"{item.code} is already on hold ({item.held_why})")
        item.held = True
        item.held_why = why
        item.held_by_id = user.id if user is not None else None
        item.held_at = now
        hot.save_item(item)
        return f"Held: {item.code} ({why})"
    if user is None or user.role not in SUPERVISOR_ROLES:
        raise Rejected("supervisor_required", "A supervisor releases a held item")
    if not item.held:
        raise Rejected("not_held", f"{item.code} is not on hold")
    item.held = False
    item.held_why = None
    item.held_by_id = None
    item.held_at = None
    hot.save_item(item)
    return f"Released: {item.code} ({why})"


def hold_outside_a_scan(item: Item, action: Action, *, why: str, user, now) -> str:
    """Hold or release `item` from the API or a page (no scan carries it): `set_hold` and
    the ledger row a scan would have written, origin `api`; returns the message."""
    message = set_hold(item, action, why=why, user=user, now=now)
    LedgerEntry.create(
        origin="api",
        action=action.value,
        item=item.id,
        from_stage=item.stage,
        to_stage=item.stage,
        qty=item.qty,
        message=message,
        why=why,
        operator=user.id if user is not None else None,
        station=item.station_id,
        received_at=now,
    )
    events.emit(
        events.ACTION_EVENTS[action.value],
        item.code,
        {
            "item": item.code,
            "action": action.value,
            "stage": item.stage,
            "station": item.station.code if item.station_id else None,
            "why": why,
            "operator": user.username if user is not None else None,
            "origin": "api",
        },
        now=now,
    )
    return message


def clear_on_scrap(item: Item) -> None:
    """A held item scrapped is no longer held: it is gone."""
    if item.held:
        item.held = False
        hot.save_item(item)


def hold_recall(sku: str, lot: str, *, why: str, user, now: dt.datetime) -> dict:
    """Hold every item of lot `lot` of `sku` and every item built from it (the recall's
    genealogy upward), each with its ledger row; `why` is already checked to apply to hold.
    The caller's transaction makes it all or nothing. Items already held are left as they
    are; shipped, consumed and scrapped ones are listed (`gone`) for the customer
    follow-up; labels not yet received (`new`) are not stock and are only counted.

    A user limited to sites holds the items at those sites only: an item in plant at
    another site is left as it is and listed (`other_sites`) for that site's supervisor or
    an admin to hold (docs/decisions.md; `siteaccess.item_visible`, as a hold of one item)."""
    held: list[str] = []
    already: list[str] = []
    gone: list[dict] = []
    others: list[str] = []
    not_received = 0
    seen: set[int] = set()
    for item in trace.recalled_items(sku, lot):
        if item.id in seen:
            continue
        seen.add(item.id)
        stage = Stage(item.stage)
        if stage in GONE:
            gone.append({"code": item.code, "product": item.product.sku, "stage": item.stage})
            continue
        if stage == Stage.NEW:
            not_received += 1
            continue
        if not siteaccess.item_visible(user, item):
            others.append(item.code)
            continue
        fresh = hot.relock(item)
        if fresh.held:
            already.append(fresh.code)
            continue
        hold_outside_a_scan(fresh, Action.HOLD, why=why, user=user, now=now)
        held.append(fresh.code)
    return {
        "product": sku,
        "lot": lot,
        "reason": why,
        "held": len(held),
        "already_held": len(already),
        "gone": len(gone),
        "not_received": not_received,
        "other_sites": len(others),
        "other_site_codes": sorted(others),
        "held_codes": sorted(held),
        "already_held_codes": sorted(already),
        "gone_items": sorted(gone, key=lambda g: g["code"]),
    }
