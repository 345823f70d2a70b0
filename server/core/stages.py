"""Stages, dispositions, actions and the transition table.

This module is the single source of truth for which moves are legal. Schedule checks
(`schedule.py`) come on top of it and can be configured per station; an illegal stage
transition is always rejected.
"""

from __future__ import annotations

import enum


class Stage(enum.StrEnum):
    NEW = "new"  # labelled, not yet in stock
    RAW = "raw"
    COMPONENT = "component"
    WIP = "wip"
    FINISHED = "finished"
    SHIPPED = "shipped"
    SUPPLIES = "supplies"
    # terminal dispositions
    CONSUMED = "consumed"
    SCRAPPED = "scrapped"


TERMINAL = frozenset({Stage.CONSUMED, Stage.SCRAPPED})
#: stages of an item that has left the plant or is gone into something else: it has no
#: place at a station (its station column keeps the last one it was at, for the record);
#: where it left from is the ledger row that took it there (`items.left_from`)
GONE = frozenset({Stage.SHIPPED, Stage.CONSUMED, Stage.SCRAPPED})
#: stages that count as stock on hand (everything but new, shipped and terminal)
ON_HAND = frozenset({Stage.RAW, Stage.COMPONENT, Stage.WIP, Stage.FINISHED, Stage.SUPPLIES})


class Kind(enum.StrEnum):
    """What a product is; decides where a receive or a complete puts it."""

    RAW = "raw"
    COMPONENT = "component"
    FINISHED = "finished"
    SUPPLIES = "supplies"


class Tracking(enum.StrEnum):
    UNIT = "unit"  # one label per physical unit, qty 1
    LOT = "lot"  # one label per lot, qty may be split


class Action(enum.StrEnum):
    RECEIVE = "receive"
    START = "start"
    ISSUE = "issue"
    MOVE = "move"
    COMPLETE = "complete"
    SHIP = "ship"
    USE = "use"
    CONSUME = "consume"
    SCRAP = "scrap"
    RETURN = "return"
    REWORK = "rework"
    UNISSUE = "unissue"
    #: putaway or transfer: the item goes to the scanner's current location (a location
    #: label, `LOC-<code>`), its stage and station stay (server/core/locations.py)
    TRANSFER = "transfer"
    # a status beside the stage, not a move: the stage stays
    HOLD = "hold"
    RELEASE = "release"


#: actions a station may have as its default (what a plain scan there means)
STATION_ACTIONS = (
    Action.RECEIVE,
    Action.START,
    Action.ISSUE,
    Action.MOVE,
    Action.COMPLETE,
    Action.SHIP,
    Action.USE,
    Action.REWORK,
    Action.UNISSUE,
    Action.TRANSFER,
)
#: actions a scanner may be switched to with an action command label
OVERRIDE_ACTIONS = (*STATION_ACTIONS, Action.SCRAP, Action.RETURN, Action.HOLD, Action.RELEASE)
#: actions that set or clear the hold status and leave the stage as it is
HOLD_ACTIONS = frozenset({Action.HOLD, Action.RELEASE})
#: actions refused `reason_required` without a reason from the reason list (a rework's
#: reason is counted like a scrap's; no station policy waives it: docs/decisions.md)
REASON_ACTIONS = frozenset({Action.HOLD, Action.RELEASE, Action.REWORK})
#: what a held item still accepts: release, scrap, and a transfer (carrying it to a
#: quarantine bin is what a hold usually asks for; it stays held there, docs/decisions.md)
WHILE_HELD = frozenset({Action.RELEASE, Action.SCRAP, Action.TRANSFER})
#: what an expired item still accepts: disposing of it, taking back what a customer
#: returns, holding and releasing it and returning it to stores; everything else answers
#: `expired` (docs/decisions.md)
EXPIRY_EXEMPT = frozenset(
    {Action.SCRAP, Action.RETURN, Action.HOLD, Action.RELEASE, Action.UNISSUE, Action.TRANSFER}
)
#: actions that need a signed-in supervisor (or a supervisor's API token) and a reason
SUPERVISOR_ACTIONS = frozenset({Action.SCRAP, Action.RETURN})
#: a station's `policy["scrap_by"]`, the default first: "operator" lets any signed-in worker
#: scrap there with a reason from the reason list that applies to scrap
SCRAP_BY = ("supervisor", "operator")

RECEIVE_TO = {
    Kind.RAW: Stage.RAW,
    Kind.COMPONENT: Stage.COMPONENT,
    Kind.SUPPLIES: Stage.SUPPLIES,
}
COMPLETE_TO = {
    Kind.FINISHED: Stage.FINISHED,
    Kind.COMPONENT: Stage.COMPONENT,
}
MADE_IN_PLANT = frozenset({Kind.FINISHED, Kind.COMPONENT})
#: where unissued material goes back to: its stock stage by the product's kind (only raw
#: material and components are ever issued)
UNISSUE_TO = {
    Kind.RAW: Stage.RAW,
    Kind.COMPONENT: Stage.COMPONENT,
}

