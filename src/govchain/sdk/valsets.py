"""The validator sets an offline verifier may believe, from one trusted point on (docs/trust.md).

A validator-set change is a governance enactment at the end of height h: its
audit entry (kind validator_change) is in the audit log, and checkpoint h + 1,
certified by the set in force at h + 1, carries the audit head after h. The
new set certifies from h + VALSET_DELAY_HEIGHTS on.

A *handoff* is the evidence for one height's changes: certified checkpoint
h + 1, checkpoint h (its `previous`, so authenticated by h + 1's hash) and
every audit entry of height h. The entries must run from h's audit head (the
head after h - 1) to h + 1's, so no entry of that height can be dropped,
added or reordered; each change must follow from the set reached so far.

The verifier trusts one point: the genesis, or a checkpoint the user names by
height and hash. From a checkpoint T the document carries the members of the
set certifying T and the handoff of height T - 1 (changes decided there
certify from T + 1; it may hold no change). Every later change must come as a
handoff, in height order, each certified by the set before it; a checkpoint
whose validator_set_hash is not the hash of the set reached is refused, so a
change left out shows at the first later checkpoint its set certifies. What
no document can show is a history that a quorum of a set since retired signed
itself: that is why a trusted point must be recent (docs/trust.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.codec import HASH_BYTES, INT_MAX
from govchain.consensus.messages import Certificate, Checkpoint, certificate_error
from govchain.consensus.validators import Validator, ValidatorSet
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditKind
from govchain.state.genesis import Genesis
from govchain.state.schedule import (
    VALSET_DELAY_HEIGHTS,
    ChangeText,
    Schedule,
    Scheduled,
    ValidatorChange,
    change_entry,
    change_of,
)

_TRUST = re.compile(r"([0-9]{1,18}):([0-9a-f]{64})")
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
INT_MIN, UINT_MAX = -INT_MAX - 1, 2**64 - 1  # what a msgpack integer carries


class ValsetError(ValueError):
    """The validator-set evidence does not hold; the message says which part failed."""


@dataclass(frozen=True, slots=True)
class Trust:
    """What a verifier trusts: the genesis (height 0 and its hash) or a checkpoint's."""

    height: int
    hash: bytes

    @classmethod
    def parse(cls, text: str) -> Trust:
        """HEIGHT:HASH (64 lowercase hex); ValueError with a message a user can act on."""
        m = _TRUST.fullmatch(text)
        if m is None:
            raise ValueError(
                "--trust takes HEIGHT:HASH, a decided checkpoint's height and its "
                f"{HASH_BYTES * 2} lowercase hex hash (0:<genesis hash> for the genesis), "
                f"not {text!r}"
            )
        return cls(int(m.group(1)), bytes.fromhex(m.group(2)))

    def __str__(self) -> str:
        return f"{self.height}:{self.hash.hex()}"


def json_int(value: Any) -> int:
    """int(value) from a document, as a ValueError when msgpack cannot carry it.

    Checkpoints, certificates and audit entries are hashed as msgpack, whose
    integers span -2**63..2**64 - 1: a bigger one raised OverflowError from the
    hash, and int() of an infinite float (JSON 1e999) raises it too.
    """
    try:
        n = int(value)
    except OverflowError:
        raise ValueError(f"{value!r} is not an integer") from None
    if not INT_MIN <= n <= UINT_MAX:
        raise ValueError(f"the integer {n} is out of range")
    return n


def entry_from_json(doc: dict[str, Any]) -> AuditEntry:
    """An audit entry from its JSON (hex fields); the hash field, if any, is recomputed."""
    raw = doc.get("change")
    return AuditEntry(
        json_int(doc["seq"]),
        json_int(doc["height"]),
        str(doc["kind"]),
        bytes.fromhex(doc["actor"]),
        str(doc["subject"]),
        str(doc["proposal"]),
        str(doc["reason"]),
        bytes.fromhex(doc["evidence"]),
        bytes.fromhex(doc["prev"]),
        None if raw is None else change_from_json(raw),
    )


