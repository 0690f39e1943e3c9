"""What a trace is asked: seeds, direction, policy and limits (plain, encodable data)."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from govchain.codec import INT_MAX

# Defaults from issue 13; every limit is explicit and part of the encoded case.
HOPS_MAX_DEFAULT = 6
ACCOUNTS_MAX_DEFAULT = 10_000
EVENTS_MAX_DEFAULT = 1_000_000
SEEDS_MAX = 64  # a case names a handful of seeds; more is a mistake, not a query
LABEL_BYTES_MAX = 256  # 64 characters of any script
ADDRESS_BYTES = 20
TX_ID_BYTES = 32


class TraceError(ValueError):
    """The case is malformed (the caller's fault); nothing was traced."""


class Direction(StrEnum):
    """Which way the money is followed."""

    FORWARD = "forward"  # where did it go
    BACKWARD = "backward"  # where did it come from


class Policy(StrEnum):
    """How taint is attributed when tainted and clean money mix in an account."""

    FIFO = "fifo"  # first in, first out lots (Clayton's case)
    LIBR = "libr"  # FIFO, with the lowest intermediate balance capping what is claimable
    HAIRCUT = "haircut"  # proportional (scoring only)
    POISON = "poison"  # everything out of a tainted account is tainted (scoring only)


class Seed(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """`amount` of `account`'s money, from a transaction or a height, named `label`.

    Forward with `tx_id`: the first `amount` units that transaction credits to the
    account. Forward with only `height`: the newest `amount` units of the account's
    balance at the start of that height (-1: the window's first height).
    Backward with `tx_id`: the first `amount` units that transaction debits from
    the account. Backward with only `height`: the `amount` units that would leave
    the account next, after every movement up to that height (-1: the snapshot).
    An empty tx_id means "not given".
    """

    account: bytes
    amount: int
    tx_id: bytes = b""
    height: int = -1
    label: str = ""


class Limits(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Where a trace stops; each cut is reported as a truncation."""

    hops_max: int = HOPS_MAX_DEFAULT
    accounts_max: int = ACCOUNTS_MAX_DEFAULT
    events_max: int = EVENTS_MAX_DEFAULT
    from_height: int = 0
    to_height: int = INT_MAX  # clipped to the source's top height


class TraceCase(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One trace request: the seeds and how to follow them."""

    seeds: tuple[Seed, ...]
    direction: str = Direction.FORWARD
    policy: str = Policy.FIFO
    limits: Limits = Limits()


def check_case(case: TraceCase) -> None:
    """Raise TraceError naming the first thing wrong with the case."""
    if not 1 <= len(case.seeds) <= SEEDS_MAX:
        raise TraceError(f"a case needs 1 to {SEEDS_MAX} seeds, got {len(case.seeds)}")
    if case.direction not in Direction.__members__.values():
        raise TraceError(f"unknown direction {case.direction!r}")
    if case.policy not in Policy.__members__.values():
        raise TraceError(f"unknown policy {case.policy!r}")
    lim = case.limits
    for name in ("hops_max", "accounts_max", "events_max"):
        value = getattr(lim, name)
        if not 1 <= value <= INT_MAX:
            raise TraceError(f"limit {name} must be a positive integer, got {value}")
    if not 0 <= lim.from_height <= lim.to_height <= INT_MAX:
        raise TraceError("the height window must satisfy 0 <= from_height <= to_height")
    for i, seed in enumerate(case.seeds):
        where = f"seed {i}"
        if len(seed.account) != ADDRESS_BYTES:
            raise TraceError(f"{where}: an account is {ADDRESS_BYTES} bytes")
        if not 1 <= seed.amount <= INT_MAX:
            raise TraceError(f"{where}: amount must be a positive integer")
        if seed.tx_id and len(seed.tx_id) != TX_ID_BYTES:
            raise TraceError(f"{where}: a transaction id is {TX_ID_BYTES} bytes")
        if not -1 <= seed.height <= INT_MAX:
            raise TraceError(f"{where}: height must be -1 (unset) or a height")
        if len(seed.label.encode()) > LABEL_BYTES_MAX:
            raise TraceError(f"{where}: label longer than {LABEL_BYTES_MAX} bytes")
