"""Payloads that travel without their bytes (issue 9, items 1 and 2).

A vertex may reach a node without its payload only when its certified receipt
says it was final as rejected, or when the certified chain redacted it (a
record). A forged "redacted" copy of anything else is refused and its sender
blamed; a transaction final as rejected loses its payload everywhere in the
commit that makes it final, and is never served again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SimCluster, receipt_of
from govchain.codec import DecodeError, encode
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.tx import Transaction
from govchain.replica.books import Want
from govchain.replica.messages import (
    REDACTION_ENTRIES_MAX,
    Message,
    RedactedTxMsg,
    TxMsg,
    TxRequest,
    decode_message,
)
from govchain.replica.replica import Replica
from govchain.replica.withheld import UNPROVEN_MAX, UNPROVEN_PEER_SHARE
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditKind
from govchain.state.governance import PROPOSALS_OPEN_MAX
from govchain.state.payloads import ProposePayload, RecordPayload, Redact, TransferPayload
from govchain.state.receipts import Receipt, ReceiptProof, prove
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import SqliteStore
from test_storage import ALICE, BOB, REGULATOR, cluster, signed

MARKER = b"forbidden-text-5d1c0e"


def proof_of(replica: Replica, vid: bytes) -> ReceiptProof:
    """The genuine inclusion proof of a final transaction's receipt, as any node can make."""
    for ex in replica.executions:
        for index, tx in enumerate(ex.txs):
            if tx.id == vid:
                return prove(ex.result.receipts, index)
    raise AssertionError("not final here")


def lagging_net(make: str) -> tuple[SimCluster, Transaction]:
    """r3 is cut off while one transaction (a transfer or a record) becomes final."""
    net = cluster(MemoryStore())
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    net.cut = {"r3"}
    tips = net.replicas["r0"].dag.client_tips
    if make == "transfer":
        tx = signed(ALICE, "transfer", encode(TransferPayload(BOB.address, 42)), tips(2), 0)
    else:
        tx = signed(ALICE, "record", encode(RecordPayload("", "text/plain", MARKER)), tips(2), 0)
    net.submit("r0", tx)
    up = [net.replicas[n] for n in ("r0", "r1", "r2")]
    net.run_until(lambda: all(receipt_of(r, tx.id) is not None for r in up))
    net.run_until(lambda: all(r.ledger.height >= 12 for r in up))
    return net, tx


def wanting(net: SimCluster, tx: Transaction) -> Replica:
    """Let r3 learn the decisions but none of the transactions, until it asks for tx."""
    net.cut = set()
    wire = tx.to_wire()

    def carries_tx(msg: Message) -> bool:
        if isinstance(msg, RedactedTxMsg):
            return msg.proof.receipt.tx_id == tx.id
        return isinstance(msg, TxMsg) and wire in msg.wires

    net.lost = lambda src, dst, msg: dst == "r3" and carries_tx(msg)
    r3 = net.replicas["r3"]
    final_at = receipt_of(net.replicas["r0"], tx.id)
    assert final_at is not None
    net.run_until(
        lambda: (
            len(r3.decided) > final_at.height
            and (tx.id in r3._fetcher.wanted or r3.dag.is_awaited(tx.id))
        )
    )
    return r3


def caught_up(net: SimCluster) -> None:
    net.lost = lambda src, dst, msg: False
    r0, r3 = net.replicas["r0"], net.replicas["r3"]
    net.run_until(lambda: r3.ledger.height >= r0.ledger.height > 0)
    same = [ex for ex in r0.executions if ex.result.height == r3.ledger.height]
    assert same and same[0].result.state_hash == r3.ledger.state_hash


# -- item 1: forged copies -------------------------------------------------------------
def test_a_forged_withheld_transfer_is_refused_and_its_sender_blamed() -> None:
    net, tx = lagging_net("transfer")
    r3 = wanting(net, tx)
    forged = RedactedTxMsg(tx.without_payload().to_wire(), proof_of(net.replicas["r0"], tx.id))
    for _ in range(3):  # a flood of the same forgery
        r3.receive("mallory", forged, net.now_ms)
        net.drive("r3")
    assert not r3.dag.has(tx.id)
    assert [(b.by, b.peer) for b in net.blamed] == [("r3", "mallory")] * 3
    assert "transfer final as executed" in net.blamed[0].reason

    caught_up(net)
    assert r3.ledger.balance(BOB.address) == 542
    assert receipt_of(r3, tx.id) == receipt_of(net.replicas["r0"], tx.id)


