"""The warehouse's transaction payloads: one tagged union of transitions, and device readings.

A `wr` transaction carries one `Op`; its tag (the first array element) names the
transition ("intake", "issue", ...). `Sign` adds the sender's signature to an open
offer (a transition that needs several parties, docs/warehouse.md); `Decline` ends
one. A `wr.readings` transaction carries a gateway's batch of device-signed readings
(readings.py). Every field is bounded by the checks in transitions; the decoder
only fixes the shape.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.readings import SignedReading
from govchain.state.payload_base import Payload

KIND_WR = "wr"
KIND_READINGS = "wr.readings"


class Op(Payload, frozen=True):
    """Base of a transition's payload (the tag is the transition's name)."""


class OpenWarehouse(Op, frozen=True, tag="open-warehouse"):
    """The sender (role warehouse) opens a warehouse at its address; its supervisor signs."""

    name: str
    supervisor: bytes
    bins: tuple[tuple[str, int], ...]  # (bin code, capacity in grams)


class AddBin(Op, frozen=True, tag="add-bin"):
    """The operator adds a bin, or changes a bin's capacity (never below what it holds)."""

    bin: str
    capacity_g: int


class RegisterDevice(Op, frozen=True, tag="register-device"):
    """The operator registers (or recalibrates) a device on a bin; the supervisor signs."""

    device: str
    device_kind: str  # weighbridge, load_cell, rfid, gate, camera
    bin: str
    public_key: bytes
    calibrated_until: int  # the last height its calibration covers
    firmware: bytes  # 32-byte hash of the firmware it must run


class Intake(Op, frozen=True, tag="intake"):
    """The operator books goods weighed in as a lot, with the weighbridge's evidence."""

    lot: str
    bin: str
    tags: tuple[str, ...]
    spec: Spec
    salt: bytes
    certificate: bytes  # hash of the quality certificate (32 bytes, or empty)
    weighbridge: str  # the device whose latest reading weighed the gross


class Issue(Op, frozen=True, tag="issue"):
    """The operator issues a receipt on lots; the supervisor and the depositor sign."""

    number: str
    holder: bytes
    lots: tuple[tuple[str, int], ...]  # (lot, grams)
    document: bytes  # hash of the receipt document (GB/T 30332-2024 fields)


class Endorse(Op, frozen=True, tag="endorse"):
    """The holder transfers title; the transferee signs."""

    number: str
    to: bytes


class Pledge(Op, frozen=True, tag="pledge"):
    """The holder pledges receipts to a bank for a loan; the bank signs and pays it out."""

    numbers: tuple[str, ...]
    bank: bytes
    loan_fen: int
    haircut_bp: int


class AddCollateral(Op, frozen=True, tag="add-collateral"):
    """The borrower pledges more receipts under a pledge (a cure by collateral)."""

    pledge: str
    numbers: tuple[str, ...]


class Repay(Op, frozen=True, tag="repay"):
    """The borrower pays part or all of a pledge's loan to the bank."""

    pledge: str
    amount_fen: int


class Adjust(Op, frozen=True, tag="adjust"):
    """Partial release or substitution of collateral: the bank opens, the supervisor signs."""

    pledge: str
    add: tuple[str, ...]
    remove: tuple[str, ...]


class Release(Op, frozen=True, tag="release"):
    """The bank releases a repaid pledge: control returns to the holder."""

    pledge: str


class Enforce(Op, frozen=True, tag="enforce"):
    """The bank sells an enforceable pledge's goods; the buyer signs and pays."""

    pledge: str
    buyer: bytes
    price_fen: int


class Split(Op, frozen=True, tag="split"):
    """The operator splits a receipt into children (their lots sum to the parent's)."""

    number: str
    children: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # (number, lots)


class Merge(Op, frozen=True, tag="merge"):
    """The operator merges receipts of one holder, controller and encumbrance into one."""

    numbers: tuple[str, ...]
    into: str


class Withdraw(Op, frozen=True, tag="withdraw"):
    """The controller orders the goods out; the operator signs once weighed out at the gate."""

    number: str


class Inspect(Op, frozen=True, tag="inspect"):
    """An inspector's signed inspection of a bin: clears its alarms once goods match."""

    warehouse: bytes
    bin: str
    found_g: int
    report: bytes  # 32-byte hash of the inspection report


class PostPrice(Op, frozen=True, tag="price"):
    """An oracle posts a commodity's price for a business day."""

    commodity: str
    source: str  # settlement or spot
    fen_per_tonne: int
    day: int


class Sign(Op, frozen=True, tag="sign"):
    """The sender signs an open offer; the last signature executes it."""

    offer: bytes


class Decline(Op, frozen=True, tag="decline"):
    """A party to an open offer ends it unexecuted."""

    offer: bytes


AnyOp: TypeAlias = (
    OpenWarehouse
    | AddBin
    | RegisterDevice
    | Intake
    | Issue
    | Endorse
    | Pledge
    | AddCollateral
    | Repay
    | Adjust
    | Release
    | Enforce
    | Split
    | Merge
    | Withdraw
    | Inspect
    | PostPrice
    | Sign
    | Decline
)
OP_DECODER: msgspec.msgpack.Decoder[AnyOp] = msgspec.msgpack.Decoder(AnyOp)


class ReadingsPayload(Payload, frozen=True):
    """A gateway's batch of device-signed readings."""

    readings: tuple[SignedReading, ...]


READINGS_DECODER = msgspec.msgpack.Decoder(ReadingsPayload)


def op_name(op: Op) -> str:
    """The transition's name (the op's tag)."""
    tag = op.__struct_config__.tag
    assert isinstance(tag, str), type(op)
    return tag
