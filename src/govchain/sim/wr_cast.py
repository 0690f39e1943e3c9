"""The warehouse's cast: its parties and devices, what genesis gives them, the plant.

Issue 14 (docs/warehouse.md). The cast (an operator, its supervisor, two
depositors, two banks, an oracle, an inspector, a gateway that relays device
readings, a buyer) is identified at genesis; the committee grants the roles by
proposal and vote, like any grant-role (wr_workload.py). The simulator's own
planted bug (WR_PLANTS) lives here too: `planted` swaps the pledge transition
for one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from govchain.apps.warehouse import financing
from govchain.apps.warehouse import kind as wr_kind
from govchain.apps.warehouse.env import (
    ROLE_BANK,
    ROLE_DEPOSITOR,
    ROLE_INSPECTOR,
    ROLE_ORACLE,
    ROLE_SUPERVISOR,
    ROLE_WAREHOUSE,
    Env,
)
from govchain.apps.warehouse.ops import (
    Pledge,
)
from govchain.apps.warehouse.readings import DeviceKind
from govchain.crypto.keys import SigningKey
from govchain.sim.workload import Client
from govchain.state.genesis import GenesisIdentity

DOUBLE_PLEDGE = "double-pledge"
WR_PLANTS = frozenset({DOUBLE_PLEDGE})  # the simulator's own planted bugs (not the node's)

CAST_BALANCE_FEN = 10**12  # funded members: ten billion yuan each
IDENTITY_TIER = 2  # holders must be identified; tier 2 sends 64 KiB payloads

# name -> the role the committee grants it (None: identified only).
CAST: tuple[tuple[str, str | None], ...] = (
    ("operator", ROLE_WAREHOUSE),
    ("supervisor", ROLE_SUPERVISOR),
    ("depositor-0", ROLE_DEPOSITOR),
    ("depositor-1", ROLE_DEPOSITOR),
    ("bank-a", ROLE_BANK),
    ("bank-b", ROLE_BANK),
    ("oracle", ROLE_ORACLE),
    ("inspector", ROLE_INSPECTOR),
    ("gateway", None),
    ("buyer", None),
)
FUNDED = ("depositor-0", "depositor-1", "bank-a", "bank-b", "buyer")
# (device, kind, bin): the weighbridge and gate serve the warehouse, readers and cells a bin.
DEVICES = (
    ("scale-1", DeviceKind.WEIGHBRIDGE, "A1"),
    ("gate-1", DeviceKind.GATE, "A1"),
    ("rfid-A1", DeviceKind.RFID, "A1"),
    ("cell-A1", DeviceKind.LOAD_CELL, "A1"),
    ("cell-A2", DeviceKind.LOAD_CELL, "A2"),
)
# At most one of these per burst: a double pledge must meet its receipt still pledged.


class Cast:
    """The warehouse's parties, each a client of the simulation with its own key."""

    def __init__(self) -> None:
        self.by_name = {n: Client(SigningKey.from_label(f"sim-wr-{n}")) for n, _ in CAST}
        self.operator, self.supervisor = self.by_name["operator"], self.by_name["supervisor"]
        self.depositors = (self.by_name["depositor-0"], self.by_name["depositor-1"])
        self.banks = (self.by_name["bank-a"], self.by_name["bank-b"])
        self.oracle, self.inspector = self.by_name["oracle"], self.by_name["inspector"]
        self.gateway, self.buyer = self.by_name["gateway"], self.by_name["buyer"]
        self._by_address = {c.key.address: c for c in self.by_name.values()}

    def balances(self) -> list[tuple[bytes, int]]:
        """Genesis balances of the funded members."""
        return [(self.by_name[n].key.address, CAST_BALANCE_FEN) for n in FUNDED]

    def identities(self) -> list[GenesisIdentity]:
        """Genesis identities of the whole cast."""
        return [
            GenesisIdentity(c.key.address, "organization", IDENTITY_TIER)
            for c in self.by_name.values()
        ]

    def roles(self) -> list[tuple[Client, str]]:
        """Who must hold which role."""
        return [(self.by_name[n], role) for n, role in CAST if role is not None]

    def of(self, address: bytes) -> Client | None:
        """The member with that address, if any."""
        return self._by_address.get(address)


@dataclass(slots=True)
class Device:
    """A device's key and its reading counter."""

    name: str
    kind: str
    bin: str
    key: SigningKey
    counter: int = 0


# -- the planted bug ----------------------------------------------------------------------
@contextmanager
def planted(plant: str | None) -> Iterator[None]:
    """For one run, with plant "double-pledge", pledges look past existing pledges.

    The chain's code stays as it is: the pledge transition is swapped in kind.py's
    table for one that hides each receipt's pledge while the real one checks it,
    and put back when the run ends.
    """
    if plant != DOUBLE_PLEDGE:
        yield
        return
    original = wr_kind.TRANSITIONS[Pledge]
    wr_kind.TRANSITIONS[Pledge] = wr_kind.Transition(original.parties, _pledge_past_pledges)
    try:
        yield
    finally:
        wr_kind.TRANSITIONS[Pledge] = original


def _pledge_past_pledges(env: Env, op: Pledge) -> None:
    """financing.pledge, blind to the receipts' pledges: the planted double pledge."""
    hidden = [
        (r, r.encumbrance, r.controller)
        for n in op.numbers
        if (r := env.book.receipts.get(n)) is not None
    ]
    for r, _, _ in hidden:
        r.encumbrance, r.controller = "", r.holder
    try:
        financing.pledge(env, op)
    finally:
        for r, encumbrance, controller in hidden:
            if not r.encumbrance:  # not taken by this pledge: as it was
                r.encumbrance, r.controller = encumbrance, controller
