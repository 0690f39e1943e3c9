"""Payload formats of the kinds that execution understands."""

from __future__ import annotations

import msgspec

from govchain.consensus.validators import ValidatorSet


class TransferPayload(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Move amount from the sender's account to `to` (a 20-byte address)."""

    to: bytes
    amount: int


TRANSFER_DECODER = msgspec.msgpack.Decoder(TransferPayload)
VALSET_DECODER = msgspec.msgpack.Decoder(ValidatorSet)
