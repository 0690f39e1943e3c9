"""Business services: registered by an owner, named by records, suspended by governance."""

from __future__ import annotations

import re
from typing import Any

import msgspec

SERVICE_ID_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
SERVICES_COUNT_MAX = 100_000


class Service(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A service: its owner, the role a writer needs ("" none), and any suspension."""

    service_id: str
    owner: bytes
    writer_role: str
    registered_height: int
    suspended_by: str | None = None  # the suspending proposal


def service_id_ok(service_id: str) -> bool:
    """Service ids are [a-z0-9_-]{1,64}."""
    return SERVICE_ID_PATTERN.fullmatch(service_id) is not None


class Services:
    """The service registry (pure)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Service] = {}
        self._dirty: set[str] = set()

    def get(self, service_id: str) -> Service | None:
        """The service, or None when unknown."""
        return self.by_id.get(service_id)

    def put(self, service: Service) -> None:
        """Register or replace a service record."""
        self.by_id[service.service_id] = service
        self._dirty.add(service.service_id)

    def suspend(self, service_id: str, proposal_id: str | None) -> None:
        """Suspend (a proposal id) or resume (None) a known service."""
        self.put(msgspec.structs.replace(self.by_id[service_id], suspended_by=proposal_id))

    def __len__(self) -> int:
        return len(self.by_id)

    def writes(self) -> list[Any]:
        """Services changed this height, sorted by id (state hash)."""
        if not self._dirty:
            return []
        out = [self.by_id[s] for s in sorted(self._dirty)]
        self._dirty.clear()
        return out
