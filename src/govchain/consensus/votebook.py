"""The votes of one height: per round, kind and voter, the values it voted for.

An equivocating voter's votes for different values each count toward their own
value (Tendermint's safety argument already lets f voters say anything), but
a voter counts once toward "any value". Values per voter are capped.
"""

from __future__ import annotations

from enum import Enum

from govchain.consensus.messages import Vote
from govchain.consensus.validators import ValidatorSet

VALUES_PER_VOTER_MAX = 4


class Added(Enum):
    """What adding a vote did."""

    NEW = "new"
    DUPLICATE = "duplicate"
    EQUIVOCATION = "equivocation"  # a second value from one voter, kept
    REFUSED = "refused"  # over the per-voter cap


class VoteBook:
    """Votes keyed (kind, round) -> voter -> value -> vote."""

    def __init__(self, valset: ValidatorSet | None, *, count_duplicates: bool = False) -> None:
        self.valset = valset
        # count_duplicates is the planted "double-count" bug, for negative controls.
        self.count_duplicates = count_duplicates
        self._box: dict[tuple[int, int], dict[bytes, dict[bytes, Vote]]] = {}
        self._dupes: dict[tuple[int, int], list[Vote]] = {}

    def has(self, v: Vote) -> bool:
        """True when this exact (voter, value) is already held for its slot."""
        return v.value in self._box.get((v.kind, v.round), {}).get(v.voter, {})

    def add(self, v: Vote) -> Added:
        """Record a vote whose signature the caller has checked."""
        by_value = self._box.setdefault((v.kind, v.round), {}).setdefault(v.voter, {})
        if v.value in by_value:
            if self.count_duplicates:
                self._dupes.setdefault((v.kind, v.round), []).append(v)
            return Added.DUPLICATE
        if len(by_value) >= VALUES_PER_VOTER_MAX:
            return Added.REFUSED
        by_value[v.value] = v
        return Added.EQUIVOCATION if len(by_value) > 1 else Added.NEW

    def votes_for(self, kind: int, round_: int, value: bytes) -> list[Vote]:
        """Votes of kind in round for value, in voter order (with planted duplicates)."""
        box = self._box.get((kind, round_), {})
        out = [vals[value] for _, vals in sorted(box.items()) if value in vals]
        if self.count_duplicates:
            out += [d for d in self._dupes.get((kind, round_), []) if d.value == value]
        return out

    def votes_in(self, kind: int, round_: int) -> list[Vote]:
        """Every vote held of kind in round, in voter order (each voter's values in order)."""
        box = self._box.get((kind, round_), {})
        return [v for _, vals in sorted(box.items()) for v in vals.values()]

    def weight(self, kind: int, round_: int, value: bytes | None) -> int:
        """Weight voting for value in the slot; for None, every voter once."""
        if self.valset is None:
            return 0  # height not entered yet: no vote counts
        w = self.valset.weight_of
        if value is not None:
            return sum(w(v.voter) for v in self.votes_for(kind, round_, value))
        box = self._box.get((kind, round_), {})
        total = sum(w(voter) for voter in box)
        if self.count_duplicates:
            total += sum(w(d.voter) for d in self._dupes.get((kind, round_), []))
        return total
