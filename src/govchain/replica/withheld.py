"""Vertices that travel without their payload: peers' copies proven, our own purged when certified.

A final vertex whose payload is gone (final as rejected, or a redacted record)
travels as a RedactedTxMsg: its header, the proof of its receipt and, for a
redaction, the audit entries that prove it. WithheldCopies judges those copies
(a copy is taken only when the certified chain says its payload may be gone;
anything else is a forgery and its sender is blamed) and keeps, within a
budget, copies whose proof a checkpoint not decided here yet will settle.
Purges schedules our own payloads to leave memory and the store once the
checkpoint after their height certifies their receipts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from govchain.codec import encode
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.dag.admission import AdmissionError, check_wire
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, TxWire
from govchain.replica.messages import REDACTION_ENTRIES_MAX, RedactedTxMsg
from govchain.state.audit import AuditKind
from govchain.state.receipts import Receipt, ReceiptProof, Status

UNPROVEN_MAX = 1_024  # withheld copies waiting for the checkpoint that certifies them
UNPROVEN_BYTES_MAX = 8 * 1024 * 1024  # ... and their encoded size, all told
UNPROVEN_PEER_SHARE = 4  # one peer holds at most 1/4 of either
# A receipt this far past the decided height waits for a later fetch, not here.
UNPROVEN_HEIGHTS_AHEAD_MAX = 64
REJECTED = Status.REJECTED.value


@dataclass(frozen=True, slots=True)
class UnprovenCopy:
    """A withheld copy waiting for the checkpoint that certifies its receipt."""

    peer: str
    msg: RedactedTxMsg
    size: int  # its encoded bytes, charged to the budgets


@dataclass(slots=True)
class PeerShare:
    """What one peer's unproven copies hold."""

    count: int = 0
    size: int = 0


@dataclass(frozen=True, slots=True)
class TrustedRedaction:
    """A redacted record taken before its height was executed here: confirmed then."""

    peer: str
    height: int  # the redaction's height
    head: bytes  # the audit head its entries chain to


