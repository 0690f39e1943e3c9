"""What the warehouse namespace keeps: one record type per thing, as the state hash commits it.

Records are mutable msgspec structs held in the book's dicts (book.py); every
change marks the record dirty, and the height's writes encode the dirty ones.
Heights stand in for time (execution has no clock); days are business days
numbered as oracles date their prices.
"""

from __future__ import annotations

import enum

import msgspec

from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.ops import AnyOp
from govchain.apps.warehouse.readings import ROLLING_EMPTY, Reading


class _Record(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """Base of the namespace's records: a canonical msgpack array."""


class ReceiptStatus(enum.StrEnum):
    """Where a receipt stands. Only `valid` receipts are live."""

    VALID = "valid"
    SPLIT = "split"  # replaced by its children
    MERGED = "merged"  # replaced by the merged receipt
    CANCELLED = "cancelled"  # goods withdrawn; the number is never reused


class AlarmKind(enum.StrEnum):
    """Why a bin's goods may not match its receipts."""

    WEIGHT_DRIFT = "weight_drift"  # sensed below book (less goods leaving) beyond tolerance
    CAPACITY = "capacity_exceeded"
    TAG_LEFT = "tag_left"  # a live lot's tag left its bin without a release order
    GATE = "tag_at_gate"  # a live lot's tag passed the gate without a release order
    CALIBRATION = "calibration_expired"
    FIRMWARE = "firmware_mismatch"
    OFFLINE = "device_offline"  # no reading for more than wr_reading_fresh_heights


class Warehouse(_Record):
    """A warehouse: its address is the operator's; the supervisor signs with it."""

    address: bytes
    name: str
    supervisor: bytes
    opened: int  # height
    bins: list[str]


class Alarm(_Record):
    """An alarm in force on a bin until an inspection clears it."""

    seq: int
    kind: str
    height: int
    device: str
    tx: bytes  # the transaction that carried the evidence
    detail: str


class Inspection(_Record):
    """An inspector's signed finding."""

    height: int
    inspector: bytes
    found_g: int
    report: bytes
    cleared: tuple[int, ...]  # alarm seqs


class Bin(_Record):
    """A bin: capacity, devices, the lots in it, and alarms in force."""

    warehouse: bytes
    code: str
    capacity_g: int
    devices: list[str]
    lots: list[str]
    book_g: int = 0  # net grams of live lots in the bin
    alarms: list[Alarm] = msgspec.field(default_factory=list)
    inspections: list[Inspection] = msgspec.field(default_factory=list)


class Device(_Record):
    """A registered device and what the chain has of its stream."""

    id: str
    kind: str
    warehouse: bytes
    bin: str
    public_key: bytes
    calibrated_until: int
    firmware: bytes
    registered: int  # height
    counter: int = 0  # the last accepted reading's
    latest: Reading | None = None
    latest_height: int = 0
    latest_tx: bytes = b""
    digest: bytes = ROLLING_EMPTY
    readings: int = 0
    used_counter: int = 0  # a weighbridge's reading that last booked an intake


class Lot(_Record):
    """Goods booked in: what they are, where, and how much of them receipts cover."""

    id: str
    warehouse: bytes
    bin: str
    spec: Spec
    tags: tuple[str, ...]
    commitment: bytes
    certificate: bytes
    quantity_g: int  # net grams in stock (withdrawals reduce it)
    receipted_g: int = 0  # grams covered by live receipts
    intake_height: int = 0
    intake_tx: bytes = b""
    evidence: tuple[str, int] = ("", 0)  # (weighbridge, counter)

    @property
    def live(self) -> bool:
        """True while goods of the lot are in stock."""
        return self.quantity_g > 0


class Version(_Record):
    """One step of a receipt's life: who signed, and what evidence it relied on."""

    version: int
    height: int
    tx: bytes  # the transaction that executed it (the last signature, for an offer)
    transition: str
    signers: tuple[bytes, ...]  # addresses, opener first
    holder: bytes
    controller: bytes
    status: str
    readings: tuple[tuple[str, int], ...] = ()  # (device, counter)
    prices: tuple[tuple[str, str, int], ...] = ()  # (commodity, source, day)
    note: str = ""


class Receipt(_Record):
    """A warehouse receipt (fields after GB/T 30332-2024) and its whole history."""

    number: str
    warehouse: bytes
    issuer: bytes
    lots: tuple[tuple[str, int], ...]  # (lot, grams)
    holder: bytes  # title
    controller: bytes  # possession: the bank while pledged
    status: str
    document: bytes
    commodity: str
    quantity_g: int
    encumbrance: str = ""  # the pledge's id, or ""
    frozen_by: str = ""  # the governance order's proposal, or ""
    enforcement: bool = False  # an uncured call froze it for enforcement
    parent: str = ""
    children: tuple[str, ...] = ()
    versions: list[Version] = msgspec.field(default_factory=list)


class Mark(_Record):
    """One day's valuation of a pledge."""

    day: int
    height: int
    fen_per_tonne: int | None
    eligible_fen: int | None
    ltv_bp: int | None
    band: str | None
    alarms: tuple[str, ...]


class Call(_Record):
    """A margin call: opened on a day, cured or not by its deadline."""

    day: int
    height: int
    deadline_day: int
    repay_fen: int
    more_g: int | None
    cured_height: int | None = None


class PledgeRec(_Record):
    """A pledge: the bank's loan against receipts (its daily marks: WarehouseBook.marks)."""

    id: str  # the opening transaction's id, hex
    bank: bytes
    borrower: bytes
    commodity: str
    receipts: list[str]
    quantity_g: int
    loan_fen: int  # disbursed
    outstanding_fen: int
    haircut_bp: int
    initial_ltv_bp: int
    opened: int  # height
    status: str = "active"  # active, enforceable, released, enforced
    calls: list[Call] = msgspec.field(default_factory=list)
    proceeds: tuple[tuple[bytes, int], ...] = ()  # who got what at enforcement

    @property
    def open_call(self) -> Call | None:
        """The margin call in force, if any."""
        if self.calls and self.calls[-1].cured_height is None:
            return self.calls[-1]
        return None


class PriceRec(_Record):
    """The newest price of a commodity from one source."""

    commodity: str
    source: str
    fen_per_tonne: int
    day: int
    oracle: bytes
    height: int


class Offer(_Record):
    """A transition waiting for its parties' signatures."""

    id: bytes  # the opening transaction's id
    op: AnyOp
    opener: bytes
    needed: tuple[bytes, ...]  # every signer, opener included, sorted
    signed: list[bytes]
    opened: int
    expires: int  # the last height a signature counts
    status: str = "open"  # open, executed, declined
