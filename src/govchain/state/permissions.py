"""Permissions: which role the senders of a transaction kind need, and who decided it."""

from __future__ import annotations

from typing import Any, NamedTuple


class Permission(NamedTuple):
    """The role a kind's senders need, and the proposal that said so."""

    role: str
    proposal: str


class Permissions:
    """kind -> Permission; a kind absent is open to all."""

    def __init__(self) -> None:
        self.by_kind: dict[str, Permission] = {}
        self._changed = False

    def get(self, kind: str) -> Permission | None:
        """The permission in force for kind, or None when open to all."""
        return self.by_kind.get(kind)

    def set(self, kind: str, role: str, proposal_id: str) -> None:
        """Require role of kind's senders from the next transaction on ("" lifts it)."""
        if role:
            self.by_kind[kind] = Permission(role, proposal_id)
        else:
            self.by_kind.pop(kind, None)
        self._changed = True

    def writes(self) -> list[Any] | None:
        """Every permission [kind, role, proposal] when any changed this height (state hash)."""
        if not self._changed:
            return None
        self._changed = False
        return sorted([k, p.role, p.proposal] for k, p in self.by_kind.items())
