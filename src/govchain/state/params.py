"""Governance parameters: one typed table of names, defaults and bounds.

`set-param NAME VALUE` changes a value; `VALUE` none restores the default. A
name not in the table, or a value outside its bounds, is a bad argument: the
proposal transaction is rejected and nothing changes.

An application adds its own parameters (Registry.add_param) and cross checks
(Registry.add_param_check): relations between values that each set-param must
keep, whatever governance sets (the warehouse's LTV bands stay ordered). A
cross check reads every value in force, with the proposed one in its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.state.genesis import SUPPLY_MAX
from govchain.state.identities import TIER_MAX

TIERS = TIER_MAX + 1  # KYC tiers 0..TIER_MAX; an unidentified address is tier 0
PAYLOAD_BYTES_CAP = 65_536  # admission's payload_bytes_max: no tier can use more
TXS_PER_CHECKPOINT_CAP = 1_000_000
PARAM_NAME_CHARS_MAX = 64
PARAM_NAME = re.compile(r"[a-z][a-z0-9_]*")  # the form of every parameter's name

# Why the values in force (name -> value, None: unset) break a relation, or None.
CrossCheck = Callable[[Mapping[str, int | None]], str | None]


def name_error(name: str) -> str | None:
    """Why name cannot name a parameter, or None (lowercase letters, digits, _; bounded)."""
    if len(name) > PARAM_NAME_CHARS_MAX or not PARAM_NAME.fullmatch(name):
        return (
            f"a parameter name is 1..{PARAM_NAME_CHARS_MAX} lowercase letters, digits"
            " and _, starting with a letter"
        )
    return None


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: its default (None: unset) and inclusive bounds."""

    name: str
    default: int | None
    min: int
    max: int
    doc: str

    def check(self, value: int | None) -> str | None:
        """Why value is not acceptable, or None when it is."""
        if value is None:
            return None
        if not self.min <= value <= self.max:
            return f"{self.name} must lie in {self.min}..{self.max}"
        return None


_TIER_DEFAULTS = (  # (payload bytes, transactions per sender per checkpoint)
    (4_096, 1_000),
    (16_384, 5_000),
    (65_536, 20_000),
    (65_536, 100_000),
)


def specs(threshold: int, committee_weight: int) -> tuple[ParamSpec, ...]:
    """The table; participation_min's default and bound follow the committee."""
    table = [
        ParamSpec(
            "hold_amount_min", None, 1, SUPPLY_MAX, "transfers of at least this amount are held"
        ),
        ParamSpec(
            "proposal_ttl_heights", 3_600, 10, 1_000_000, "heights an ordinary proposal stays open"
        ),
        ParamSpec(
            "emergency_ttl_heights",
            100,
            2,
            100_000,
            "heights an emergency measure awaits ratification before it lapses",
        ),
        ParamSpec(
            "participation_min",
            threshold,
            1,
            committee_weight,
            "yes + no weight a proposal needs to pass (default: the threshold)",
        ),
        ParamSpec(
            "audit_retention_days",
            180,
            180,
            36_500,
            "days a node keeps audit records (six months at least)",
        ),
    ]
    for tier, (payload, count) in enumerate(_TIER_DEFAULTS):
        table.append(
            ParamSpec(
                f"tier{tier}_payload_bytes_max",
                payload,
                0,
                PAYLOAD_BYTES_CAP,
                f"largest payload a tier-{tier} sender may send",
            )
        )
        table.append(
            ParamSpec(
                f"tier{tier}_txs_per_checkpoint_max",
                count,
                0,
                TXS_PER_CHECKPOINT_CAP,
                f"transactions a tier-{tier} sender may have final per checkpoint",
            )
        )
    return tuple(table)


class Params:
    """Current values: the table's defaults overlaid with what governance set.

    extra: an application's parameters (Registry.params), after the built-in
    ones; cross_checks: relations every set-param keeps (Registry.param_checks).
    """

    def __init__(
        self,
        threshold: int,
        committee_weight: int,
        extra: Iterable[ParamSpec] = (),
        cross_checks: Sequence[CrossCheck] = (),
    ) -> None:
        self.specs = {s.name: s for s in specs(threshold, committee_weight)}
        for spec in extra:
            if spec.name in self.specs:
                raise ValueError(f"parameter {spec.name!r} is defined already")
            self.specs[spec.name] = spec
        self.cross_checks = tuple(cross_checks)
        self._set: dict[str, tuple[int | None, str]] = {}  # name -> (value, proposal id)
        self._dirty = False

    def check(self, name: str, value: int | None) -> str | None:
        """Why set-param NAME VALUE is a bad argument now, or None.

        Its bounds first, then every cross check on the values in force with
        this one in place (None: its default), the first problem found.
        """
        spec = self.specs.get(name)
        if spec is None:
            return f"unknown parameter {name!r}"
        problem = spec.check(value)
        if problem is not None or not self.cross_checks:
            return problem
        values = self.as_dict()
        values[name] = spec.default if value is None else value
        for cross in self.cross_checks:
            problem = cross(values)
            if problem is not None:
                return problem
        return None

    def get(self, name: str) -> int | None:
        """The value in force (the default when governance never set it)."""
        found = self._set.get(name)
        return found[0] if found is not None else self.specs[name].default

    def required(self, name: str) -> int:
        """The value in force of a parameter that always has one (a default)."""
        value = self.get(name)
        if value is None:
            raise KeyError(f"parameter {name} has no value")  # our bug: it has a default
        return value

    def set_by(self, name: str) -> str | None:
        """The proposal that set the value in force (None: the default)."""
        found = self._set.get(name)
        return found[1] if found is not None else None

    def set(self, name: str, value: int | None, proposal_id: str) -> None:
        """Apply a checked set-param; None restores the default."""
        assert self.check(name, value) is None, (name, value)
        if value is None:
            self._set.pop(name, None)
        else:
            self._set[name] = (value, proposal_id)
        self._dirty = True

    def tier_limits(self) -> tuple[tuple[int, int], ...]:
        """Per tier: (payload bytes max, transactions per checkpoint max)."""
        out = []
        for tier in range(TIERS):
            payload = self.get(f"tier{tier}_payload_bytes_max")
            count = self.get(f"tier{tier}_txs_per_checkpoint_max")
            assert payload is not None and count is not None
            out.append((payload, count))
        return tuple(out)

    def as_dict(self) -> dict[str, int | None]:
        """Every parameter's value in force, in table order."""
        return {name: self.get(name) for name in self.specs}

    def writes(self) -> list[Any] | None:
        """For the state hash: every value governance set, by name; None when unchanged."""
        if not self._dirty:
            return None
        self._dirty = False
        return [[name, v, ref] for name, (v, ref) in sorted(self._set.items())]