def forged_redaction(tx: Transaction, height: int) -> tuple[AuditEntry, ...]:
    """A redaction entry the chain never wrote, chained to nothing certified."""
    entry = AuditEntry(
        7, height, AuditKind.REDACTION.value, b"", f"tx:{tx.id.hex()}", "", "", b"", AUDIT_EMPTY
    )
    return (entry,)


def test_a_forged_redaction_of_a_record_is_refused_when_the_head_is_known() -> None:
    net, rec = lagging_net("record")
    r3 = wanting(net, rec)
    proof = proof_of(net.replicas["r0"], rec.id)
    wire = rec.without_payload().to_wire()
    r3.receive("mallory", RedactedTxMsg(wire, proof), net.now_ms)  # no redaction at all
    r3.receive(
        "mallory",
        RedactedTxMsg(wire, proof, forged_redaction(rec, proof.receipt.height)),
        net.now_ms,
    )
    net.drive("r3")
    assert not r3.dag.has(rec.id)
    assert [b.peer for b in net.blamed] == ["mallory", "mallory"]

    caught_up(net)
    stored = [t for ex in net.store("r3").load().executed for t in ex.txs if t.id == rec.id]
    assert stored and stored[0].payload == rec.payload  # the honest copy came later


def test_a_forged_redaction_taken_before_its_height_is_caught_at_that_height() -> None:
    net, rec = lagging_net("record")
    r3 = wanting(net, rec)
    proof = proof_of(net.replicas["r0"], rec.id)
    later = proof.receipt.height + 5  # beyond what r3 can check yet
    msg = RedactedTxMsg(rec.without_payload().to_wire(), proof, forged_redaction(rec, later))
    r3.receive("mallory", msg, net.now_ms)
    net.drive("r3")
    assert net.blamed == []  # nothing to hold against it yet
    caught_up(net)  # a record executes from its certified receipt: state stays right
    assert [b.peer for b in net.blamed] == ["mallory"]
    assert f"forged redaction of {rec.id.hex()}" in net.blamed[0].reason


def test_an_honest_redaction_catches_up_without_blame() -> None:
    net, rec = lagging_net("record")
    up = [net.replicas[n] for n in ("r0", "r1", "r2")]
    tips = net.replicas["r0"].dag.client_tips
    action = ProposePayload(Redact(rec.id), "erasure request", bytes(32))
    net.submit("r1", signed(REGULATOR, "gov.propose", encode(action), tips(2), 0))
    net.run_until(lambda: all(r.ledger.redaction(rec.id) for r in up))
    net.run_until(lambda: all(r.ledger.height >= 20 for r in up))
    net.cut = set()
    caught_up(net)
    r3 = net.replicas["r3"]
    assert r3.ledger.redaction(rec.id) is not None
    assert net.blamed == []
    held = [t for ex in net.store("r3").load().executed for t in ex.txs if t.id == rec.id]
    assert held and held[0].payload_missing