def _weight(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a weight must be an integer or null, not {value!r}")
    return json_int(value)


def change_from_json(doc: Mapping[str, Any]) -> ValidatorChange:
    """An entry's typed change from its JSON (api/views.py change_json); TypeError if bad."""
    start = doc["certifies_from"]
    if isinstance(start, bool) or not isinstance(start, int):
        raise TypeError(f"certifies_from must be an integer, not {start!r}")
    return ValidatorChange(
        _hex(doc, "public_key"),
        _weight(doc["old_weight"]),
        _weight(doc["new_weight"]),
        json_int(start),
    )


def entry_change(e: AuditEntry, typed: bool) -> ValidatorChange | None:
    """The validator change an entry records (None: another kind), read as its chain writes it.

    typed: the genesis's typed_audit. There a validator_change entry must carry
    its change as data, and its text must be the one the ledger writes from
    that data; elsewhere it carries text only. Raises ValsetError otherwise:
    an entry the ledger could not have written is never read half-way.
    """
    if e.kind != AuditKind.VALIDATOR_CHANGE.value:
        if e.change is not None:
            raise ValsetError(f"audit entry seq {e.seq} ({e.kind}) carries a validator change")
        return None
    if not typed:
        if e.change is not None:
            raise ValsetError(
                f"audit entry seq {e.seq} carries a typed validator change, but the genesis "
                "has typed_audit off: its ledger writes changes as text only"
            )
        change = change_of(e.subject, e.reason)
        if change is None:
            raise ValsetError(f"audit entry seq {e.seq} is not a validator change it can read")
        return change
    if e.change is None:
        raise ValsetError(
            f"audit entry seq {e.seq} is a validator change written only as text, but the "
            "genesis has typed_audit on: its ledger writes every change as data too"
        )
    if change_entry(e.change) != ChangeText(e.subject, e.reason):
        raise ValsetError(
            f"audit entry seq {e.seq}: its text ({e.subject}, {e.reason!r}) and its typed "
            "change disagree"
        )
    return e.change


def _hex(doc: Mapping[str, Any], key: str) -> bytes:
    value = doc[key]
    if not isinstance(value, str):
        raise TypeError(f"field {key!r} must be a hex string")
    return bytes.fromhex(value)


def checkpoint_from_json(doc: Mapping[str, Any], chain_id: str) -> Checkpoint:
    """A checkpoint from its JSON (GET /v1/checkpoints); KeyError/ValueError/TypeError if bad."""
    return Checkpoint(
        chain_id=chain_id,
        height=json_int(doc["height"]),
        previous=_hex(doc, "previous"),
        time_ms=json_int(doc["time_ms"]),
        tips=tuple(bytes.fromhex(t) for t in doc["tips"]),
        state_hash=_hex(doc, "state_hash"),
        receipts_root=_hex(doc, "receipts_root"),
        audit_head=_hex(doc, "audit_head"),
        validator_set_hash=_hex(doc, "validator_set_hash"),
    )


def certificate_from_json(doc: Mapping[str, Any]) -> Certificate:
    """A certificate from its JSON; KeyError/ValueError/TypeError when malformed."""
    return Certificate(
        json_int(doc["height"]),
        json_int(doc["round"]),
        _hex(doc, "value"),
        tuple((json_int(i), bytes.fromhex(s)) for i, s in doc["signatures"]),
    )


@dataclass(frozen=True, slots=True)
class _Handoff:
    height: int
    previous: Checkpoint | None  # None only for height 0: the genesis precedes checkpoint 1
    entries: tuple[AuditEntry, ...]
    checkpoint: Checkpoint
    claimed_hash: Any
    certificate: Certificate


class ValidatorSets:
    """The sets certifying each height from a trusted point on, as the evidence establishes them.

    Use: ValidatorSets(genesis, trust), then follow(document, until), then
    certified_error() for each checkpoint up to `until` the document relies on.
    """

    def __init__(self, genesis: Genesis, trust: Trust | None = None) -> None:
        self.genesis = genesis
        self.trust = trust or Trust(0, genesis.hash)
        if self.trust.height == 0 and self.trust.hash != genesis.hash:
            raise ValsetError(
                f"--trust 0:{self.trust.hash.hex()} names another genesis than the one given "
                f"({genesis.hash.hex()})"
            )
        # The sets from the trusted point on, as the evidence establishes them (follow()).
        self.schedule: Schedule | None = None
        self.until = 0

    # -- reading the evidence ----------------------------------------------------
    def follow(self, doc: Mapping[str, Any], until: int) -> None:
        """Establish the sets up to checkpoint `until` from doc's trust section and changes.

        doc is a proof or an audit export: "trust" (null from the genesis) and
        "validator_changes" (every handoff after the trusted point, up to until).
        Raises ValsetError naming the first fault.
        """
        try:
            section = doc.get("trust")
            handoffs = doc.get("validator_changes")
            start = 0 if section is None else json_int(section["height"])
        except _MALFORMED as exc:
            raise ValsetError(f"malformed trust section: {exc}") from None
        t = self.trust.height
        if start != t:
            where = "the genesis" if start == 0 else f"checkpoint {start}"
            if t == 0:
                raise ValsetError(
                    f"the evidence starts at {where}: verify it with --trust "
                    f"{start}:<hash of checkpoint {start}> from a source you trust, or ask the "
                    "node for evidence from the genesis"
                )
            raise ValsetError(
                f"the evidence starts at {where}, not at checkpoint {t} that you trust: ask the "
                f"node for it from there (?from={t}, `govchain proof --trust {t}:...`)"
            )
        if until < max(t, 1):
            raise ValsetError(
                f"checkpoint {until} is before the trusted checkpoint {t}: verify it from an "
                "earlier trusted point"
            )
        self.until = until
        if t == 0:
            self.schedule = Schedule(Scheduled(1, self.genesis.validators))
        else:
            self._trusted(section)
        if not isinstance(handoffs, list):
            raise ValsetError("validator_changes must be a list of handoffs")
        last = t - 1
        for raw in handoffs:
            ho = self._handoff(raw)
            h = ho.height
            if h <= last:
                raise ValsetError("validator-set changes must be in increasing height order")
            if h < max(t, 1):
                raise ValsetError(f"the change at height {h} is before the trusted point")
            if h + 1 > until:
                raise ValsetError(
                    f"the change at height {h} comes after checkpoint {until}, the last one the "
                    "document relies on"
                )
            last = h
            err = self.certified_error(ho.checkpoint, ho.claimed_hash, ho.certificate)
            if err is not None:
                raise ValsetError(err)
            self._apply(ho)

    def _trusted(self, section: Any) -> None:
        """The set certifying the trusted checkpoint, and the changes pending there."""
        t = self.trust.height
        try:
            members = tuple(
                Validator(bytes.fromhex(k), json_int(w)) for k, w in section["validators"]
            )
            valset = ValidatorSet(members)
        except _MALFORMED as exc:
            raise ValsetError(f"malformed trusted validator set: {exc}") from None
        ho = self._handoff(section["handoff"] if isinstance(section, dict) else None)
        if ho.height != t - 1:
            raise ValsetError(f"the trust section must carry the handoff of height {t - 1}")
        cp = ho.checkpoint
        if cp.hash != self.trust.hash or ho.claimed_hash != cp.hash.hex():
            raise ValsetError(
                f"the trusted checkpoint {t} given is not the one you trust "
                f"({self.trust.hash.hex()})"
            )
        if cp.validator_set_hash != valset.hash:
            raise ValsetError(
                f"the trusted checkpoint {t} names another validator set than the one given"
            )
        err = certificate_error(ho.certificate, cp, valset)
        if err is not None:
            raise ValsetError(f"checkpoint {t}: certificate: {err}")
        self.schedule = Schedule(Scheduled(t, valset))
        self._apply(ho)

    def _handoff(self, raw: Any) -> _Handoff:
        chain_id = self.genesis.chain_id
        try:
            h = json_int(raw["height"])
            prev_doc = raw.get("previous")
            previous = None if prev_doc is None else checkpoint_from_json(prev_doc, chain_id)
            entries = tuple(entry_from_json(e) for e in raw["entries"])
            cp = checkpoint_from_json(raw["checkpoint"], chain_id)
            claimed = raw["checkpoint"].get("hash")
            cert = certificate_from_json(raw["certificate"])
        except _MALFORMED as exc:
            raise ValsetError(f"malformed validator-set change: {exc}") from None
        if cp.height != h + 1:
            raise ValsetError(f"the change at height {h} must carry checkpoint {h + 1}")
        if (previous is None) != (h == 0):
            raise ValsetError(
                f"the change at height {h} must carry checkpoint {h} as its previous"
                if h
                else "height 0 has no previous checkpoint"
            )
        return _Handoff(h, previous, entries, cp, claimed, cert)

    def _apply(self, ho: _Handoff) -> None:
        """Tie a height's entries to the certified heads around it, then apply its changes."""
        h, cp = ho.height, ho.checkpoint
        if ho.previous is None:
            if cp.previous != self.genesis.hash:
                raise ValsetError("checkpoint 1 does not follow the genesis given")
            head = AUDIT_EMPTY
        else:
            if ho.previous.height != h or ho.previous.hash != cp.previous:
                raise ValsetError(f"checkpoint {h} given does not precede checkpoint {h + 1}")
            head = ho.previous.audit_head
        seq: int | None = None
        for e in ho.entries:
            if e.height != h:
                raise ValsetError(f"the change at height {h} carries an entry of height {e.height}")
            if e.prev != head or (seq is not None and e.seq != seq + 1):
                raise ValsetError(
                    f"audit entry seq {e.seq} does not follow the certified head before it: an "
                    f"entry of height {h} is missing, added or out of order"
                )
            head, seq = e.hash, e.seq
        if head != cp.audit_head:
            raise ValsetError(
                f"the entries of height {h} do not give the head certified by checkpoint {h + 1}"
            )
        for e in ho.entries:
            change = entry_change(e, self.genesis.typed_audit)
            if change is not None:
                self._change(h, change, e)

    def _change(self, h: int, change: ValidatorChange, e: AuditEntry) -> None:
        start = h + VALSET_DELAY_HEIGHTS
        if change.certifies_from != start:
            raise ValsetError(f"audit entry seq {e.seq} certifies from an unexpected height")
        schedule = self.schedule
        if schedule is None:
            raise ValsetError("a validator change before any trusted set")
        # The ledger writes the entry from the set it holds (state/schedule.py):
        # another old weight, or a removal of a non-member, means the set reached
        # here is not the ledger's, so a change before this one is missing.
        if not schedule.follows(change):
            raise ValsetError(
                f"audit entry seq {e.seq} ({e.reason}) does not follow from the validator set "
                "reached: a validator-set change before it is missing"
            )
        try:
            schedule.change(change.public_key, change.new_weight, start)
        except ValueError as exc:
            raise ValsetError(f"audit entry seq {e.seq} leaves an invalid set: {exc}") from None

    # -- following a chain height by height (state sync) --------------------------
    def from_genesis(self, until: int) -> None:
        """Start from the genesis set, to be extended height by height up to until."""
        if self.trust.height != 0:
            raise ValsetError("a chain followed height by height starts at the genesis")
        self.until = until
        self.schedule = Schedule(Scheduled(1, self.genesis.validators))

    def extend(
        self,
        height: int,
        previous: Checkpoint | None,
        entries: Sequence[AuditEntry],
        checkpoint: Checkpoint,
        certificate: Certificate,
    ) -> None:
        """Certify checkpoint height + 1, then apply height's entries; ValsetError naming a fault.

        previous: checkpoint `height` (None for height 0), certified before.
        """
        if checkpoint.height != height + 1 or checkpoint.chain_id != self.genesis.chain_id:
            raise ValsetError(f"checkpoint {checkpoint.height} given for height {height + 1}")
        claimed = checkpoint.hash.hex()
        err = self.certified_error(checkpoint, claimed, certificate)
        if err is not None:
            raise ValsetError(err)
        self._apply(_Handoff(height, previous, tuple(entries), checkpoint, claimed, certificate))

    # -- checking checkpoints ----------------------------------------------------
    def at(self, height: int) -> ValidatorSet | None:
        """The set certifying height, or None when the trusted evidence does not reach it."""
        s = self.schedule
        if s is None or height < s.sets[0].start or height > self.until:
            return None
        return s.at(height)

    def certified_error(
        self, checkpoint: Checkpoint, claimed_hash: Any, cert: Certificate
    ) -> str | None:
        """Why a checkpoint is not final under the set for its height, or None."""
        h = checkpoint.height
        if checkpoint.hash.hex() != claimed_hash:
            return f"checkpoint {h}: its fields do not give its hash"
        if h == self.trust.height and checkpoint.hash != self.trust.hash:
            return f"checkpoint {h} is not the trusted checkpoint {self.trust}"
        valset = self.at(h)
        if valset is None:
            if h < max(self.trust.height, 1):
                return f"checkpoint {h} is before the trusted checkpoint {self.trust.height}"
            return f"checkpoint {h} is after checkpoint {self.until}, where the evidence ends"
        if checkpoint.validator_set_hash != valset.hash:
            return (
                f"checkpoint {h} names a validator set that the trusted point and the "
                "validator-set changes given do not establish"
            )
        err = certificate_error(cert, checkpoint, valset)
        return None if err is None else f"checkpoint {h}: certificate: {err}"
