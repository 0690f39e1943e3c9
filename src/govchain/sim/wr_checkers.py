"""Warehouse invariants, checked on each honest replica's book after every height it executes.

docs/warehouse.md lists what every validator enforces; these checkers watch the
result from outside, the way sim/checkers.py watches consensus. The book only
changes when a height executes, so checking after each step that executed one
is checking after every step. Each finding is a violation with the seed to replay.

- wr_stock: a lot's live receipts cover what the lot counts as receipted, and no
  more than its quantity (goods never in two receipts beyond their quantity);
- wr_bin: a bin's live lots are the ones it lists, their quantities sum to its
  book, and the book stays within capacity;
- wr_goods: physical claims, against what the workload knows (`Physics`): the
  book of each bin weighs what the workload brought in and let out; no pledged
  receipt's goods have left (weighed out at the gate under its withdrawal
  order); and a bin is not green while its load cell last read short (a drift
  the workload made, of goods that have not moved since) and no withdrawal is
  under way;
- wr_index: one live lot per commitment, every live tag maps to the one live lot
  that carries it;
- wr_double_pledge: at most one live pledge per receipt; a receipt's encumbrance
  names a live pledge that lists it, and a pledge lists only valid receipts
  encumbered by it;
- wr_control: while pledged, the bank controls and the borrower holds; the
  holder never changes while a receipt is encumbered (its versions);
- wr_ltv: a pledge that is new, or holds less than a height before (an
  adjustment), is within the initial LTV at some price the height could have used;
- wr_money: a bank's balance is its genesis balance less what its pledges still
  have outstanding (loans paid out, repayments and proceeds paid in);
- wr_book: every honest replica's book is the same at the same height.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.financing import ACTIVE, ENFORCEABLE
from govchain.apps.warehouse.params import valuation_params
from govchain.apps.warehouse.records import PledgeRec, PriceRec, Receipt, ReceiptStatus
from govchain.apps.warehouse.units import BP_PER_ONE
from govchain.apps.warehouse.valuation import (
    Price,
    PriceUsed,
    Source,
    ValuationParams,
    eligible_value,
    ltv_bp,
    price_used,
)
from govchain.codec import digest, encode
from govchain.state.ledger import Ledger

PROBLEMS_PER_CHECK_MAX = 5  # a broken book shows its first few problems, not hundreds
BOOK_DOMAIN = b"govchain/sim-wr-book/v1"
LIVE_PLEDGE = (ACTIVE, ENFORCEABLE)
_VALID = ReceiptStatus.VALID.value

Problem = tuple[str, str]  # (invariant, detail)
Prices = Mapping[tuple[str, str], PriceRec]
Fail = Callable[[str, str], None]  # where a violation goes (Checkers.fail)


class Physics(Protocol):
    """What the workload knows that the chain only learns through its sensors."""

    def booked_g(self, warehouse: bytes, bin_code: str, height: int) -> int | None:
        """Grams the bin's book should hold at height, by the intakes and withdrawals the
        workload made (None: not a bin of the workload's)."""
        ...

    def departed(self, height: int) -> list[str]:
        """Receipts whose goods the workload weighed out at the gate (under an open
        withdrawal order) by height: they left, whatever the chain made of the order."""
        ...

    def understated_g(self, device: str, counter: int) -> int | None:
        """When that reading was a drift the workload made, the bin's grams it read short of."""
        ...


def price_now(prices: Prices, commodity: str, params: ValuationParams) -> PriceUsed:
    """The price a transition would use with these prices (financing.current_price's rule)."""
    found = [prices.get((commodity, s.value)) for s in Source]
    day = max((p.day for p in found if p is not None), default=0)
    settlement, spot = (
        Price(Source(p.source), p.commodity, p.fen_per_tonne, p.day) if p is not None else None
        for p in found
    )
    return price_used(settlement, spot, day, params)


def ltv_at(prices: Prices, p: PledgeRec, params: ValuationParams) -> int | None:
    """The pledge's LTV (bp) at these prices, as financing.ltv_now computes it (None: unpriced)."""
    used = price_now(prices, p.commodity, params)
    if used.fen_per_tonne is None:
        return None
    haircut = min(BP_PER_ONE, p.haircut_bp + used.extra_haircut_bp)
    return ltv_bp(p.outstanding_fen, eligible_value(p.quantity_g, used.fen_per_tonne, haircut))


# -- the invariants, each over one book ------------------------------------------------
def stock_problems(book: WarehouseBook) -> Iterator[Problem]:
    """wr_stock: live receipts against each lot's receipted grams and quantity."""
    covered: dict[str, int] = {}
    for r in book.receipts.values():
        if r.status == _VALID:
            for lot_id, grams in r.lots:
                covered[lot_id] = covered.get(lot_id, 0) + grams
    for lot_id, grams in covered.items():
        lot = book.lots.get(lot_id)
        if lot is None:
            yield "wr_stock", f"live receipts cover {grams} g of unknown lot {lot_id}"
        elif grams != lot.receipted_g:
            yield (
                "wr_stock",
                f"lot {lot_id}: receipts cover {grams} g, it counts {lot.receipted_g} g",
            )
        elif grams > lot.quantity_g:
            yield "wr_stock", f"lot {lot_id}: receipts cover {grams} g of its {lot.quantity_g} g"
    for lot in book.lots.values():
        if lot.receipted_g and lot.id not in covered:
            yield "wr_stock", f"lot {lot.id} counts {lot.receipted_g} g receipted, no live receipt"


def bin_problems(book: WarehouseBook) -> Iterator[Problem]:
    """wr_bin: each bin's live lots, their sum against its book, the book against capacity."""
    live: dict[tuple[bytes, str], list[str]] = {}
    grams: dict[tuple[bytes, str], int] = {}
    for lot in book.lots.values():
        if lot.live:
            key = (lot.warehouse, lot.bin)
            live.setdefault(key, []).append(lot.id)
            grams[key] = grams.get(key, 0) + lot.quantity_g
    for key, ids in live.items():
        if key not in book.bins:
            yield "wr_bin", f"live lots {sorted(ids)} lie in unknown bin {key[1]}"
    for key, b in book.bins.items():
        ids = sorted(live.get(key, []))
        if sorted(b.lots) != ids:
            yield "wr_bin", f"bin {b.code} lists {sorted(b.lots)}, its live lots are {ids}"
        if grams.get(key, 0) != b.book_g:
            yield (
                "wr_bin",
                f"bin {b.code} books {b.book_g} g, its live lots weigh {grams.get(key, 0)} g",
            )
        if b.book_g > b.capacity_g:
            yield "wr_bin", f"bin {b.code} books {b.book_g} g over its capacity {b.capacity_g} g"


def goods_problems(book: WarehouseBook, ledger: Ledger, physics: Physics) -> Iterator[Problem]:
    """wr_goods: the book against the goods the workload moved, pledges against the goods
    that left, and a green bin against a load cell that reads short."""
    height, params = ledger.height, ledger.stores.params
    gone = departed_receipts(book, physics.departed(height))
    for r in gone:
        # Goods leave only under their receipt's own withdrawal order, which a pledged
        # receipt cannot get: a pledge took them while they were going.
        if r.encumbrance:
            yield "wr_goods", f"receipt {r.number} is pledged, its goods left at the gate"
    left = grams_by_bin(book, gone)
    for b in book.bins.values():
        booked = physics.booked_g(b.warehouse, b.code, height)
        if booked is None:
            continue
        if booked != b.book_g:
            yield "wr_goods", f"bin {b.code} books {b.book_g} g; the goods moved say {booked} g"
        c = book.consistency(b, height, params)
        if not c.green:
            continue  # a short reading the chain noticed
        present = booked - left.get((b.warehouse, b.code), 0)
        short = [
            d
            for d in b.devices
            if book.devices[d].latest is not None
            and physics.understated_g(d, book.devices[d].counter) == present
        ]
        if short and c.outgoing_g == 0:
            yield "wr_goods", f"bin {b.code} is green though {short[0]} last reported short"


def departed_receipts(book: WarehouseBook, numbers: Iterable[str]) -> list[Receipt]:
    """The valid receipts for goods that left: those weighed out, or a split or merge of them."""
    todo, seen, out = sorted(numbers), set(), []
    while todo:
        n = todo.pop()
        r = book.receipts.get(n)
        if n in seen or r is None:
            continue
        seen.add(n)
        if r.status == _VALID:
            out.append(r)
        todo.extend(r.children)
    return sorted(out, key=lambda r: r.number)


def grams_by_bin(book: WarehouseBook, receipts: Iterable[Receipt]) -> dict[tuple[bytes, str], int]:
    """Grams of the receipts' goods per bin."""
    out: dict[tuple[bytes, str], int] = {}
    for r in receipts:
        for lot_id, grams in r.lots:
            lot = book.lots.get(lot_id)
            if lot is not None:
                key = (lot.warehouse, lot.bin)
                out[key] = out.get(key, 0) + grams
    return out


def index_problems(book: WarehouseBook) -> Iterator[Problem]:
    """wr_index: live commitments and tags against the live lots."""
    for commitment, lot_id in book.live_commitments.items():
        lot = book.lots.get(lot_id)
        if lot is None or not lot.live or lot.commitment != commitment:
            yield (
                "wr_index",
                f"commitment {commitment.hex()[:16]} maps to {lot_id}, not its live lot",
            )
    for tag, lot_id in book.live_tags.items():
        lot = book.lots.get(lot_id)
        if lot is None or not lot.live or tag not in lot.tags:
            yield "wr_index", f"tag {tag} maps to {lot_id}, not a live lot carrying it"
    for lot in book.lots.values():
        if not lot.live:
            continue
        if book.live_commitments.get(lot.commitment) != lot.id:
            yield "wr_index", f"live lot {lot.id}'s commitment maps elsewhere"
        for tag in lot.tags:
            if book.live_tags.get(tag) != lot.id:
                yield "wr_index", f"live lot {lot.id}'s tag {tag} maps to {book.live_tags.get(tag)}"


def pledge_problems(book: WarehouseBook) -> Iterator[Problem]:
    """wr_double_pledge: one live pledge per receipt, and encumbrances that agree with it."""
    listed: dict[str, list[str]] = {}
    for p in book.pledges.values():
        if p.status in LIVE_PLEDGE:
            for n in p.receipts:
                listed.setdefault(n, []).append(p.id)
    for n, pledges in listed.items():
        r = book.receipts.get(n)
        if len(pledges) > 1:
            banks = sorted({book.pledges[p].bank.hex()[:8] for p in pledges})
            yield (
                "wr_double_pledge",
                f"receipt {n} is in {len(pledges)} live pledges {pledges} (banks {banks})",
            )
        elif r is None or r.status != _VALID or r.encumbrance != pledges[0]:
            yield (
                "wr_double_pledge",
                f"pledge {pledges[0][:16]} lists {n}, not a valid receipt it encumbers",
            )
    for r in book.receipts.values():
        if r.status == _VALID and r.encumbrance and r.encumbrance not in listed.get(r.number, []):
            yield (
                "wr_double_pledge",
                f"receipt {r.number} names pledge {r.encumbrance[:16]}, which does not list it",
            )


def control_problems(book: WarehouseBook) -> Iterator[Problem]:
    """wr_control: who controls and holds a pledged receipt, now and through its versions."""
    for r in book.receipts.values():
        if r.status == _VALID:
            p = book.pledges.get(r.encumbrance) if r.encumbrance else None
            if p is not None and (r.controller, r.holder) != (p.bank, p.borrower):
                yield "wr_control", f"pledged receipt {r.number} is not controlled by its bank"
            if not r.encumbrance and r.controller != r.holder:
                yield (
                    "wr_control",
                    f"unpledged receipt {r.number} is controlled by another than its holder",
                )
        for a, b in pairwise(r.versions):
            # Pledged (the bank controls): only an enforcement sale changes the holder.
            if a.controller != a.holder and b.transition != "enforce" and b.holder != a.holder:
                why = f"{b.transition}, version {b.version}"
                yield "wr_control", f"receipt {r.number}'s holder changed while pledged ({why})"


def money_problems(
    book: WarehouseBook, ledger: Ledger, banks: Mapping[bytes, int]
) -> Iterator[Problem]:
    """wr_money: each bank's balance against its genesis balance and what is outstanding."""
    owed = dict.fromkeys(banks, 0)
    for p in book.pledges.values():
        if p.bank in owed:
            owed[p.bank] += p.outstanding_fen
    for bank, start in banks.items():
        have, due = ledger.balance(bank), start - owed[bank]
        if have != due:
            yield "wr_money", f"bank {bank.hex()[:8]} holds {have} fen, not genesis less owed {due}"


def book_digest(book: WarehouseBook) -> bytes:
    """A digest of everything the book holds, independent of insertion order."""
    tables = (
        book.warehouses, book.bins, book.devices, book.lots, book.receipts, book.pledges,
        book.marks, book.prices, book.marked, book.offers, book.live_commitments, book.live_tags,
    )  # fmt: skip
    rows = [sorted((encode(k), encode(v)) for k, v in t.items()) for t in tables]
    return digest(BOOK_DOMAIN, encode([rows, book.alarm_seq]))


@dataclass(frozen=True, slots=True)
class _Seen:
    """One node's book as a height left it: prices and live pledges' quantities."""

    height: int
    prices: dict[tuple[str, str], PriceRec]
    quantities: dict[str, int]


class WrCheckers:
    """The warehouse invariants over every honest node's book, as it executes heights."""

    def __init__(self, fail: Fail, physics: Physics, banks: Mapping[bytes, int]) -> None:
        self._fail = fail
        self._physics = physics
        self._banks = dict(banks)  # bank address -> genesis balance
        self._digests: dict[int, bytes] = {}
        self._seen: dict[str, _Seen] = {}

    def on_executed(self, node: str, ledger: Ledger) -> None:
        """Check node's book after the heights it just executed."""
        book = ledger.namespace(NAMESPACE)
        if not isinstance(book, WarehouseBook):
            return
        height = ledger.height
        problems: list[Problem] = []
        for found in (
            stock_problems(book),
            bin_problems(book),
            goods_problems(book, ledger, self._physics),
            index_problems(book),
            pledge_problems(book),
            control_problems(book),
            money_problems(book, ledger, self._banks),
            self._ltv_problems(node, ledger, book),
        ):
            problems.extend(found)
        for invariant, detail in problems[:PROBLEMS_PER_CHECK_MAX]:
            self._fail(invariant, f"{node} at height {height}: {detail}")
        d = book_digest(book)
        if self._digests.setdefault(height, d) != d:
            self._fail(
                "wr_book", f"{node}'s warehouse book at height {height} differs from another's"
            )

    def _ltv_problems(self, node: str, ledger: Ledger, book: WarehouseBook) -> Iterator[Problem]:
        """wr_ltv, over one height: the prices before it, after it, and either mix."""
        live = [p for p in book.pledges.values() if p.status in LIVE_PLEDGE]
        now = _Seen(ledger.height, dict(book.prices), {p.id: p.quantity_g for p in live})
        before, self._seen[node] = self._seen.get(node), now
        if before is None or before.height != now.height - 1:
            return  # several heights at once (catching up): others saw each of them
        states = _price_states(before.prices, now.prices)
        params = valuation_params(ledger.stores.params)
        for p in live:
            was = before.quantities.get(p.id)
            if was is not None and p.quantity_g >= was:
                continue  # neither new nor reduced
            ltvs = [ltv_at(prices, p, params) for prices in states]
            if not any(ltv is not None and ltv <= p.initial_ltv_bp for ltv in ltvs):
                what = "new" if was is None else f"reduced from {was} g to {p.quantity_g} g"
                yield (
                    "wr_ltv",
                    f"pledge {p.id[:16]} ({what}) stands at LTV {ltvs} bp over {p.initial_ltv_bp}",
                )


def _price_states(before: Prices, after: Prices) -> list[Prices]:
    """Every price table a transition in the height could have seen: each source's price
    as before the height or as after it (a newer price may come before or after it)."""
    states: list[dict[tuple[str, str], PriceRec]] = [{}]
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        options = [old] if new is old else [old, new]
        states = [{**s, key: o} if o is not None else s for s in states for o in options]
    return list(states)
