"""Warehouse-receipt pledge financing (issue 14): pure cores for valuation and goods commitments.

Nothing here is registered with the chain's registry yet: these modules do integer
arithmetic and canonical hashing only (no I/O, no clock, no floats).
"""
