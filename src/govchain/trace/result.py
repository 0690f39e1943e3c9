"""What a trace answers, its canonical encoding and its result_root.

The root covers what final history decides: the case (its window pinned to
the snapshot height), the snapshot, the nodes, edges, totals and cuts. It
does not cover what governance does about them later (amounts frozen,
which accounts are services or identified): those are the node's current
annotations (api/trace_view.py), so enacting a freeze never makes the trace
it cites stale.
"""

from __future__ import annotations

import msgspec

from govchain.codec import digest, encode
from govchain.trace.case import TraceCase

RESULT_DOMAIN = b"govchain/trace-result/v1"
# 2: events count only what a trace reads (from the taint's arrival on).
RESULT_VERSION = 2


class TraceNode(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An account the taint reached, as of the snapshot."""

    account: bytes
    hop: int  # hops along the path of the first taint to arrive (seeds: 0)
    tainted: int  # taint held now (unfollowed accounts: taint received)
    freezable_cap: int  # the most a freeze can claim here under the policy (0: scoring only)
    followed: bool  # False: a limit stopped the trace at this account
    labels: tuple[str, ...]  # sorted labels of the seeds whose taint reached it


class TraceEdge(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A movement that carried taint."""

    height: int
    position: int
    seq: int
    tx_id: bytes
    src: bytes
    dst: bytes
    amount: int
    tainted: int


class Truncation(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Which limit cut the trace: how many accounts it stopped at, how much taint it left."""

    limit: str  # "hops" | "accounts" | "events"
    accounts: int
    tainted: int


class Summary(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Totals over the result."""

    seeded: int  # taint the seeds put in (a seed is clipped to what the account holds)
    tainted_followed: int  # taint held now by followed accounts
    tainted_unfollowed: int  # taint that reached accounts a limit stopped at
    freezable: int  # sum of the freezable caps
    accounts: int
    edges: int
    events: int  # movements read from the source


class TraceResult(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The whole answer; result_root covers every other field."""

    version: int
    case: TraceCase
    snapshot_height: int  # the last height read (the source's top, or the window's end)
    state_hash: bytes  # given by the caller (the node knows it; the engine does not)
    seeded: tuple[int, ...]  # per seed, the amount actually tainted
    nodes: tuple[TraceNode, ...]  # sorted by account
    edges: tuple[TraceEdge, ...]  # in final order
    summary: Summary
    truncations: tuple[Truncation, ...]  # sorted by limit name
    result_root: bytes = b""


def root_of(result: TraceResult) -> bytes:
    """The digest any node recomputes: over the canonical encoding with result_root emptied."""
    body = msgspec.structs.replace(result, result_root=b"")
    return digest(RESULT_DOMAIN, encode(body))


def sealed(result: TraceResult) -> TraceResult:
    """The result with its result_root filled in."""
    return msgspec.structs.replace(result, result_root=root_of(result))


def assemble(
    case: TraceCase,
    snapshot_height: int,
    state_hash: bytes,
    seeded: list[int],
    nodes: list[TraceNode],
    edges: list[TraceEdge],
    events: int,
    cut: dict[str, list[int]],
) -> TraceResult:
    """The sealed result from its parts (nodes sorted by account, edges in final order)."""
    summary = Summary(
        sum(seeded),
        sum(n.tainted for n in nodes if n.followed),
        sum(n.tainted for n in nodes if not n.followed),
        sum(n.freezable_cap for n in nodes),
        len(nodes),
        len(edges),
        events,
    )
    truncations = tuple(Truncation(k, v[0], v[1]) for k, v in sorted(cut.items()))
    body = TraceResult(
        RESULT_VERSION,
        case,
        snapshot_height,
        state_hash,
        tuple(seeded),
        tuple(nodes),
        tuple(edges),
        summary,
        truncations,
    )
    return sealed(body)
