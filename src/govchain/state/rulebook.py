"""The content rules in force, the counter that names them, and whether they changed."""

from __future__ import annotations

from typing import Any

from govchain.state.policy import ContentRule, ContentRules, RuleAction

RULE_ID_PREFIX = "rule-"


class RuleBook:
    """Rules are named rule-<n> from a counter, never reused."""

    def __init__(self) -> None:
        self.rules = ContentRules()
        self.seq = 0
        self._changed = False

    def add(self, rule: ContentRule, action: RuleAction, proposal_id: str) -> str:
        """Add a rule; returns its id. ValueError when the rule set is full."""
        rule_id = f"{RULE_ID_PREFIX}{self.seq + 1}"
        self.rules.add(rule_id, rule, action, proposal_id)
        self.seq += 1
        self._changed = True
        return rule_id

    def remove(self, rule_id: str) -> bool:
        """Remove a rule by id; False when no rule has it."""
        removed = self.rules.remove(rule_id)
        self._changed = self._changed or removed
        return removed

    def writes(self) -> list[Any] | None:
        """[counter, every rule] when the rules changed this height, else None (state hash)."""
        if not self._changed:
            return None
        self._changed = False
        return [self.seq, self.rules.snapshot()]