# -- item 2: what was rejected is deleted and never served --------------------------------
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_rejected_transactions_payload_leaves_every_node(backend: str, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r0.sqlite") if backend == "sqlite" else MemoryStore()
    net = cluster(store)
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    net.cut = {"r3"}
    tips = net.replicas["r0"].dag.client_tips
    # Text smuggled in a transfer: final as malformed_payload.
    bad = signed(ALICE, "transfer", MARKER, tips(2), 0)
    net.submit("r0", bad)
    up = [net.replicas[n] for n in ("r0", "r1", "r2")]
    net.run_until(lambda: all(receipt_of(r, bad.id) is not None for r in up))
    rc = receipt_of(net.replicas["r0"], bad.id)
    assert rc is not None and (rc.status, rc.reason) == ("rejected", "malformed_payload")

    # The bytes go once the next checkpoint certifies the receipt (until then a
    # validator still executing that height could prove nothing without them).
    net.run_until(lambda: all(len(r.decided) > rc.height for r in up))
    for r in up:
        held = [t for ex in r.executions for t in ex.txs] + [v.tx for v in r.dag.vertices.values()]
        assert all(MARKER not in t.payload for t in held)
    stored = store.get_tx(bad.id)
    assert stored is not None and stored.tx.payload == b"" and stored.receipt == rc
    if backend == "sqlite":
        net.run_until(lambda: net.replicas["r0"].ledger.height >= rc.height + 2)
        for f in tmp_path.iterdir():
            assert MARKER not in f.read_bytes(), f"{f.name} still holds the rejected bytes"

    # Asked for it, an honest node sends the header and the receipt's proof only.
    r0 = net.replicas["r0"]
    r0.receive("r3", TxRequest((bad.id,)), net.now_ms)
    sends = r0.ready().sends
    assert [type(m) for _, m in sends] == [RedactedTxMsg]
    assert all(MARKER not in encode(m) for _, m in sends)

    # The node that was away catches up through that copy, with the same state.
    net.cut = set()
    caught_up(net)
    assert receipt_of(net.replicas["r3"], bad.id) == rc
    assert net.blamed == []
    store.close()


def test_a_payload_over_the_tier_limit_is_refused_at_admission() -> None:
    net = cluster(MemoryStore())
    r0 = net.replicas["r0"]
    big = signed(
        ALICE,
        "record",
        encode(RecordPayload("", "text/plain", b"x" * 5_000)),
        r0.dag.client_tips(2),
        0,
    )
    with pytest.raises(AdmissionError) as exc:
        r0.submit(big.to_wire(), net.now_ms)
    assert exc.value.reason is Reject.TOO_LARGE and "tier" in exc.value.detail
    out = r0.ready()
    assert not r0.dag.has(big.id) and out.admitted == [] and out.sends == []
    # Gossip from a peer is refused the same way (unless a checkpoint needs it).
    r0.receive("r1", TxMsg((big.to_wire(),)), net.now_ms)
    assert not r0.dag.has(big.id)


# -- bounds on what a peer can make a node hold ------------------------------------------
def test_a_withheld_copy_with_too_many_entries_is_a_decode_error() -> None:
    rec = signed(ALICE, "record", encode(RecordPayload("", "text/plain", b"x")), [bytes(32)], 0)
    proof = ReceiptProof(Receipt(rec.id, 3, 0, "executed"), 1, ())
    entries = forged_redaction(rec, 3) * (REDACTION_ENTRIES_MAX + 1)
    with pytest.raises(DecodeError):
        decode_message(encode(RedactedTxMsg(rec.without_payload().to_wire(), proof, entries)))
    decode_message(encode(RedactedTxMsg(rec.without_payload().to_wire(), proof, entries[:2])))


def test_one_peer_fills_at_most_its_share_of_the_unproven_copies() -> None:
    net = cluster(MemoryStore())
    r0 = net.replicas["r0"]
    ahead = len(r0.decided) + 1  # not decided here yet: the copy must wait
    copies = []
    for nonce in range(UNPROVEN_MAX):
        rec = signed(ALICE, "record", encode(RecordPayload("", "", b"x")), [bytes(32)], nonce)
        r0._fetcher.wanted.add(
            rec.id, Want(net.now_ms, 0, net.now_ms, None)
        )  # as if a checkpoint needed it
        proof = ReceiptProof(Receipt(rec.id, ahead, 0, "executed"), 1, ())
        copies.append(RedactedTxMsg(rec.without_payload().to_wire(), proof))
    for msg in copies[:-1]:
        r0.receive("mallory", msg, net.now_ms)
    assert len(r0._withheld) == UNPROVEN_MAX // UNPROVEN_PEER_SHARE
    r0.receive("r1", copies[-1], net.now_ms)  # an honest peer still has room
    assert len(r0._withheld) == UNPROVEN_MAX // UNPROVEN_PEER_SHARE + 1
    far = RedactedTxMsg(
        copies[-2].wire,
        ReceiptProof(Receipt(copies[-2].proof.receipt.tx_id, 10**9, 0, "executed"), 1, ()),
    )
    r0.receive("r2", far, net.now_ms)  # a height no fetch could need yet is not kept
    assert len(r0._withheld) == UNPROVEN_MAX // UNPROVEN_PEER_SHARE + 1


def test_an_honest_redaction_proof_always_fits() -> None:
    # At most two end-of-height entries per open proposal can follow a redaction.
    assert REDACTION_ENTRIES_MAX >= 2 * PROPOSALS_OPEN_MAX + 1
