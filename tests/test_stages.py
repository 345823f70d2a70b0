"""The transition table, every action x stage x kind, against docs/stages.md's table; and
the worker message of every illegal one."""

from __future__ import annotations

import itertools

import pytest

from server.core.stages import (
    NEXT_STEP,
    TERMINAL,
    Action,
    Kind,
    Stage,
    illegal_message,
    target_stage,
)

# (action, from, kind) -> to; everything not listed is illegal
ALLOWED = {
    **{
        (Action.RECEIVE, Stage.NEW, k): s
        for k, s in [
            (Kind.RAW, Stage.RAW),
            (Kind.COMPONENT, Stage.COMPONENT),
            (Kind.SUPPLIES, Stage.SUPPLIES),
        ]
    },
    **{(Action.START, Stage.NEW, k): Stage.WIP for k in (Kind.FINISHED, Kind.COMPONENT)},
    **{(Action.ISSUE, s, k): Stage.WIP for s in (Stage.RAW, Stage.COMPONENT) for k in Kind},
    **{(Action.MOVE, Stage.WIP, k): Stage.WIP for k in Kind},
    (Action.COMPLETE, Stage.WIP, Kind.FINISHED): Stage.FINISHED,
    (Action.COMPLETE, Stage.WIP, Kind.COMPONENT): Stage.COMPONENT,
    **{(Action.SHIP, Stage.FINISHED, k): Stage.SHIPPED for k in Kind},
    **{(Action.USE, Stage.SUPPLIES, k): Stage.CONSUMED for k in Kind},
    **{(Action.CONSUME, Stage.WIP, k): Stage.CONSUMED for k in Kind},
    **{
        (Action.SCRAP, s, k): Stage.SCRAPPED
        for s in Stage
        if s not in (Stage.CONSUMED, Stage.SCRAPPED)
        for k in Kind
    },
    **{(Action.RETURN, Stage.SHIPPED, k): Stage.FINISHED for k in Kind},
    # a made unit in work or finished back into work; never a shipped or gone one
    **{
        (Action.REWORK, s, k): Stage.WIP
        for s in (Stage.WIP, Stage.FINISHED)
        for k in (Kind.FINISHED, Kind.COMPONENT)
    },
    # issued material back to its stock stage by kind (only raw and components are issued)
    (Action.UNISSUE, Stage.WIP, Kind.RAW): Stage.RAW,
    (Action.UNISSUE, Stage.WIP, Kind.COMPONENT): Stage.COMPONENT,
    # hold and release: a status beside the stage, of stock in the plant; the stage stays
    **{
        (a, s, k): s
        # transfer: a new place for stock in the plant; the stage stays
        for a in (Action.HOLD, Action.RELEASE, Action.TRANSFER)
        for s in (Stage.RAW, Stage.COMPONENT, Stage.WIP, Stage.FINISHED, Stage.SUPPLIES)
        for k in Kind
    },
}

CASES = list(itertools.product(Action, Stage, Kind))


@pytest.mark.parametrize(
    ("action", "stage", "kind"), CASES, ids=[f"{a}-{s}-{k}" for a, s, k in CASES]
)
def test_transition_table(action, stage, kind):
    assert target_stage(action, stage, kind) == ALLOWED.get((action, stage, kind))


def test_terminal_stages_have_no_way_out():
    for action, kind in itertools.product(Action, Kind):
        for stage in (Stage.CONSUMED, Stage.SCRAPPED):
            assert target_stage(action, stage, kind) is None


ILLEGAL = [(a, s, k) for a, s, k in CASES if (a, s, k) not in ALLOWED]


@pytest.mark.parametrize(
    ("action", "stage", "kind"), ILLEGAL, ids=[f"{a}-{s}-{k}" for a, s, k in ILLEGAL]
)
def test_illegal_message_names_the_stage_and_a_next_step(action, stage, kind):
    message = illegal_message(stage, kind)
    what, _, step = message.partition(": ")
    assert what.startswith("This item is") and step, message
    # the item's real stage, and no other, is what the message says it is
    assert {s for s in Stage if s.value in what.lower()} == {stage}, message
    suggested = NEXT_STEP[(stage, kind)][1]
    if stage in TERMINAL:
        assert suggested == () and "nothing more" in step, message
    else:
        # a next step that is legal from here, named in the message, never the refused one
        assert suggested and action not in suggested, message
        for nxt in suggested:
            assert target_stage(nxt, stage, kind) is not None, (nxt, message)
            assert nxt.value in step, (nxt, message)
