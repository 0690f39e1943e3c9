"""Warehouse test kit: a ledger running the warehouse, its cast, devices and transitions.

`Story` wraps ledgerkit's Chain on a genesis with apps=("warehouse",): the cast is
identified at genesis and granted roles through governance, devices sign readings
with their own keys, and each call runs one height and returns its outcomes, so a
test reads as the issue's copper story.
"""

from __future__ import annotations

import hashlib

import msgspec

from govchain.apps.catalog import registry_for
from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    KIND_WR,
    AnyOp,
    Intake,
    Issue,
    OpenWarehouse,
    PostPrice,
    ReadingsPayload,
    RegisterDevice,
    Sign,
)
from govchain.apps.warehouse.readings import Reading, SignedReading, sign_reading
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.state.actions.grant_role import GrantRole
from govchain.state.genesis import GenesisIdentity
from govchain.state.ledger import Ledger
from ledgerkit import Chain, genesis, outcomes

OPERATOR = SigningKey.from_label("wr-operator")
SUPERVISOR = SigningKey.from_label("wr-supervisor")
DEPOSITOR = SigningKey.from_label("wr-depositor")
BANK_A = SigningKey.from_label("wr-bank-a")
BANK_B = SigningKey.from_label("wr-bank-b")
ORACLE = SigningKey.from_label("wr-oracle")
INSPECTOR = SigningKey.from_label("wr-inspector")
BUYER = SigningKey.from_label("wr-buyer")
GATEWAY = SigningKey.from_label("wr-gateway")
TRADER = SigningKey.from_label("wr-trader")
ROLES = {
    OPERATOR: "warehouse",
    SUPERVISOR: "supervisor",
    DEPOSITOR: "depositor",
    BANK_A: "bank",
    BANK_B: "bank",
    ORACLE: "oracle",
    INSPECTOR: "inspector",
}
CAST = [*ROLES, BUYER, GATEWAY, TRADER]
FIRMWARE = hashlib.sha256(b"firmware 1.0").digest()
DOC = hashlib.sha256(b"receipt document").digest()
TONNE = 1_000_000  # grams
YUAN = 100  # fen
COPPER = "copper_cathode"
TAGS = tuple(f"EPC-{i:04d}" for i in range(400))  # 400 bundles of 2.5 t


def copper_spec(tonnes: int = 1_000) -> Spec:
    """Copper cathode weighed in: gross = net + 1 t of pallets."""
    net = tonnes * TONNE
    return Spec(COPPER, "JCC", "Cu-CATH-1", 400, net + TONNE, TONNE, net)


class Device:
    """A device's key and counter."""

    def __init__(self, name: str, kind: str, bin_code: str = "A1") -> None:
        self.name, self.kind, self.bin = name, kind, bin_code
        self.key = SigningKey.from_label(f"device-{name}")
        self.counter = 0

    def reading(
        self, grams: int = 0, tags: tuple[str, ...] = (), firmware: bytes = FIRMWARE
    ) -> SignedReading:
        """The device's next signed reading."""
        self.counter += 1
        r = Reading(self.name, self.counter, 1_000 * self.counter, grams, tags, firmware)
        return sign_reading(self.key, r)


class Story:
    """A chain running the warehouse, with every party's roles granted."""

    def __init__(self, balances: dict[SigningKey, int] | None = None) -> None:
        base = {k: 10**12 for k in (BANK_A, BANK_B, BUYER, DEPOSITOR)}
        g = genesis(
            balances=balances or base,
            identities=tuple(
                sorted(
                    (GenesisIdentity(k.address, "organization", 2) for k in CAST),
                    key=lambda i: i.address,
                )
            ),
        )
        g = msgspec.structs.replace(g, apps=("warehouse",))
        self.chain = Chain(g)
        self.chain.ledger = Ledger(g, registry_for(g))
        for key, role in ROLES.items():
            self.chain.decide(GrantRole(key.address, role))
        self.scale = Device("scale-1", "weighbridge")
        self.cell = Device("cell-a1", "load_cell")
        self.reader = Device("rfid-a1", "rfid")
        self.gate = Device("gate-1", "gate")
        self.devices = [self.scale, self.cell, self.reader, self.gate]

    @property
    def ledger(self) -> Ledger:
        return self.chain.ledger

    @property
    def book(self) -> WarehouseBook:
        ns = self.ledger.namespace(NAMESPACE)
        assert isinstance(ns, WarehouseBook)
        return ns

    def wr(self, key: SigningKey, op: AnyOp) -> Transaction:
        """The key's next `wr` transaction."""
        return self.chain.tx(key, KIND_WR, op)

    def run(self, *txs: Transaction) -> list[str]:
        """Execute txs as one height; their outcomes."""
        return outcomes(self.chain.run(*txs))

    def do(self, key: SigningKey, op: AnyOp, *signers: SigningKey) -> list[str]:
        """Open op and have each signer sign it, all in one height."""
        first = self.wr(key, op)
        signs = [self.wr(s, Sign(first.id)) for s in signers]
        return self.run(first, *signs)

    def read(self, *readings: SignedReading) -> list[str]:
        """The gateway relays signed readings in one batch."""
        tx = self.chain.tx(GATEWAY, KIND_READINGS, ReadingsPayload(readings))
        return self.run(tx)

    def set_up(self) -> None:
        """A warehouse with bin A1 (2,000 t), its four devices, and prices of day 100."""
        ok = ["executed", "executed"]
        assert (
            self.do(
                OPERATOR,
                OpenWarehouse("Qingdao No.1", SUPERVISOR.address, (("A1", 2_000 * TONNE),)),
                SUPERVISOR,
            )
            == ok
        )
        for d in self.devices:
            op = RegisterDevice(d.name, d.kind, d.bin, d.key.public_key, 10**6, FIRMWARE)
            assert self.do(OPERATOR, op, SUPERVISOR) == ok
        self.price(8_000_000, 100)

    def price(self, fen_per_tonne: int, day: int) -> list[str]:
        """The oracle posts both sources' price for a day, in one height."""
        return self.run(
            self.wr(ORACLE, PostPrice(COPPER, "settlement", fen_per_tonne, day)),
            self.wr(ORACLE, PostPrice(COPPER, "spot", fen_per_tonne, day)),
        )

    def intake(
        self,
        lot: str = "LOT-1",
        tonnes: int = 1_000,
        tags: tuple[str, ...] = TAGS,
        salt: bytes = b"\x01" * 32,
    ) -> list[str]:
        """Goods cross the weighbridge, land in A1, and are booked as a lot."""
        spec = copper_spec(tonnes)
        self.read(self.scale.reading(spec.gross_g))
        result = self.run(
            self.wr(OPERATOR, Intake(lot, "A1", tags, spec, salt, b"", self.scale.name))
        )
        if result == ["executed"]:
            self.read(self.cell.reading(self.book.bins[(OPERATOR.address, "A1")].book_g))
        return result

    def issue(
        self,
        number: str = "WR-2026-0001",
        lots: tuple[tuple[str, int], ...] = (("LOT-1", 1_000 * TONNE),),
    ) -> list[str]:
        """The operator issues, the supervisor and the depositor sign."""
        return self.do(OPERATOR, Issue(number, DEPOSITOR.address, lots, DOC), SUPERVISOR, DEPOSITOR)
