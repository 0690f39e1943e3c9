"""A movement source with the genesis balances in front: every history complete from height 0.

Genesis balances are no transaction's doing, so the index (written per
executed height) never holds them. Without them the engine can only infer an
opening balance from what an account later spends, and FIFO would take money
held since genesis for money that arrived later. This wrapper serves each
genesis balance as a movement at height 0 from GENESIS, before the account's
indexed movements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from govchain.trace.movements import (
    GENESIS,
    Movement,
    MovementKind,
    MovementSource,
    last_before,
)

_GENESIS_KIND = MovementKind.GENESIS.value


class GenesisMovements:
    """The genesis balances as height-0 movements, by account: built once per chain.

    A node builds it once (100,000 balances take a quarter of a second) and
    wraps every trace's snapshot with it.
    """

    def __init__(self, balances: Iterable[tuple[bytes, int]]) -> None:
        self.by_account: dict[bytes, Movement] = {}
        ordered = sorted(balances)
        # GENESIS's balance after each: the genesis balances not yet served, as
        # the least opening balance that keeps it non-negative would say.
        left = sum(v for _, v in ordered if v > 0)
        # Position = the balance's place in address order: a fixed final order.
        for position, (address, amount) in enumerate(ordered):
            if amount <= 0:
                continue
            left -= amount
            self.by_account[address] = Movement(
                0, position, 0, b"", GENESIS, address, amount, _GENESIS_KIND, left, amount
            )
        self.all = sorted(self.by_account.values(), key=lambda m: m.order)


class WithGenesis:
    """source's movements, with the genesis balances as height-0 movements in front."""

    def __init__(
        self, source: MovementSource, genesis: GenesisMovements | Iterable[tuple[bytes, int]]
    ) -> None:
        self.source = source
        book = genesis if isinstance(genesis, GenesisMovements) else GenesisMovements(genesis)
        self._genesis = book.by_account
        self._all = book.all

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """The account's genesis movement (if any, and height 0 is asked for), then the rest."""
        if from_height <= 0 <= to_height:
            if account == GENESIS:
                yield from self._all
            else:
                m = self._genesis.get(account)
                if m is not None:
                    yield m
        yield from self.source.movements_of(account, max(from_height, 1), to_height)

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement below height: the wrapped source's, else its
        genesis movement (when height is above 0)."""
        if height <= 0:
            return None
        last = last_before(self.source, account, height) if height > 1 else None
        if last is not None and last.height >= 1:
            return last
        if account == GENESIS:
            return self._all[-1] if self._all else None
        return self._genesis.get(account)

    def top_height(self) -> int:
        """The wrapped source's top height."""
        return self.source.top_height()
