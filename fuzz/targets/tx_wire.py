"""The transaction wire (dag/tx.py) through admission's stateless checks (dag/admission.py).

Input: one mode byte, then the wire. Mode bit 0: the payload is withheld (a
redacted record, as peers send it); bit 1: a stamp of 8 bits is required (else
none, so mutated bodies reach the payload and signature checks). Whatever
decodes must re-encode to the same bytes, and its body must decode alone.
"""

from __future__ import annotations

from govchain.codec import encode
from govchain.dag.admission import AdmissionError, check_signature, check_wire, decode_wire
from govchain.dag.limits import DagLimits
from govchain.dag.tx import TxWire, decode_body
from govchain.state.payloads import RecordPayload, TransferPayload
from targets._kit import ALICE, BOB, CHAIN, Reader, check, signed_tx

ACCEPTED: tuple[type[BaseException], ...] = (AdmissionError,)
LIMITS = {False: DagLimits(stamp_bits_min=0), True: DagLimits(stamp_bits_min=8)}


def test_one_input(data: bytes) -> None:
    """Decode and check one wire; only AdmissionError may come out."""
    r = Reader(data)
    mode = r.byte()
    withheld, stamped = bool(mode & 1), bool(mode & 2)
    wire = r.rest()
    limits = LIMITS[stamped]
    w = decode_wire(wire, limits)
    tx = check_wire(w, CHAIN, limits, payload_withheld=withheld)
    check(tx.to_wire() == wire, "an admitted wire re-encodes to other bytes")
    check(decode_body(tx.body_bytes) == tx.body, "the body decodes otherwise alone")
    check(tx.payload_missing == withheld, "payload_missing disagrees with the check")
    check_signature(tx)


def seeds() -> dict[str, bytes]:
    """Valid wires: a transfer, a record, a stamped one, a withheld payload."""
    transfer = signed_tx(ALICE, 0, "transfer", encode(TransferPayload(BOB.address, 5)))
    record = signed_tx(BOB, 3, "record", encode(RecordPayload("", "text/plain", b"hello")))
    stamped = signed_tx(ALICE, 1, "transfer", b"\x00" * 40, stamp_bits_min=8)
    withheld = record.without_payload()
    return {
        "transfer": b"\x00" + transfer.to_wire(),
        "record": b"\x00" + record.to_wire(),
        "stamped": b"\x02" + stamped.to_wire(),
        "withheld": b"\x01" + encode(TxWire(withheld.body_bytes, withheld.signature, b"")),
    }
