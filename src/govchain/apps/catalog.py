"""The applications a chain may run, and the registry a genesis calls for.

A chain opts into applications at genesis (Genesis.apps). Every place that
executes or reads a chain (nodes, the simulator, the API, the offline soak
check) builds its registry with `registry_for(genesis)`, so all of them run
the same kinds, actions, namespaces and parameters. The CLI, which lists
actions and parses their arguments before it knows the chain, uses `ALL`,
every application's; a node refuses an action its chain lacks ("X is not an
action of this chain").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from govchain.apps.warehouse import app as warehouse
from govchain.state.catalog import BUILTIN, builtin
from govchain.state.registry import Registry

if TYPE_CHECKING:
    from govchain.state.genesis import Genesis

# Application name -> what adds its kinds, actions, namespace and parameters.
# state/genesis.py KNOWN_APPS names the same (a test keeps them equal).
APPS: dict[str, Callable[[Registry], None]] = {
    "warehouse": warehouse.register,
}

# Built once per set of applications: every replica of a process, the API and
# the simulator share one registry per chain (registries hold no chain state).
_BUILT: dict[tuple[str, ...], Registry] = {}


def registry_for(genesis: Genesis) -> Registry:
    """The registry genesis calls for: BUILTIN itself without apps, else built-ins and apps."""
    return registry_of(genesis.apps)


def registry_of(apps: tuple[str, ...]) -> Registry:
    """The built-ins plus apps, registered in the order given (cached; BUILTIN for none)."""
    if not apps:
        return BUILTIN  # the same object: nothing changes for chains without applications
    found = _BUILT.get(apps)
    if found is not None:
        return found
    unknown = [a for a in apps if a not in APPS]
    if unknown:
        raise ValueError(f"unknown app {unknown[0]!r}; known: {', '.join(APPS)}")
    registry = builtin()
    for name in apps:
        APPS[name](registry)
    registry.apps = apps
    _BUILT[apps] = registry
    return registry


# The CLI's registry: every application's kinds, actions and parameters.
ALL: Registry


def __getattr__(name: str) -> Registry:
    """ALL, built on first use: importing this module registers nothing."""
    if name == "ALL":
        return registry_of(tuple(sorted(APPS)))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
