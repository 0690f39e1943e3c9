"""Validator-set changes an offline verifier can check, from the genesis set onwards.

A validator-set change is a governance enactment at the end of height h: its
audit entry (kind validator_change) is in the audit log, and checkpoint h + 1,
certified by the set in force at h + 1, carries the audit head after h. A
*handoff* is the evidence for the changes of one height: every audit entry of
height h plus certified checkpoint h + 1. The verifier checks the entries
chain to that head, then applies the changes; the new set certifies from
h + VALSET_DELAY_HEIGHTS on. Omitting a handoff cannot make a forged
checkpoint verify: later checkpoints then name a set the verifier does not
know, and fail.
"""

from __future__ import annotations

import itertools
from typing import Any

from govchain.consensus.validators import ValidatorSet
from govchain.state.actions import parse_validator_change
from govchain.state.audit import AuditEntry
from govchain.state.genesis import Genesis
from govchain.state.ledger import VALSET_DELAY_HEIGHTS


class ValsetError(ValueError):
    """The validator-set evidence does not hold; the message says which part failed."""


def entry_from_json(doc: dict[str, Any]) -> AuditEntry:
    """An audit entry from its JSON (hex fields); the hash field, if any, is recomputed."""
    return AuditEntry(
        int(doc["seq"]),
        int(doc["height"]),
        str(doc["kind"]),
        bytes.fromhex(doc["actor"]),
        str(doc["subject"]),
        str(doc["proposal"]),
        str(doc["reason"]),
        bytes.fromhex(doc["evidence"]),
        bytes.fromhex(doc["prev"]),
    )


class ValidatorSets:
    """The sets certifying each height, starting from the genesis set."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.sets: list[tuple[int, ValidatorSet]] = [(1, genesis.validators)]

    def at(self, height: int) -> ValidatorSet:
        """The set certifying height, as far as the evidence applied so far says."""
        chosen = self.sets[0][1]
        for start, vs in self.sets:
            if start <= height:
                chosen = vs
        return chosen

    def certified_error(self, checkpoint: Any, claimed_hash: str | None, cert: Any) -> str | None:
        """Why a checkpoint is not final under the set for its height, or None."""
        from govchain.consensus.messages import certificate_error  # noqa: PLC0415

        if checkpoint.hash.hex() != claimed_hash:
            return f"checkpoint {checkpoint.height}: its fields do not give its hash"
        valset = self.at(checkpoint.height)
        if checkpoint.validator_set_hash != valset.hash:
            return (
                f"checkpoint {checkpoint.height} names a validator set that the genesis and "
                "the validator-set changes given do not establish"
            )
        err = certificate_error(cert, checkpoint, valset)
        return None if err is None else f"checkpoint {checkpoint.height}: certificate: {err}"

    def apply(self, handoffs: list[dict[str, Any]]) -> None:
        """Check and apply handoffs in height order; raises ValsetError naming the fault."""
        from govchain.sdk.proof import certificate_from_json, checkpoint_from_json  # noqa: PLC0415

        last = 0
        for item in handoffs:
            try:
                h = int(item["height"])
                entries = [entry_from_json(e) for e in item["entries"]]
                cp = checkpoint_from_json(item["checkpoint"], self.genesis.chain_id)
                cert = certificate_from_json(item["certificate"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValsetError(f"malformed validator-set change: {exc}") from None
            if h <= last:
                raise ValsetError("validator-set changes must be in increasing height order")
            last = h
            if cp.height != h + 1:
                raise ValsetError(f"the change at height {h} must carry checkpoint {h + 1}")
            err = self.certified_error(cp, item["checkpoint"].get("hash"), cert)
            if err is not None:
                raise ValsetError(err)
            if not entries or any(e.height != h for e in entries):
                raise ValsetError(f"the change at height {h} must carry that height's entries")
            for before, e in itertools.pairwise(entries):
                if e.prev != before.hash:
                    raise ValsetError(f"audit entry seq {e.seq} does not chain to seq {before.seq}")
            if entries[-1].hash != cp.audit_head:
                raise ValsetError(f"the entries of height {h} do not give certified head {h + 1}")
            for e in entries:
                if e.kind == "validator_change":
                    self._change(h, e)

    def _change(self, h: int, e: AuditEntry) -> None:
        change = parse_validator_change(e.reason)
        if change is None or not e.subject.startswith("validator:"):
            raise ValsetError(f"audit entry seq {e.seq} is not a validator change it can read")
        try:
            key = bytes.fromhex(e.subject.removeprefix("validator:"))
        except ValueError:
            raise ValsetError(f"audit entry seq {e.seq} names no validator key") from None
        start = h + VALSET_DELAY_HEIGHTS
        weight, certifies_from = change
        if certifies_from != start:
            raise ValsetError(f"audit entry seq {e.seq} certifies from an unexpected height")
        weights = {v.public_key: v.weight for v in self.sets[-1][1].members}
        if weight is None:
            weights.pop(key, None)
        else:
            weights[key] = weight
        new = ValidatorSet.of(weights)
        self.sets = [(s, vs) for s, vs in self.sets if s < start] + [(start, new)]
