"""What one partition scenario showed, from heights polled on every node; and its verdict.

Heights are executed heights from GET /v1/status, by node index (None: the
node did not answer). Pure: the drill feeds it what it polled, a test can
feed it made-up polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govchain.node.netns_scenarios import Scenario

Heights = Mapping[int, int | None]


def top(heights: Heights) -> int:
    """The highest height any node answered (0 when none did)."""
    return max((h for h in heights.values() if h is not None), default=0)


def above(heights: Heights, target: int, nodes: range | tuple[int, ...]) -> bool:
    """True when every one of nodes answered a height above target."""
    return all((heights.get(i) or 0) > target for i in nodes)


@dataclass(slots=True)
class Outcome:
    """One scenario's figures (seconds are since the heal) and the failed checks."""

    name: str
    what: str
    duration_s: float
    at_cut: dict[int, int | None]
    at_grace: dict[int, int | None]  # GRACE_S after the cut: what was in flight has landed
    at_heal: dict[int, int | None]
    progress_after_heal_s: float | None = None  # first height above the top at heal, any node
    resumed_after_heal_s: float | None = None  # every node above the top at heal
    accepted_before: int = 0  # promised (202) before the cut
    final_before: int = 0  # of those, final by the end of the drain after the heal
    accepted_during: int = 0
    final_during: int = 0
    checked_heights: int = 0  # heights whose checkpoint was read from every node
    conflicts: int = 0  # heights where two nodes hold different checkpoints
    unanswered: int = 0  # checkpoint reads that got no answer
    failures: list[str] = field(default_factory=list)

    def judge(self, scenario: Scenario, resume_limit_s: float, names: list[str]) -> None:
        """Fill failures: what this scenario must show and did not."""
        bound = top(self.at_grace)
        for i in scenario.halted:
            h = self.at_heal.get(i)
            if h is not None and h > bound:
                self.failures.append(
                    f"{names[i]} reached height {h} while cut off (the top when the cut"
                    f" settled was {bound}): a decision without a quorum"
                )
        start = top(self.at_cut)
        for i in scenario.progress:
            h = self.at_heal.get(i)
            if h is None or h <= start:
                self.failures.append(
                    f"{names[i]} made no progress during the fault (height {h}, {start} at the cut)"
                )
        if self.resumed_after_heal_s is None or self.resumed_after_heal_s > resume_limit_s:
            took = (
                "never did"
                if self.resumed_after_heal_s is None
                else f"took {self.resumed_after_heal_s:.1f} s"
            )
            self.failures.append(
                f"not every node passed the height of the heal within {resume_limit_s:g} s ({took})"
            )
        if self.final_before < self.accepted_before:
            lost = self.accepted_before - self.final_before
            self.failures.append(f"{lost} transactions promised before the cut never became final")
        if self.conflicts:
            self.failures.append(f"{self.conflicts} heights hold conflicting checkpoints")

    def to_json(self, names: list[str]) -> dict[str, Any]:
        """The report's entry for this scenario."""

        def by_name(hs: Mapping[int, int | None]) -> dict[str, int | None]:
            return {names[i]: h for i, h in sorted(hs.items())}

        return {
            "name": self.name,
            "what": self.what,
            "ok": not self.failures,
            "failures": self.failures,
            "duration_s": self.duration_s,
            "heights": {
                "at_cut": by_name(self.at_cut),
                "at_settled": by_name(self.at_grace),
                "at_heal": by_name(self.at_heal),
                # From the settled cut (what was in flight has landed) to the heal.
                "decided_while_cut": top(self.at_heal) - top(self.at_grace),
            },
            "progress_after_heal_s": _round(self.progress_after_heal_s),
            "resumed_after_heal_s": _round(self.resumed_after_heal_s),
            "txs": {
                "accepted_before": self.accepted_before,
                "final_after": self.final_before,
                "accepted_during": self.accepted_during,
                "final_of_during": self.final_during,
            },
            "checkpoints": {
                "heights_compared": self.checked_heights,
                "conflicts": self.conflicts,
                "unanswered": self.unanswered,
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
