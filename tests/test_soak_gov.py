"""The soak's governance cycle: actions a chain accepts, ending where it began."""

from __future__ import annotations

from govchain.apps.catalog import ALL
from govchain.cli.gov_args import LOCAL_PARAMS
from govchain.crypto.keys import SigningKey
from govchain.node.soak_gov import GOV_CYCLE, HOLD_PARAM, action_of
from govchain.state.payloads import (
    AddFilter,
    FreezeIdentity,
    RemoveFilter,
    SetParam,
    UnfreezeIdentity,
    action_name,
)

BYSTANDER = SigningKey.from_label("faucet").address


def test_every_step_is_an_action_whose_arguments_a_chain_accepts() -> None:
    for step in GOV_CYCLE:
        action = action_of(step, BYSTANDER, 1)
        assert ALL.argument_error(action, LOCAL_PARAMS) is None, step
        assert action_name(action) == step.replace("clear-param", "set-param")


def test_the_cycle_undoes_what_it_does() -> None:
    actions = [action_of(s, BYSTANDER, 3) for s in GOV_CYCLE]
    params = [a for a in actions if isinstance(a, SetParam)]
    assert [(p.name, p.value is None) for p in params] == [(HOLD_PARAM, False), (HOLD_PARAM, True)]
    assert sum(isinstance(a, AddFilter) for a in actions) == 1
    assert [a.rule_id for a in actions if isinstance(a, RemoveFilter)] == ["rule-3"]
    frozen = [a.address for a in actions if isinstance(a, FreezeIdentity)]
    thawed = [a.address for a in actions if isinstance(a, UnfreezeIdentity)]
    assert frozen == thawed == [BYSTANDER]
    names = [action_name(a) for a in actions]
    assert names.index("add-filter") < names.index("remove-filter")
    assert names.index("freeze-identity") < names.index("unfreeze-identity")
