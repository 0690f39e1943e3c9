"""A replica fed peer messages, as a node's shell feeds it: the drive of two targets.

An input is a script of steps, each a peer (one byte), a time step (one byte,
x 50 ms), a byte the consensus target signs with (the validator's index) and
one message's bytes (a chunk). A step's bytes must decode
(replica/messages.py decode_message): a DecodeError ends the script, as the
node closes that peer's connection. What decodes goes to a fresh replica
(validator 0 of the fuzz chain), which ticks and hands its outputs over after
each step; no message may make it raise.
"""

from __future__ import annotations

from collections.abc import Callable

from govchain.codec import encode
from govchain.consensus.messages import (
    Checkpoint,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import (
    AckMsg,
    CommitMsg,
    CommitRequest,
    Message,
    ProposalMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
    decode_message,
)
from govchain.replica.replica import Replica
from govchain.state.payloads import TransferPayload
from targets._kit import (
    ALICE,
    BOB,
    GENESIS,
    VALIDATORS,
    Reader,
    certificate,
    check,
    join,
    signed_tx,
)

PEERS = tuple(f"peer-{i}" for i in range(1, len(VALIDATORS)))
STEP_MS = 50
CONFIG = ReplicaConfig(dag=DagLimits(stamp_bits_min=0), idle_checkpoint_ms=0)
STEPS_MAX = 64


def fresh_replica() -> Replica:
    """Validator 0 of the fuzz chain, started at time 0, its peers the other validators."""
    keys = {p: VALIDATORS[i + 1].public_key for i, p in enumerate(PEERS)}
    r = Replica("fuzz-0", GENESIS, VALIDATORS[0], list(PEERS), CONFIG, peer_keys=keys)
    r.start(0)
    r.ready()
    return r


def drive(data: bytes, adjust: Callable[[Message, int], Message] | None = None) -> None:
    """Run the script in data; adjust(message, byte) may rewrite each decoded message."""
    r = Reader(data)
    replica = fresh_replica()
    now = 0
    for _ in range(STEPS_MAX):
        if r.pos >= len(data):
            break
        peer = PEERS[r.byte() % len(PEERS)]
        now += STEP_MS * r.byte()
        extra = r.byte()
        raw = r.chunk()
        msg = decode_message(raw)
        check(encode(msg) == raw, "a message decoded from other bytes than its encoding")
        if adjust is not None:
            msg = adjust(msg, extra)
        replica.receive(peer, msg, now)
        replica.tick(now)
        replica.ready()


def step(peer: int, wait: int, msg: Message, extra: int = 0) -> bytes:
    """One step of a script (for seeds)."""
    return bytes([peer, wait, extra]) + join(encode(msg))


def proposer_one() -> SigningKey:
    """The validator that proposes at height 1, round 0."""
    return next(k for k in VALIDATORS if k.public_key == GENESIS.validators.proposer(1, 0))


def checkpoint_one() -> Checkpoint:
    """What the proposer of height 1 proposes on the fuzz chain with nothing to cover."""
    r = Replica("seed", GENESIS, proposer_one(), list(PEERS), CONFIG)
    r.start(0)
    for t in range(0, 5_000, 50):
        r.tick(t)
        for _, msg in r.ready().sends:
            if isinstance(msg, ProposalMsg):
                return msg.proposal.checkpoint
    raise AssertionError("no proposal at height 1")


def seed_scripts() -> dict[str, bytes]:
    """Scripts of honest messages: gossip, requests, a round of consensus, a commit."""
    tx = signed_tx(ALICE, 0, "transfer", encode(TransferPayload(BOB.address, 5)))
    cp = checkpoint_one()
    chain = cp.chain_id
    proposal = ProposalMsg(sign_proposal(proposer_one(), 1, 0, cp, -1))
    votes = [
        VoteMsg(sign_vote(VALIDATORS[i], chain, kind, 1, 0, cp.hash))
        for kind in (VoteKind.PREVOTE, VoteKind.PRECOMMIT)
        for i in (1, 2, 3)
    ]
    return {
        "gossip": step(0, 1, TxMsg((tx.to_wire(),))) + step(1, 1, TxRequest((tx.id,))),
        "ack": step(0, 1, TxMsg((tx.to_wire(),))) + step(2, 0, AckMsg((tx.id,))),
        "round": step(0, 2, proposal)
        + b"".join(step(i % 3, 1, v, i + 1) for i, v in enumerate(votes)),
        "commit": step(1, 4, CommitMsg(cp, certificate(cp, GENESIS.validators)))
        + step(2, 1, CommitRequest(1)),
        "nil": step(0, 20, VoteMsg(sign_vote(VALIDATORS[1], chain, VoteKind.PREVOTE, 1, 0, b""))),
    }
