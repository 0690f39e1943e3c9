"""The soak's governance: the devnet's regulators propose and approve actions now and then.

Every gov_every_s one action of a fixed cycle (GOV_CYCLE) is proposed by one
regulator (proposing counts as its yes vote) and approved by the next one's
yes vote: with the devnet's committee of three and a threshold of two, the
vote passes it and it is enacted at the end of the vote's height. The cycle
sets and clears a parameter, adds and removes a content rule, and freezes and
unfreezes an account the load never uses (the faucet), so the chain ends with
governance's state as it began.

The proposal and the vote travel through the load (Load.submit): the same
batches, retries and promises as the load's own transactions, so they are
counted lost or executed twice like the rest. The vote names the proposal as
a parent, so it is ordered after it. Whether each action was enacted is read
from every node's store at the end (soak_check.py), not asked of a node
while it may be down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.soak_load import FinalityWatch, Load
from govchain.sdk.client import propose_payload, vote_payload
from govchain.state.payloads import (
    Action,
    AddFilter,
    FreezeIdentity,
    RemoveFilter,
    SetParam,
    UnfreezeIdentity,
)
from govchain.state.policy import RuleAction, keyword_rule
from govchain.state.rulebook import RULE_ID_PREFIX

HOLD_PARAM = "hold_amount_min"
HOLD_AMOUNT_MIN = 10**15  # far above the load's transfers of 1: nothing is held
FORBIDDEN_TERM = "soakforbidden"  # the load's records never contain it
# Names of the cycle's steps, in order; action_of() makes each one's action.
GOV_CYCLE = (
    "set-param",
    "add-filter",
    "freeze-identity",
    "clear-param",
    "remove-filter",
    "unfreeze-identity",
)
ACTION_ROOM_S = 10.0  # no action starts closer than this to the load's end


def action_of(step: str, bystander: bytes, filters_added: int) -> Action:
    """The action of one step of the cycle; remove-filter removes the last rule added.

    Rule ids are given in order (rule-1, rule-2, ...) and the soak is the only
    one adding rules, so the n-th add-filter enacted made rule-n.
    """
    if step == "set-param":
        return SetParam(HOLD_PARAM, HOLD_AMOUNT_MIN)
    if step == "clear-param":
        return SetParam(HOLD_PARAM, None)
    if step == "add-filter":
        return AddFilter(keyword_rule(FORBIDDEN_TERM), RuleAction.REJECT)
    if step == "remove-filter":
        return RemoveFilter(f"{RULE_ID_PREFIX}{filters_added}")
    if step == "freeze-identity":
        return FreezeIdentity(bystander)
    if step == "unfreeze-identity":
        return UnfreezeIdentity(bystander)
    raise ValueError(f"no step {step!r} in the soak's governance cycle")


@dataclass(slots=True)
class GovAction:
    """One action the soak proposed: what, when, and whether its two transactions went."""

    step: str
    proposal_id: str
    vote_id: str
    proposed_s: float
    promised: bool = False  # both the proposal and the vote were promised


@dataclass(slots=True)
class _Chain:
    """One regulator's nonce chain."""

    key: SigningKey
    sender: int  # negative: the report's name for this key among the promises
    parent: bytes
    nonce: int = 0


class Governor:
    """Proposes and approves one action of the cycle every every_s; see the module doc."""

    def __init__(
        self,
        load: Load,
        regulators: list[SigningKey],
        genesis_id: bytes,
        bystander: bytes,
        every_s: float,
        clock: Callable[[], float],
    ) -> None:
        if len(regulators) < 2:
            raise ValueError("governance needs two regulators: one proposes, one approves")
        self.load = load
        self.watch: FinalityWatch = load.watch
        self.chains = [_Chain(k, -1 - i, genesis_id) for i, k in enumerate(regulators)]
        self.bystander = bystander
        self.every_s = every_s
        self.clock = clock
        self.limits = DagLimits()
        self.actions: list[GovAction] = []
        self.stopped: str | None = None  # why governance stopped early, if it did
        self._filters_added = 0

    async def run(self, until_s: float) -> None:
        """An action every every_s until ACTION_ROOM_S before until_s, or the first failure."""
        next_s = self.clock() + self.every_s
        while next_s + ACTION_ROOM_S < until_s:
            await asyncio.sleep(max(0.0, next_s - self.clock()))
            if not await self._one(len(self.actions)):
                return
            next_s = max(next_s + self.every_s, self.clock())

    async def _one(self, i: int) -> bool:
        step = GOV_CYCLE[i % len(GOV_CYCLE)]
        if step == "add-filter":
            self._filters_added += 1
        action = action_of(step, self.bystander, self._filters_added)
        proposer = self.chains[i % len(self.chains)]
        voter = self.chains[(i + 1) % len(self.chains)]
        proposal = self._build(
            proposer, Kind.GOV_PROPOSE, propose_payload(action, f"soak: {step} #{i}"), []
        )
        pid = proposal.id.hex()
        vote = self._build(voter, Kind.GOV_VOTE, vote_payload(pid, True), [proposal.id])
        record = GovAction(step, pid, vote.id.hex(), self.clock())
        self.actions.append(record)
        if not await self.load.submit(proposal, proposer.sender):
            self.stopped = f"the proposal of {step} #{i} was never promised"
            return False
        # The vote names the proposal as a parent: sent once a node promised it.
        if not await self.load.submit(vote, voter.sender):
            self.stopped = f"the vote on {step} #{i} was never promised"
            return False
        record.promised = True
        return True

    def _build(self, chain: _Chain, kind: str, payload: bytes, extra: list[bytes]) -> Transaction:
        tx = build(
            chain.key,
            chain_id=self.load.chain_id,
            kind=kind,
            nonce=chain.nonce,
            parents=[chain.parent, *extra],
            valid_until=self.watch.height + self.limits.validity_window_heights_max // 2,
            payload=payload,
            stamp_bits_min=self.limits.stamp_bits_min,
        )
        chain.parent, chain.nonce = tx.id, chain.nonce + 1
        return tx
