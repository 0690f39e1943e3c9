"""The partition drill's scenarios: who is cut from whom, and what each must show.

Nodes are indices: 0..3 the validators (weight 1 each: a checkpoint needs 3),
4 the observer. The client (load, polls) reaches every node throughout: a
partition separates nodes from nodes, as a broken link between data centres
does, not the users from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VALIDATORS = 4
OBSERVER = 4
NODES = 5
FLAP_S_MIN = 1.0  # a flapping link changes state every 1-2 s (seeded)
FLAP_S_MAX = 2.0


def split(*sides: Iterable[int]) -> frozenset[tuple[int, int]]:
    """Both directions between every two nodes on different sides."""
    groups = [set(s) for s in sides]
    return frozenset(
        (a, b)
        for i, ga in enumerate(groups)
        for j, gb in enumerate(groups)
        if i != j
        for a in ga
        for b in gb
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """One fault held for the drill's duration, then healed.

    cut: directed (src, dst) pairs dropped for the whole fault; flap: a node
    whose link goes down and up every FLAP_S_MIN..FLAP_S_MAX s; halted: nodes
    that must decide nothing new while it lasts; progress: nodes that must
    each reach a height above the highest one decided before it began.
    """

    name: str
    what: str
    cut: frozenset[tuple[int, int]] = frozenset()
    flap: int | None = None
    halted: tuple[int, ...] = ()
    progress: tuple[int, ...] = ()


SCENARIOS = (
    Scenario(
        "split-2-2",
        "validators 0,1 and the observer | validators 2,3: no side has 3 of 4 votes",
        cut=split({0, 1, OBSERVER}, {2, 3}),
        halted=(0, 1, 2, 3, OBSERVER),
    ),
    Scenario(
        "split-1-3",
        "validator 0 alone | validators 1,2,3 and the observer",
        cut=split({0}, {1, 2, 3, OBSERVER}),
        halted=(0,),
        progress=(1, 2, 3, OBSERVER),
    ),
    Scenario(
        "one-way-0",
        "validator 0 sends nothing to any node (it still receives)",
        cut=frozenset((0, j) for j in range(1, NODES)),
        progress=(1, 2, 3, OBSERVER),
    ),
    Scenario(
        "flapping-0",
        "validator 0's link goes down and up every 1-2 s",
        flap=0,
        progress=(1, 2, 3, OBSERVER),
    ),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)


def by_name(names: Iterable[str]) -> list[Scenario]:
    """The scenarios named, in the order given; ValueError naming an unknown one."""
    table = {s.name: s for s in SCENARIOS}
    out = []
    for name in names:
        if name not in table:
            raise ValueError(f"no scenario {name!r} (known: {', '.join(SCENARIO_NAMES)})")
        out.append(table[name])
    return out
