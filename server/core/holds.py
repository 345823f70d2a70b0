"""Hold and release: the `held` status beside an item's stage.

A held item (QC fail, a suspect lot) keeps its stage and place; every action on it is
rejected `on_hold` except release and scrap (`stages.WHILE_HELD`). Holding needs a reason
from the reason list that applies to hold, releasing one that applies to release and a
supervisor. The scan path (`scans.py`) and the API (`POST /api/items/{code}/hold|release`)
both come here, so both write the same item columns and ledger row.
"""

from __future__ import annotations

import datetime as dt

from server.core import hot
from server.core.errors import Rejected
from server.core.stages import GONE, Action, Stage
from server.models import Item

SUPERVISOR_ROLES = ("supervisor", "admin")


def check_not_held(item: Item, action: Action) -> None:
    """Reject `action` on a held item unless it is one a held item accepts."""
    if item.held and action not in (Action.RELEASE, Action.SCRAP):
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


def clear_on_scrap(item: Item) -> None:
    """A held item scrapped is no longer held: it is gone."""
    if item.held:
        item.held = False
        hot.save_item(item)
