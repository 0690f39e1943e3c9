"""Governance parameters: one typed table of names, defaults and bounds.

`set-param NAME VALUE` changes a value; `VALUE` none restores the default. A
name not in the table, or a value outside its bounds, is a bad argument: the
proposal transaction is rejected and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govchain.state.genesis import SUPPLY_MAX
from govchain.state.identities import TIER_MAX

TIERS = TIER_MAX + 1  # KYC tiers 0..TIER_MAX; an unidentified address is tier 0
PAYLOAD_BYTES_CAP = 65_536  # admission's payload_bytes_max: no tier can use more
TXS_PER_CHECKPOINT_CAP = 1_000_000


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
    """Current values: the table's defaults overlaid with what governance set."""

    def __init__(self, threshold: int, committee_weight: int) -> None:
        self.specs = {s.name: s for s in specs(threshold, committee_weight)}
        self._set: dict[str, tuple[int | None, str]] = {}  # name -> (value, proposal id)
        self._dirty = False

    def check(self, name: str, value: int | None) -> str | None:
        """Why set-param NAME VALUE is a bad argument, or None."""
        spec = self.specs.get(name)
        if spec is None:
            return f"unknown parameter {name!r}"
        return spec.check(value)

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
