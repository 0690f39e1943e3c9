"""The warehouse application's registration: its kinds, actions, namespace and parameters."""

from __future__ import annotations

from govchain.state.registry import Registry


def register(registry: Registry) -> None:
    """Add the warehouse's kinds, actions, namespace and parameters to a registry."""
    del registry  # filled in as the kinds land (issue 14)
