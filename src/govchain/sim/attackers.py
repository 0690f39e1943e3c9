"""Byzantine non-validator peers: anyone may handshake with a node, so anyone attacks.

An attacker holds a fresh key that is no validator's. It runs no replica: it
peeks at the most advanced honest replica for what the chain finalized (a real
attacker would run an observer node for that), and at which honest replicas
lag behind it (a real one reads that off their CommitRequests). Every choice
comes from the attacker's own seeded PRNG, so a seed replays exactly.

What it sends (ATTACKS):
- forge: a final transaction that was neither rejected nor redacted, as a
  RedactedTxMsg: its header without the payload and its genuine receipt proof,
  with no redaction, another record's genuine redaction, or a made-up one.
  Sprayed at replicas that lag (catching up after a crash, above all), and sent
  in answer to every TxRequest it can answer that way; a requested transaction
  that is not final yet, or final as rejected, is answered with a made-up
  receipt a few heights ahead, which nobody can check before that height is
  decided;
- junk: TxMsg of bad signatures and garbage bytes, and frames that decode as
  nothing;
- orphan: TxMsg of correctly signed transactions from throwaway keys whose
  parents do not exist;
- consensus: proposals and votes at old, current and future heights (garbage
  signatures under validators' keys, or its own valid ones), CommitRequest
  spam, and CommitMsg with broken certificates;
- ask: TxRequest for transactions final as rejected or redacted; what honest
  replicas answer is counted (checkers.on_served judges it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgspec

from govchain.codec import encode
from govchain.consensus.messages import (
    NIL,
    Certificate,
    Checkpoint,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.tx import WIRE_DECODER, Transaction, TxWire, build, tx_id
from govchain.replica.messages import (
    CommitMsg,
    CommitRequest,
    Message,
    ProposalMsg,
    RedactedTxMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
)
from govchain.replica.view import ChainView
from govchain.state.audit import AuditEntry, AuditKind
from govchain.state.payloads import TransferPayload
from govchain.state.receipts import Receipt, ReceiptProof, Status, prove

ATTACKS = ("forge", "junk", "orphan", "consensus", "ask")
ATTACK_WEIGHTS = (30, 15, 20, 20, 15)
STEP_MS_MIN, STEP_MS_MAX = 10, 60
FORGED_PER_VICTIM_MAX = 8  # forged copies sprayed at one lagging replica per step
LOOKAHEAD_HEIGHTS = 4  # a lagging replica is sprayed with heights just above its own
ORPHAN_PAYLOAD_MAX = 2_048
ASK_IDS_MAX = 16
_REJECTED = Status.REJECTED.value
_REDACTION = AuditKind.REDACTION.value

# One outgoing item: a message, or raw bytes that decode as no message at all.
Outgoing = tuple[str, Message | bytes]


@dataclass(slots=True)
class Peek:
    """What an attacker may look at when it acts."""

    now_ms: int
    source: ChainView | None  # the most advanced running honest replica
    targets: list[str]  # running honest replicas, in name order
    lagging: list[tuple[str, int]]  # (name, executed height) of those behind source


@dataclass(slots=True)
class _Final:
    """A final transaction the attacker could forge a withheld copy of."""

    tx: Transaction
    index: int
    receipts: list[Receipt]


@dataclass(slots=True)
class Attacker:
    """One Byzantine non-validator peer."""

    name: str
    key: SigningKey
    rng: random.Random
    chain_id: str
    validators: list[bytes]  # public keys it impersonates (with garbage signatures)
    stamp_bits_min: int
    stats: dict[str, int] = field(default_factory=dict)
    _learned: int = 0  # highest height indexed from the source's executions
    _forgeable: dict[bytes, _Final] = field(default_factory=dict)
    _by_height: dict[int, list[bytes]] = field(default_factory=dict)
    _hidden: dict[bytes, str] = field(default_factory=dict)  # id -> rejected | redacted
    _hidden_ids: list[bytes] = field(default_factory=list)  # the same, in order
    _rejected: dict[bytes, Transaction] = field(default_factory=dict)  # their headers
    _redactions: list[tuple[AuditEntry, ...]] = field(default_factory=list)
    _asked: dict[bytes, str] = field(default_factory=dict)
    _forged: dict[bytes, RedactedTxMsg] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        """Add to one of the attack counters reported in SimResult.attacks."""
        self.stats[what] = self.stats.get(what, 0) + n

    # -- what the chain finalized ------------------------------------------
    def learn(self, source: ChainView | None) -> None:
        """Index the source's executions above what was seen: forgeable, rejected, redacted."""
        if source is None or source.height <= self._learned:
            return  # nothing new: the common case, checked on every message
        for ex in source.recent_executions():
            h = ex.checkpoint.height
            if h <= self._learned:
                continue
            self._learned = h
            receipts = ex.result.receipts
            ids: list[bytes] = []
            for i, (tx, rc) in enumerate(zip(ex.txs, receipts, strict=True)):
                if rc.status == _REJECTED:
                    self._hide(tx.id, "rejected")
                    self._rejected[tx.id] = tx
                elif tx.payload:
                    self._forgeable[tx.id] = _Final(tx, i, receipts)
                    ids.append(tx.id)
            self._by_height[h] = ids
            for vid in ex.result.redacted:
                self._hide(vid, "redacted")
            audit = ex.result.audit
            for i, e in enumerate(audit):
                if e.kind == _REDACTION:
                    self._redactions.append(tuple(audit[i:]))

    def _hide(self, vid: bytes, why: str) -> None:
        if vid not in self._hidden:
            self._hidden_ids.append(vid)
        self._hidden[vid] = why
        self._forgeable.pop(vid, None)
        self._forged.pop(vid, None)

    def _forge(self, vid: bytes) -> RedactedTxMsg | None:
        """A withheld copy of a final transaction that honest nodes must refuse."""
        f = self._forgeable.get(vid)
        if f is None:
            return None
        msg = self._forged.get(vid)
        if msg is None:
            wire = f.tx.without_payload().to_wire()
            proof = prove(f.receipts, f.index)
            roll = self.rng.random()
            redaction: tuple[AuditEntry, ...] = ()
            if roll < 0.25 and self._redactions:
                # A genuine redaction, of another record.
                redaction = self.rng.choice(self._redactions)
            elif roll < 0.5:
                # A made-up redaction naming this transaction and its payload hash.
                redaction = (
                    AuditEntry(
                        seq=self.rng.randint(0, 1_000),
                        height=proof.receipt.height,
                        kind=_REDACTION,
                        actor=self.key.address,
                        subject=f"tx:{vid.hex()}",
                        proposal=self.rng.randbytes(32).hex(),
                        reason="payload to be deleted by every node; header and receipt stay",
                        evidence=f.tx.body.payload_hash,
                        prev=self.rng.randbytes(32),
                    ),
                )
            msg = self._forged[vid] = RedactedTxMsg(wire, proof, redaction)
        return msg

    # -- acting --------------------------------------------------------------
    def step(self, peek: Peek) -> list[Outgoing]:
        """One turn: spray forged copies at lagging replicas, then one random attack."""
        self.learn(peek.source)
        out: list[Outgoing] = []
        for victim, height in peek.lagging:
            ids = [
                vid
                for h in range(height + 1, height + 1 + LOOKAHEAD_HEIGHTS)
                for vid in self._by_height.get(h, ())
                if vid in self._forgeable
            ]
            if len(ids) > FORGED_PER_VICTIM_MAX:
                ids = self.rng.sample(ids, FORGED_PER_VICTIM_MAX)
            for vid in ids:
                msg = self._forge(vid)
                if msg is not None:
                    out.append((victim, msg))
                    self.count("forge_sprayed")
        if not peek.targets:
            return out
        attack = self.rng.choices(ATTACKS, ATTACK_WEIGHTS)[0]
        dst = self.rng.choice(peek.targets)
        if attack == "forge":
            out += self._spray_any(dst)
        elif attack == "junk":
            out += self._junk(dst, peek)
        elif attack == "orphan":
            out += self._orphans(dst, peek)
        elif attack == "consensus":
            out += self._consensus(dst, peek)
        else:
            out += self._ask(dst)
        return out

    def receive(self, src: str, msg: Message, peek: Peek) -> list[Outgoing]:
        """An honest replica's message: answer fetches with forgeries, note what was served."""
        self.learn(peek.source)
        out: list[Outgoing] = []
        if isinstance(msg, TxRequest):
            for vid in msg.ids:
                forged = self._forge(vid)
                if forged is not None:
                    out.append((src, forged))
                    self.count("forge_answered")
                elif (ahead := self._ahead(vid, peek)) is not None:
                    out.append((src, ahead))
                    self.count("forge_ahead")
        elif isinstance(msg, CommitRequest):
            out += self._bad_commits(src, peek, msg.height)
        elif isinstance(msg, TxMsg) and self._asked:
            for wire in msg.wires:
                w = WIRE_DECODER.decode(wire)
                why = self._asked.get(tx_id(w.body, w.signature))
                if why is not None and w.payload:
                    self.count(f"served_payload_{why}")
        elif isinstance(msg, RedactedTxMsg) and self._asked:
            w = WIRE_DECODER.decode(msg.wire)
            why = self._asked.get(tx_id(w.body, w.signature))
            if why is not None:
                self.count(f"served_withheld_{why}")
        return out

    def _ahead(self, vid: bytes, peek: Peek) -> RedactedTxMsg | None:
        """A withheld copy of a transaction no checkpoint covers yet, with a made-up
        receipt a few heights ahead: nothing can check it before that height is
        decided, so it waits in the asker's buffer of unproven copies till then.
        The same for a transaction final as rejected, whose genuine withheld copy
        an honest peer may have to park the same way."""
        src = peek.source
        if src is None:
            return None
        tx = src.pending_tx(vid) or self._rejected.get(vid)
        if tx is None or not tx.body.payload_len:
            return None
        height = src.decided_height + self.rng.randint(1, 8)
        receipt = Receipt(vid, height, self.rng.randint(0, 20), Status.EXECUTED.value)
        path = tuple(self.rng.randbytes(32) for _ in range(self.rng.randint(0, 5)))
        proof = ReceiptProof(receipt, receipt.index + 1 + self.rng.randint(0, 20), path)
        return RedactedTxMsg(tx.without_payload().to_wire(), proof)

    def _spray_any(self, dst: str) -> list[Outgoing]:
        """Forged copies of recent final transactions, at any replica."""
        recent = [
            vid
            for h in range(max(1, self._learned - LOOKAHEAD_HEIGHTS), self._learned + 1)
            for vid in self._by_height.get(h, ())
            if vid in self._forgeable
        ]
        out: list[Outgoing] = []
        for vid in self.rng.sample(recent, min(len(recent), 4)):
            msg = self._forge(vid)
            if msg is not None:
                out.append((dst, msg))
                self.count("forge_sprayed")
        return out

    def _junk(self, dst: str, peek: Peek) -> list[Outgoing]:
        """Bad signatures, garbage wires, and a frame that is no message at all."""
        if self.rng.random() < 0.1:
            self.count("junk_frames")
            return [(dst, self.rng.randbytes(self.rng.randint(1, 64)))]
        wires: list[bytes] = []
        for _ in range(self.rng.randint(1, 8)):
            roll = self.rng.random()
            if roll < 0.5:
                tx = self._throwaway_tx(self._tips(peek), self.rng.randint(16, 256), peek)
                sig = bytearray(tx.signature)
                sig[self.rng.randrange(len(sig))] ^= 1 << self.rng.randrange(8)
                wires.append(encode(TxWire(tx.body_bytes, bytes(sig), tx.payload)))
            elif roll < 0.75:
                wires.append(self.rng.randbytes(self.rng.randint(1, 300)))
            else:
                body = self.rng.randbytes(self.rng.randint(1, 120))
                wires.append(encode(TxWire(body, self.rng.randbytes(64), b"")))
        self.count("junk_txs", len(wires))
        return [(dst, TxMsg(tuple(wires)))]

    def _orphans(self, dst: str, peek: Peek) -> list[Outgoing]:
        """Correctly signed transactions whose parents nobody has."""
        wires = []
        for _ in range(self.rng.randint(1, 8)):
            parents = [self.rng.randbytes(32) for _ in range(self.rng.randint(1, 3))]
            size = self.rng.randint(16, ORPHAN_PAYLOAD_MAX)
            wires.append(self._throwaway_tx(parents, size, peek).to_wire())
        self.count("orphans", len(wires))
        return [(dst, TxMsg(tuple(wires)))]

    def _throwaway_tx(self, parents: list[bytes], size: int, peek: Peek) -> Transaction:
        height = peek.source.height if peek.source is not None else 0
        key = SigningKey(self.rng.randbytes(32))  # a fresh key costs nothing
        if self.rng.random() < 0.5:
            kind = Kind.TRANSFER
            payload = encode(TransferPayload(self.rng.randbytes(20), self.rng.randint(1, 9)))
        else:
            kind = Kind.RECORD
            payload = self.rng.randbytes(size)
        return build(
            key,
            chain_id=self.chain_id,
            kind=kind,
            nonce=0,
            parents=parents,
            valid_until=height + 40,
            payload=payload,
            stamp_bits_min=self.stamp_bits_min,
        )

    def _tips(self, peek: Peek) -> list[bytes]:
        src = peek.source
        return src.client_tips(2) if src is not None else [self.rng.randbytes(32)]

    def _consensus(self, dst: str, peek: Peek) -> list[Outgoing]:
        """Stale and future proposals and votes, commit-request spam, broken certificates."""
        src = peek.source
        current = src.consensus_height if src is not None else 1
        height = max(1, current + self.rng.choice((-5, -2, -1, 0, 0, 1, 2, 3, 10, 1_000)))
        roll = self.rng.random()
        if roll < 0.3:
            self.count("proposals")
            return [(dst, ProposalMsg(self._proposal(height, src)))]
        if roll < 0.7:
            self.count("votes")
            return [(dst, VoteMsg(self._vote(height)))]
        if roll < 0.85:
            self.count("commit_requests")
            return [(dst, CommitRequest(self.rng.randint(0, current + 3)))]
        return self._bad_commits(dst, peek, height)

    def _proposal(self, height: int, src: ChainView | None) -> Proposal:
        cp = self._checkpoint(height, src)
        round_ = self.rng.randint(0, 3)
        if self.rng.random() < 0.5:
            return sign_proposal(self.key, height, round_, cp, -1)
        proposer = self.rng.choice(self.validators)
        return Proposal(height, round_, cp, -1, proposer, self.rng.randbytes(64))

    def _checkpoint(self, height: int, src: ChainView | None) -> Checkpoint:
        if src is not None and src.decided_height:
            cp = self.rng.choice(src.decided())[0]
            return msgspec.structs.replace(
                cp, height=height, time_ms=cp.time_ms + self.rng.randint(0, 99)
            )
        return Checkpoint(
            chain_id=self.chain_id,
            height=height,
            previous=self.rng.randbytes(32),
            time_ms=self.rng.randint(0, 10**6),
            tips=(self.rng.randbytes(32),),
            state_hash=self.rng.randbytes(32),
            receipts_root=self.rng.randbytes(32),
            audit_head=self.rng.randbytes(32),
            validator_set_hash=self.rng.randbytes(32),
        )

    def _vote(self, height: int) -> Vote:
        kind = self.rng.choice((VoteKind.PREVOTE, VoteKind.PRECOMMIT))
        round_ = self.rng.randint(0, 3)
        value = NIL if self.rng.random() < 0.3 else self.rng.randbytes(32)
        if self.rng.random() < 0.4:
            return sign_vote(self.key, self.chain_id, kind, height, round_, value)
        voter = self.rng.choice(self.validators)
        sig = b"" if self.rng.random() < 0.3 else self.rng.randbytes(64)
        return Vote(self.chain_id, int(kind), height, round_, value, voter, sig)

    def _bad_commits(self, dst: str, peek: Peek, height: int) -> list[Outgoing]:
        """A decided checkpoint with a certificate that does not finalize it."""
        src = peek.source
        if src is None or not src.decided_height:
            return []
        h = min(max(1, height), src.decided_height)
        cp, cert = src.decided()[h - 1]
        roll = self.rng.random()
        if roll < 0.4 and cert.signatures:
            sigs = list(cert.signatures)
            i = self.rng.randrange(len(sigs))
            sigs[i] = (sigs[i][0], self.rng.randbytes(64))
            cert = msgspec.structs.replace(cert, signatures=tuple(sigs))
        elif roll < 0.7:
            cert = Certificate(cert.height, cert.round, cert.value, cert.signatures[:1])
        else:
            # The real certificate over a changed checkpoint.
            cp = msgspec.structs.replace(cp, time_ms=cp.time_ms + 1)
        self.count("bad_commits")
        return [(dst, CommitMsg(cp, cert))]

    def _ask(self, dst: str) -> list[Outgoing]:
        """Ask for the content of transactions final as rejected or redacted."""
        if not self._hidden_ids:
            return []
        ids = self.rng.sample(self._hidden_ids, min(len(self._hidden_ids), ASK_IDS_MAX))
        for vid in ids:
            self._asked[vid] = self._hidden[vid]
        self.count("asks", len(ids))
        return [(dst, TxRequest(tuple(ids)))]
