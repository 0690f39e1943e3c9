"""Accounts: balance and next nonce per address, and which changed this height."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Account:
    """Balance and the next nonce the sender must use."""

    balance: int = 0
    nonce: int = 0


class Accounts(dict[bytes, Account]):
    """Every account by address; a dict, so the hot path reads it directly."""

    def __init__(self, balances: tuple[tuple[bytes, int], ...] = ()) -> None:
        super().__init__((a, Account(v)) for a, v in balances)
        self.touched: dict[bytes, None] = {}  # insertion-ordered set, sorted at commit

    def open(self, address: bytes) -> Account:
        """The account of address, created empty if new, marked changed."""
        acct = self.get(address)
        if acct is None:
            acct = self[address] = Account()
        self.touched[address] = None
        return acct

    def credit(self, address: bytes, amount: int) -> None:
        """Add amount to an account (created if new)."""
        self.open(address).balance += amount

    def writes(self) -> list[Any]:
        """[address, balance, nonce] of every account changed this height, by address."""
        touched, self.touched = self.touched, {}
        return [[a, self[a].balance, self[a].nonce] for a in sorted(touched)]