_NON_TERMINAL = frozenset(Stage) - TERMINAL

#: action -> the stages it may start from
ALLOWED_FROM: dict[Action, frozenset[Stage]] = {
    Action.RECEIVE: frozenset({Stage.NEW}),
    Action.START: frozenset({Stage.NEW}),
    Action.ISSUE: frozenset({Stage.RAW, Stage.COMPONENT}),
    Action.MOVE: frozenset({Stage.WIP}),
    Action.COMPLETE: frozenset({Stage.WIP}),
    Action.SHIP: frozenset({Stage.FINISHED}),
    Action.USE: frozenset({Stage.SUPPLIES}),
    Action.CONSUME: frozenset({Stage.WIP}),
    Action.SCRAP: _NON_TERMINAL,
    Action.RETURN: frozenset({Stage.SHIPPED}),
    Action.REWORK: frozenset({Stage.WIP, Stage.FINISHED}),
    Action.UNISSUE: frozenset({Stage.WIP}),
    Action.HOLD: ON_HAND,
    Action.RELEASE: ON_HAND,
    Action.TRANSFER: ON_HAND,
}


def target_stage(action: Action, stage: Stage, kind: Kind) -> Stage | None:
    """The stage an item of `kind` in `stage` reaches by `action`, or None if illegal.

    This is the whole transition table (docs/stages.md); everything not answered here is an
    `illegal_transition`.
    """
    if stage not in ALLOWED_FROM[action]:
        return None
    match action:
        case Action.RECEIVE:
            return RECEIVE_TO.get(kind)
        case Action.START:
            return Stage.WIP if kind in MADE_IN_PLANT else None
        case Action.ISSUE | Action.MOVE:
            return Stage.WIP
        case Action.COMPLETE:
            return COMPLETE_TO.get(kind)
        case Action.SHIP:
            return Stage.SHIPPED
        case Action.USE | Action.CONSUME:
            return Stage.CONSUMED
        case Action.SCRAP:
            return Stage.SCRAPPED
        case Action.RETURN:
            return Stage.FINISHED
        case Action.REWORK:
            return Stage.WIP if kind in MADE_IN_PLANT else None
        case Action.UNISSUE:
            return UNISSUE_TO.get(kind)
        case Action.HOLD | Action.RELEASE | Action.TRANSFER:
            return stage
    return None  # pragma: no cover - match is exhaustive


def _next_step(stage: Stage, kind: Kind) -> tuple[str, tuple[Action, ...]]:
    match stage:
        case Stage.NEW if kind == Kind.COMPONENT:
            return (
                "This item is new (never received or started): receive it or start it first",
                (Action.RECEIVE, Action.START),
            )
        case Stage.NEW if kind == Kind.FINISHED:
            return (
                "This item is new (not started yet): start it at its first station",
                (Action.START,),
            )
        case Stage.NEW:
            return "This item is new (never received): receive it first", (Action.RECEIVE,)
        case Stage.RAW:
            return "This item is raw material in stock: issue it to an order", (Action.ISSUE,)
        case Stage.COMPONENT:
            return "This item is a component in stock: issue it to an order", (Action.ISSUE,)
        case Stage.WIP if kind in MADE_IN_PLANT:
            return (
                "This item is in work (WIP): move it to its next station or complete it",
                (Action.MOVE, Action.COMPLETE),
            )
        case Stage.WIP if kind == Kind.RAW:
            return (
                "This item is in work (WIP), issued to an order: it is consumed when its "
                "unit is completed, or unissue it to return it to stock",
                (Action.CONSUME, Action.UNISSUE),
            )
        case Stage.WIP:
            return (
                "This item is in work (WIP), issued to an order: it is consumed when its "
                "unit is completed",
                (Action.CONSUME,),
            )
        case Stage.FINISHED:
            return "This item is finished: ship it", (Action.SHIP,)
        case Stage.SHIPPED:
            return (
                "This item is already shipped: only a supervisor can return it",
                (Action.RETURN,),
            )
        case Stage.SUPPLIES:
            return "This item is in supplies: use it at stores", (Action.USE,)
        case Stage.CONSUMED:
            return "This item is already consumed: nothing more can be done with it", ()
        case Stage.SCRAPPED:
            return "This item is scrapped: nothing more can be done with it", ()
    raise ValueError(stage)  # pragma: no cover - match is exhaustive


#: (stage, kind) -> what an item there is and what is done with it next, and the actions
#: that sentence suggests (legal from there: tests/test_stages.py checks it). The sentence
#: is the worker message of an `illegal_transition`, whatever action was refused; fixed
#: sentences, so the pages translate them whole (each is a msgid in server/web/i18n.py).
NEXT_STEP: dict[tuple[Stage, Kind], tuple[str, tuple[Action, ...]]] = {
    (stage, kind): _next_step(stage, kind) for stage in Stage for kind in Kind
}


def illegal_message(stage: Stage, kind: Kind) -> str:
    """The worker message of an `illegal_transition` from `stage`: the item's real stage
    and what to do with it next."""
    return NEXT_STEP[(stage, kind)][0]
