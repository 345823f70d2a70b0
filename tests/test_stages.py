"""The transition table, every action x stage x kind, against docs/stages.md's table."""

from __future__ import annotations

import itertools

import pytest

from server.core.stages import Action, Kind, Stage, target_stage

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
