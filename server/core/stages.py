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


#: actions a station may have as its default (what a plain scan there means)
STATION_ACTIONS = (
    Action.RECEIVE,
    Action.START,
    Action.ISSUE,
    Action.MOVE,
    Action.COMPLETE,
    Action.SHIP,
    Action.USE,
)
#: actions a scanner may be switched to with an action command label
OVERRIDE_ACTIONS = (*STATION_ACTIONS, Action.SCRAP, Action.RETURN)
#: actions that need a signed-in supervisor (or a supervisor's API token) and a reason
SUPERVISOR_ACTIONS = frozenset({Action.SCRAP, Action.RETURN})

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
    return None  # pragma: no cover - match is exhaustive
