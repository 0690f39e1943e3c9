"""dag.tx.build's stamp search from a fixed prefix gives the plain search's bytes; chains."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import (
    SIGN_DOMAIN,
    Transaction,
    TxBody,
    build,
    decode_body,
    payload_hash,
    stamp_ok,
    tx_id,
)
from govchain.node.soak_build import SenderChain
from govchain.state.payloads import TransferPayload

ALICE = SigningKey.from_label("alice")
BOB = SigningKey.from_label("bob")


def _plain_build(key: SigningKey, **args: Any) -> Transaction:
    """The stamp found the plain way: every candidate body encoded whole and hashed."""
    parents = tuple(sorted(set(args["parents"])))
    payload = args["payload"]
    stamp = 0
    while True:
        body = TxBody(
            args["chain_id"],
            key.public_key,
            args["kind"],
            args["nonce"],
            parents,
            args["valid_until"],
            payload_hash(payload),
            len(payload),
            stamp,
        )
        body_bytes = encode(body)
        if stamp_ok(body_bytes, args["stamp_bits_min"]):
            break
        stamp += 1
    signature = key.sign(SIGN_DOMAIN + body_bytes)
    return Transaction(tx_id(body_bytes, signature), body, body_bytes, signature, payload)


@pytest.mark.parametrize("bits", [0, 1, 8, 10])  # 0: no stamp asked
def test_build_gives_the_very_bytes_of_the_plain_stamp_search(bits: int) -> None:
    rng = random.Random(bits)
    for n in range(40 if bits <= 8 else 5):
        args: dict[str, Any] = {
            "chain_id": f"chain-{n}",
            "kind": "transfer" if n % 2 else "record",
            "nonce": rng.choice([0, 1, 127, 128, 255, 256, 65_535, 65_536, 2**40]),
            "parents": [rng.randbytes(32) for _ in range(1 + n % 3)],
            "valid_until": rng.randrange(0, 2**33),
            "payload": rng.randbytes(rng.randrange(0, 300)),
            "stamp_bits_min": bits,
        }
        slow, fast = _plain_build(ALICE, **args), build(ALICE, **args)
        assert fast == slow
        assert fast.to_wire() == slow.to_wire()
        assert decode_body(fast.body_bytes) == fast.body
        assert stamp_ok(fast.body_bytes, args["stamp_bits_min"])


def test_a_sender_chain_names_each_transaction_s_predecessor_and_stays_ahead() -> None:
    heights = iter(range(100, 200))
    payload = encode(TransferPayload(BOB.address, 1))
    chain = SenderChain(
        ALICE,
        "soak",
        b"\x00" * 32,
        lambda _nonce: ("transfer", payload),
        lambda: next(heights),
        8,
        ahead=3,
    )
    assert len(chain.built) == 3  # built before anything is taken
    taken = [chain.take() for _ in range(5)]
    assert [t.body.nonce for t in taken] == [0, 1, 2, 3, 4]
    assert taken[0].body.parents == (b"\x00" * 32,)
    for before, after in itertools.pairwise(taken):
        assert after.body.parents == (before.id,)
    assert [t.body.valid_until for t in taken] == [100, 101, 102, 103, 104]
    assert len(chain.built) == 3 and chain.nonce == 8
