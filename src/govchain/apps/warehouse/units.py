"""The units of warehouse receipts: fen, grams, fen per tonne, basis points; exact conversions.

Every amount is an int in its smallest unit, so every validator computes the same
figures bit for bit (no floats anywhere in the chain's arithmetic):

- money in fen (1 yuan = 100 fen), the unit banks settle RMB in;
- quantities in grams. Weighbridges report kilograms, and 1 kg = 1,000 g converts
  exactly; load-cell trays and small pieces read finer than a kilogram; a cure's
  least extra quantity (e.g. 142,857,143 g) is exact to the gram, where kilograms
  would round it up by up to 999 g. A 1,000 t lot is 10**9 g, exact and far
  below any limit;
- prices in fen per tonne, the way exchanges quote base metals (yuan per tonne)
  with two more digits: a settlement of 80,000.00 yuan/t is 8,000,000 fen/t;
- rates (haircut, LTV, bands, divergence) in basis points: 1% = 100 bp.
"""

from __future__ import annotations

FEN_PER_YUAN = 100
G_PER_KG = 1_000
G_PER_TONNE = 1_000_000
BP_PER_ONE = 10_000  # 100% in basis points
BP_PER_PERCENT = 100

# Limits that keep every product below codec.INT_MAX (2**63 - 1), so a figure the
# chain stores always fits a msgpack int: quantity x price / G_PER_TONNE is at most
# 10**12 g x 10**11 fen/t / 10**6 = 10**17 fen.
QUANTITY_G_MAX = 10**12  # one million tonnes: more than any warehouse holds
PRICE_FEN_PER_TONNE_MAX = 10**11  # one billion yuan a tonne: above gold's price
LOAN_FEN_MAX = 10**17  # one quadrillion yuan: the largest value collateral can reach


def yuan_to_fen(yuan: int) -> int:
    """Whole yuan to fen (exact)."""
    return yuan * FEN_PER_YUAN


def kg_to_g(kg: int) -> int:
    """A weighbridge's kilograms to grams (exact)."""
    return kg * G_PER_KG


def tonnes_to_g(tonnes: int) -> int:
    """Whole tonnes to grams (exact)."""
    return tonnes * G_PER_TONNE


def percent_to_bp(percent: int) -> int:
    """Whole percent to basis points (exact)."""
    return percent * BP_PER_PERCENT


def value_fen_floor(quantity_g: int, fen_per_tonne: int) -> int:
    """Quantity x price in fen, rounded down (a fraction of a fen is never counted)."""
    return quantity_g * fen_per_tonne // G_PER_TONNE
