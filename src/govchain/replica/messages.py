"""Peer-to-peer messages between replicas: a tagged msgspec union with limits."""

from __future__ import annotations

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.consensus.messages import Certificate, Checkpoint, Proposal, Vote
from govchain.state.audit import AuditEntry
from govchain.state.receipts import ReceiptProof

IDS_PER_REQUEST_MAX = 256
WIRES_PER_MSG_MAX = 256
# A redaction's audit entries from its own to the last of its height: enactments
# come at the end of a height, so only other enactments, lapses and expiries
# follow, at most two per open proposal (PROPOSALS_OPEN_MAX = 256), each with a
# short outcome text: well within REDACTED_MSG_BYTES_MAX.
REDACTION_ENTRIES_MAX = 1_024
# A receipt's audit path: a height holds far fewer than 2**64 receipts.
PROOF_PATH_MAX = 64
# One withheld copy, all told: a header, a proof and the entries (each of whose
# text fields execution clips to 1 KiB); anything bigger is not honest.
REDACTED_MSG_BYTES_MAX = 1024 * 1024


class TxMsg(msgspec.Struct, array_like=True, frozen=True, tag=1, forbid_unknown_fields=True):
    """Transactions in wire form (gossip or a fetch reply), at most WIRES_PER_MSG_MAX."""

    wires: tuple[bytes, ...]


class TxRequest(msgspec.Struct, array_like=True, frozen=True, tag=2, forbid_unknown_fields=True):
    """Ask a peer for transactions by id."""

    ids: tuple[bytes, ...]


class ProposalMsg(msgspec.Struct, array_like=True, frozen=True, tag=3, forbid_unknown_fields=True):
    """A consensus proposal."""

    proposal: Proposal


class VoteMsg(msgspec.Struct, array_like=True, frozen=True, tag=4, forbid_unknown_fields=True):
    """A consensus vote."""

    vote: Vote


class CommitMsg(msgspec.Struct, array_like=True, frozen=True, tag=5, forbid_unknown_fields=True):
    """A decided checkpoint with its certificate, for a peer that is behind."""

    checkpoint: Checkpoint
    certificate: Certificate


class CommitRequest(
    msgspec.Struct, array_like=True, frozen=True, tag=6, forbid_unknown_fields=True
):
    """Ask a peer for decided checkpoints from height on."""

    height: int


class RedactedTxMsg(
    msgspec.Struct, array_like=True, frozen=True, tag=7, forbid_unknown_fields=True
):
    """A final vertex that travels without its payload: its header (wire form with an
    empty payload) and its receipt's inclusion proof, which the receiver checks against
    the receipts root that the next decided checkpoint certifies.

    Only two such vertices exist: one final as rejected (the receipt says so), and
    one whose redaction the chain decided. For the second, `redaction` holds the
    audit entries from the redaction's own entry to the last entry of its height:
    they must chain to the audit head that the following checkpoint certifies, and
    the redaction entry must name the transaction and its payload hash.
    """

    wire: bytes
    proof: ReceiptProof
    redaction: tuple[AuditEntry, ...] = ()


class AckMsg(msgspec.Struct, array_like=True, frozen=True, tag=8, forbid_unknown_fields=True):
    """A validator holds these transactions durably (sent only once its store has them).

    The answer to every TxMsg: the node that took a client's transaction counts
    these until validators with more than a third of the weight hold it, and only
    then answers 202 (see replica/replication.py).
    """

    ids: tuple[bytes, ...]


Message = (
    TxMsg | TxRequest | ProposalMsg | VoteMsg | CommitMsg | CommitRequest | RedactedTxMsg | AckMsg
)

MESSAGE_DECODER: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


def decode_message(data: bytes) -> Message:
    """Decode a peer message; raises DecodeError on anything but one canonical message."""
    msg = decode_canonical(data, MESSAGE_DECODER)
    if isinstance(msg, RedactedTxMsg) and (
        len(data) > REDACTED_MSG_BYTES_MAX
        or len(msg.redaction) > REDACTION_ENTRIES_MAX
        or len(msg.proof.path) > PROOF_PATH_MAX
    ):
        raise DecodeError("a withheld copy too large, or with too many entries or proof hashes")
    if isinstance(msg, TxRequest) and len(msg.ids) > IDS_PER_REQUEST_MAX:
        raise DecodeError(f"a request names at most {IDS_PER_REQUEST_MAX} ids")
    if isinstance(msg, AckMsg) and not 1 <= len(msg.ids) <= WIRES_PER_MSG_MAX:
        raise DecodeError(f"an acknowledgement names 1..{WIRES_PER_MSG_MAX} ids")
    if isinstance(msg, TxMsg) and not 1 <= len(msg.wires) <= WIRES_PER_MSG_MAX:
        raise DecodeError(f"a transaction message holds 1..{WIRES_PER_MSG_MAX} transactions")
    return msg
