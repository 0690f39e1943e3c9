"""A burst: a few warehouse transactions sent together, each after those it needs.

Each transaction names those it depends on as parents (an offer before its
signatures, a weighing before the intake), so the final order runs them in
order, often within one height. A payload may depend on the ids of the
burst's earlier transactions (a signature names its offer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from govchain.apps.warehouse.book import WarehouseBook
from govchain.apps.warehouse.ops import (
    KIND_WR,
    AnyOp,
    Sign,
)
from govchain.codec import encode
from govchain.sim.workload import AFTER_MAX, Client
from govchain.state.kinds.gov_vote import VotePayload
from govchain.state.ledger import Ledger

Payload = Callable[[list[bytes]], bytes]  # the burst's ids so far -> the payload
Move = tuple[str, int]  # (bin, grams) the book gains or loses once a transaction executes


@dataclass(frozen=True, slots=True)
class _Send:
    label: str
    actor: Client
    kind: str
    payload: Payload
    after: tuple[int, ...]  # indexes of earlier sends it depends on
    intent: tuple[Move, ...]  # what it moves once it executes
    departs: tuple[int, str] | None  # (the order's index, receipt): goods weighed out


def _constant(data: bytes) -> Payload:
    """A payload that depends on no earlier transaction."""

    def build(_ids: list[bytes]) -> bytes:
        return data

    return build


def signing(offer: int) -> Payload:
    """`sign` of the offer that the burst's transaction at that index opened."""

    def build(ids: list[bytes]) -> bytes:
        return encode(Sign(ids[offer]))

    return build


def voting(proposal: int) -> Payload:
    """A yes vote on the proposal that the burst's transaction at that index made."""

    def build(ids: list[bytes]) -> bytes:
        return encode(VotePayload(ids[proposal], True))

    return build


class Burst:
    """Transactions to send together, each after those it depends on."""

    def __init__(self) -> None:
        self.sends: list[_Send] = []

    def add(
        self,
        label: str,
        actor: Client,
        kind: str,
        payload: bytes | Payload,
        after: Iterable[int | None] = (),
        intent: tuple[Move, ...] = (),
        departs: tuple[int, str] | None = None,
    ) -> int:
        """Add one transaction; returns its index (what later ones depend on)."""
        deps = tuple(sorted({i for i in after if i is not None}))
        if len(deps) > AFTER_MAX:
            raise ValueError(f"{label} depends on {len(deps)} transactions, at most {AFTER_MAX}")
        build = _constant(payload) if isinstance(payload, bytes) else payload
        self.sends.append(_Send(label, actor, kind, build, deps, intent, departs))
        return len(self.sends) - 1

    def op(
        self,
        label: str,
        actor: Client,
        op: AnyOp,
        after: Iterable[int | None] = (),
        signers: Sequence[tuple[str, Client]] = (),
        intent: tuple[Move, ...] = (),
    ) -> int:
        """A `wr` transition; with signers, the offer and each signature, in turn.

        The signatures follow each other, so the last executes the transition
        (and carries the intent). Returns the last one's index.
        """
        first = self.add(label, actor, KIND_WR, encode(op), after, () if signers else intent)
        last = first
        for n, (who, signer) in enumerate(signers):
            last = self.add(
                f"{label}/sign-{who}",
                signer,
                KIND_WR,
                signing(first),
                (first, last),
                intent if n == len(signers) - 1 else (),
            )
        return last


@dataclass(slots=True)
class Plan:
    """One burst being planned: the ledger it starts from and what it adds."""

    ledger: Ledger
    book: WarehouseBook
    burst: Burst = field(default_factory=Burst)
    base: list[int | None] = field(default_factory=list)  # what every move waits for
    belief: dict[str, int] = field(default_factory=dict)  # bin -> grams, as the burst goes