class WithheldCopies:
    """Judge peers' withheld copies against the certified chain; keep unproven ones a while."""

    def __init__(
        self,
        chain_id: str,
        limits: DagLimits,
        decided: Callable[[], Sequence[tuple[Checkpoint, Certificate]]],
        executed_height: Callable[[], int],
        blame: Callable[[str, str], None],
        *,
        accept_forged_redaction: bool = False,
    ) -> None:
        self.chain_id = chain_id
        self.limits = limits
        self._decided = decided
        self._executed_height = executed_height
        self._blame = blame
        self.accept_forged_redaction = accept_forged_redaction  # a planted bug
        # Copies taken: their certified receipts stand in for the payload at execution.
        self._receipts: dict[bytes, Receipt] = {}
        # Bounded in count and bytes, and per peer, since a peer decides what it sends.
        self._unproven: dict[bytes, UnprovenCopy] = {}
        self._unproven_bytes = 0
        self._shares: dict[str, PeerShare] = {}
        # Redactions taken before this node could check the certified audit head.
        self._to_confirm: dict[bytes, TrustedRedaction] = {}

    def __len__(self) -> int:
        """Copies waiting for their proof."""
        return len(self._unproven)

    def examine(
        self, peer: str, vid: bytes, wire: TxWire, msg: RedactedTxMsg
    ) -> Transaction | None:
        """The copy's header when it may enter the DAG, else None (kept to prove later, or blamed).

        Taken only when its receipt is certified and says rejected, or, for a
        record, when the certified chain redacted it.
        """
        if msg.proof.receipt.tx_id != vid:
            self._blame(peer, "a withheld copy whose receipt names another transaction")
            return None
        try:
            tx = check_wire(wire, self.chain_id, self.limits, vid, payload_withheld=True)
        except AdmissionError as exc:
            self._blame(peer, f"a withheld copy with a bad header: {exc}")
            return None
        verdict = self._proof_verdict(msg.proof)
        if verdict is None:
            self._park(peer, vid, msg)
            return None
        if not verdict:
            self._blame(peer, "a withheld copy whose receipt is not certified")
            return None
        problem = self._problem(peer, tx, msg)
        if problem is not None:
            self._blame(peer, problem)
            return None
        return tx

    def took(self, vid: bytes, receipt: Receipt) -> None:
        """The copy of vid entered the DAG: its receipt stands in for its payload."""
        self._receipts[vid] = receipt

    def receipts_for(self, txs: Iterable[Transaction]) -> dict[bytes, Receipt]:
        """The receipts of the taken copies among txs (each handed out once, for execution)."""
        return {
            tx.id: self._receipts.pop(tx.id)
            for tx in txs
            if tx.payload_missing and tx.id in self._receipts
        }

    def provable(self) -> list[UnprovenCopy]:
        """Take the kept copies whose receipt's height is decided now (judge them again)."""
        due: list[UnprovenCopy] = []
        for vid, copy in list(self._unproven.items()):
            if self._proof_verdict(copy.msg.proof) is None:
                continue
            del self._unproven[vid]
            self._unproven_bytes -= copy.size
            share = self._shares[copy.peer]
            share.count -= 1
            share.size -= copy.size
            if not share.count:
                del self._shares[copy.peer]
            due.append(copy)
        return due

    def confirm(self, height: int, audit_head: bytes) -> None:
        """Execution reached height: the redactions taken on trust must end at its head."""
        if not self._to_confirm:
            return
        for vid, trusted in list(self._to_confirm.items()):
            if trusted.height != height:
                continue
            del self._to_confirm[vid]
            if trusted.head != audit_head:
                # The record executed exactly from its certified receipt, so state
                # is right; only its payload is missing here. Blame the sender.
                self._blame(trusted.peer, f"a forged redaction of {vid.hex()} at height {height}")

    def used_bytes(self) -> int:
        """What the kept copies take, encoded."""
        return self._unproven_bytes

    def most_bytes_per_source(self) -> int:
        """What the peer with the most kept bytes holds."""
        return max((s.size for s in self._shares.values()), default=0)

    def _problem(self, peer: str, tx: Transaction, msg: RedactedTxMsg) -> str | None:
        """Why a certified vertex may not travel without its payload, or None when it may.

        A record's redaction is checked against the audit head certified after
        its height when this node holds that checkpoint; before that (a node
        catching up holds decisions only a little past its execution), the
        entries must chain among themselves, and execution confirms their head
        when it reaches that height (confirm).
        """
        if self.accept_forged_redaction:
            return None
        receipt = msg.proof.receipt
        if receipt.status == REJECTED:
            return None
        if tx.body.kind != Kind.RECORD:
            return f"a {tx.body.kind} final as {receipt.status} sent without its payload"
        entries = msg.redaction
        if not entries or len(entries) > REDACTION_ENTRIES_MAX:
            return "a record final as executed or held sent without its payload or a redaction"
        first = entries[0]
        if (
            first.kind != AuditKind.REDACTION.value
            or first.subject != f"tx:{tx.id.hex()}"
            or first.height < receipt.height
            or any(e.height != first.height for e in entries)
            or any(b.prev != a.hash for a, b in itertools.pairwise(entries))
        ):
            return "a redaction proof that does not name the record or does not chain"
        head = entries[-1].hash
        r = first.height
        decided = self._decided()
        if len(decided) > r:
            if decided[r][0].audit_head != head:
                return f"a redaction proof that misses the audit head certified after {r}"
        elif self._executed_height() >= r:
            return f"a redaction proof for height {r}, executed here without it"
        else:
            self._to_confirm[tx.id] = TrustedRedaction(peer, r, head)
        return None

    def _proof_verdict(self, proof: ReceiptProof) -> bool | None:
        """Whether the receipt is under the receipts root certified at its height + 1
        (None while that height is not decided here yet)."""
        h = proof.receipt.height
        if h < 1:
            return False
        decided = self._decided()
        if len(decided) < h + 1:
            return None
        return proof.verify(decided[h][0].receipts_root)

    def _park(self, peer: str, vid: bytes, msg: RedactedTxMsg) -> None:
        """Keep a copy until its receipt's height is decided here, within every budget.

        The first copy of an id stays: a peer cannot push out another's. One
        that fails its check later is dropped and its sender blamed, and the
        fetch asks again.
        """
        if vid in self._unproven or msg.proof.receipt.height > (
            len(self._decided()) + UNPROVEN_HEIGHTS_AHEAD_MAX
        ):
            return
        size = len(encode(msg))
        share = self._shares.get(peer) or PeerShare()
        if (
            len(self._unproven) >= UNPROVEN_MAX
            or self._unproven_bytes + size > UNPROVEN_BYTES_MAX
            or (share.count + 1) * UNPROVEN_PEER_SHARE > UNPROVEN_MAX
            or (share.size + size) * UNPROVEN_PEER_SHARE > UNPROVEN_BYTES_MAX
        ):
            return
        self._unproven[vid] = UnprovenCopy(peer, msg, size)
        self._unproven_bytes += size
        share.count += 1
        share.size += size
        self._shares[peer] = share


class Purges:
    """Our payloads that leave memory and the store once a decided checkpoint proves them gone.

    A transaction final as rejected at h can be proven so only by the
    receipts root that checkpoint h + 1 certifies. Deleting its payload
    earlier would strand a validator still executing h: no peer could send
    the bytes, nor a copy it could check, and with f others down h + 1 would
    never be decided. Until then the payload is served only to a validator
    that asks for it by id, never gossiped, and never shown by the API.
    """

    def __init__(self) -> None:
        self._at: dict[int, set[bytes]] = {}  # height h -> ids that go once h + 1 is decided
        self._ids: set[bytes] = set()  # every id in _at

    def __contains__(self, vid: object) -> bool:
        return vid in self._ids

    def waiting(self) -> bool:
        """True while some payload waits for its certifying checkpoint."""
        return bool(self._at)

    def schedule(self, height: int, ids: set[bytes]) -> None:
        """ids became final at height as rejected, or were redacted there."""
        self._at[height] = ids
        self._ids |= ids

    def pending(self) -> list[tuple[int, list[bytes]]]:
        """The ids waiting, by height (sorted): a snapshot keeps them."""
        return [(h, sorted(self._at[h])) for h in sorted(self._at)]

    def certified(self, decided_height: int) -> set[bytes]:
        """Take the ids whose removal the decided checkpoints now prove."""
        due = sorted(h for h in self._at if h < decided_height)
        ids: set[bytes] = set()
        for h in due:
            ids |= self._at.pop(h)
        self._ids -= ids
        return ids
