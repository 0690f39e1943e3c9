"""Validator sets (quorums, proposer rotation, validity) and commit certificates."""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import encode
from govchain.consensus.messages import (
    Certificate,
    Checkpoint,
    VoteKind,
    certificate_error,
    sign_vote,
)
from govchain.consensus.validators import (
    VALIDATORS_COUNT_MAX,
    WEIGHT_MAX,
    Validator,
    ValidatorSet,
)
from govchain.crypto.keys import SigningKey

CHAIN = "test-chain"
P = 2**255 - 19


# -- helpers ---------------------------------------------------------------
def keys(n: int) -> list[SigningKey]:
    """n validator keys, sorted by public key (the order of a set's members)."""
    return sorted(
        (SigningKey.from_label(f"validator-{i}") for i in range(n)), key=lambda k: k.public_key
    )


def equal_set(n: int) -> ValidatorSet:
    return ValidatorSet.of({k.public_key: 1 for k in keys(n)})


def weighted_set(weights: list[int]) -> ValidatorSet:
    return ValidatorSet.of(
        {k.public_key: w for k, w in zip(keys(len(weights)), weights, strict=True)}
    )


def checkpoint(valset: ValidatorSet, height: int = 7, tag: bytes = b"") -> Checkpoint:
    def h(label: bytes) -> bytes:
        return hashlib.sha256(label + tag).digest()

    return Checkpoint(
        chain_id=CHAIN,
        height=height,
        previous=h(b"previous"),
        time_ms=1_000,
        tips=(h(b"tip"),),
        state_hash=h(b"state"),
        receipts_root=h(b"receipts"),
        audit_head=h(b"audit"),
        validator_set_hash=valset.hash,
    )


def precommit(key: SigningKey, cp: Checkpoint, round_: int = 0) -> bytes:
    """key's precommit signature for cp in round_."""
    return sign_vote(key, CHAIN, VoteKind.PRECOMMIT, cp.height, round_, cp.hash).signature


def certificate(
    signers: list[int], cp: Checkpoint, ks: list[SigningKey], round_: int = 0
) -> Certificate:
    """A certificate with the precommits of the members at the given indices, as listed."""
    sigs = tuple((i, precommit(ks[i], cp, round_)) for i in signers)
    return Certificate(cp.height, round_, cp.hash, sigs)


# -- quorums -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "quorum", "skip"), [(1, 1, 1), (3, 3, 2), (4, 3, 2), (7, 5, 3), (10, 7, 4)]
)
def test_equal_weight_thresholds(n: int, quorum: int, skip: int) -> None:
    vs = equal_set(n)
    assert vs.total == n
    assert vs.quorum == quorum
    assert vs.skip == skip


@pytest.mark.parametrize(
    ("weights", "quorum", "skip"),
    [([1, 2, 3, 4], 7, 4), ([5, 1, 1, 1], 6, 3), ([100, 1], 68, 34)],
)
def test_weighted_thresholds(weights: list[int], quorum: int, skip: int) -> None:
    vs = weighted_set(weights)
    assert vs.total == sum(weights)
    assert vs.quorum == quorum
    assert vs.skip == skip
    for k, w in zip(keys(len(weights)), weights, strict=True):
        assert vs.weight_of(k.public_key) == w
    assert vs.weight_of(SigningKey.from_label("outsider").public_key) == 0


@settings(database=None, deadline=None)
@given(st.lists(st.integers(1, WEIGHT_MAX), min_size=1, max_size=12))
def test_thresholds_are_the_smallest_above_two_thirds_and_one_third(weights: list[int]) -> None:
    vs = weighted_set(weights)
    total = vs.total
    assert 3 * vs.quorum > 2 * total >= 3 * (vs.quorum - 1)
    assert 3 * vs.skip > total >= 3 * (vs.skip - 1)
    # Any two quorums overlap in more than a third: at least one honest member.
    assert 2 * vs.quorum - total >= vs.skip


# -- invalid sets --------------------------------------------------------------
def _members(n: int, weight: int = 1) -> list[Validator]:
    return [Validator(k.public_key, weight) for k in keys(n)]


@pytest.mark.parametrize(
    "members",
    [
        [],
        list(reversed(_members(3))),
        [_members(1)[0], _members(1)[0]],
        [Validator(_members(1)[0].public_key, 0)],
        [Validator(_members(1)[0].public_key, -1)],
        [Validator(_members(1)[0].public_key, WEIGHT_MAX + 1)],
        [Validator(b"\x01" + bytes(31), 1)],  # identity point
        [Validator(bytes(32), 1)],  # a point of order 4
        [Validator((P - 1).to_bytes(32, "little"), 1)],  # the point of order 2
        [Validator((P + 3).to_bytes(32, "little"), 1)],  # non-canonical y
        [Validator(_members(1)[0].public_key[:31], 1)],  # short key
    ],
    ids=[
        "empty",
        "unsorted",
        "duplicate",
        "zero-weight",
        "negative-weight",
        "heavy",
        "identity-key",
        "order4-key",
        "order2-key",
        "noncanonical-key",
        "short-key",
    ],
)
def test_invalid_sets_raise(members: list[Validator]) -> None:
    with pytest.raises(ValueError):
        ValidatorSet(tuple(members))
    # The same set arriving as bytes is refused by the decoder as well.
    raw = encode([[[m.public_key, m.weight] for m in members]])
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(raw, type=ValidatorSet)


def test_too_many_members_raise() -> None:
    too_many = {
        SigningKey.from_label(f"v{i}").public_key: 1 for i in range(VALIDATORS_COUNT_MAX + 1)
    }
    with pytest.raises(ValueError):
        ValidatorSet.of(too_many)


def test_set_hash_depends_on_members_and_weights() -> None:
    assert equal_set(4).hash == equal_set(4).hash
    assert equal_set(4).hash != equal_set(5).hash
    assert equal_set(2).hash != weighted_set([1, 2]).hash


# -- proposer rotation -----------------------------------------------------------
@pytest.mark.parametrize("n", [1, 4, 7, 10])
@pytest.mark.parametrize("height", [1, 2, 1_000])
def test_proposer_rotates_through_every_member(n: int, height: int) -> None:
    vs = equal_set(n)
    proposers = [vs.proposer(height, r) for r in range(n)]
    assert sorted(proposers) == sorted(m.public_key for m in vs.members)
    # ...and then starts over.
    assert [vs.proposer(height, r) for r in range(n, 2 * n)] == proposers


def test_weighted_proposer_gets_rounds_in_proportion_to_weight() -> None:
    weights = [1, 2, 3, 4]
    vs = weighted_set(weights)
    counts: dict[bytes, int] = {}
    for r in range(vs.total * 3):
        p = vs.proposer(5, r)
        counts[p] = counts.get(p, 0) + 1
    assert counts == {k.public_key: 3 * w for k, w in zip(keys(4), weights, strict=True)}


# -- certificates ----------------------------------------------------------------
def test_certificate_of_three_of_four_is_accepted() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    assert certificate_error(certificate([0, 1, 2], cp, ks), cp, vs) is None
    assert certificate_error(certificate([1, 2, 3], cp, ks), cp, vs) is None
    assert certificate_error(certificate([0, 1, 2, 3], cp, ks), cp, vs) is None
    assert certificate_error(certificate([0, 2, 3], cp, ks, round_=4), cp, vs) is None


def test_certificate_with_duplicate_signer_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    err = certificate_error(certificate([0, 1, 1], cp, ks), cp, vs)
    assert err is not None and "distinct" in err
    err = certificate_error(certificate([0, 0, 1, 2], cp, ks), cp, vs)
    assert err is not None and "distinct" in err


def test_certificate_with_unsorted_signers_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    err = certificate_error(certificate([1, 0, 2], cp, ks), cp, vs)
    assert err is not None and "ascending" in err


def test_certificate_with_a_signer_outside_the_set_is_rejected() -> None:
    vs, ks = equal_set(4), [*keys(4), SigningKey.from_label("outsider")]
    cp = checkpoint(vs)
    err = certificate_error(certificate([0, 1, 4], cp, ks), cp, vs)
    assert err is not None and "outside" in err


def test_certificate_with_a_bad_signature_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    good = certificate([0, 1, 2], cp, ks)
    idx, sig = good.signatures[1]
    flipped = sig[:5] + bytes([sig[5] ^ 1]) + sig[6:]
    tampered = msgspec.structs.replace(
        good, signatures=(good.signatures[0], (idx, flipped), good.signatures[2])
    )
    err = certificate_error(tampered, cp, vs)
    assert err is not None and "bad signature from member 1" in err


def test_certificate_signed_by_the_wrong_member_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    sigs = ((0, precommit(ks[0], cp)), (1, precommit(ks[3], cp)), (2, precommit(ks[2], cp)))
    assert certificate_error(Certificate(cp.height, 0, cp.hash, sigs), cp, vs) is not None


def test_prevotes_or_another_round_do_not_make_a_certificate() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    prevotes = tuple(
        (i, sign_vote(ks[i], CHAIN, VoteKind.PREVOTE, cp.height, 0, cp.hash).signature)
        for i in range(3)
    )
    assert certificate_error(Certificate(cp.height, 0, cp.hash, prevotes), cp, vs) is not None
    round0 = certificate([0, 1, 2], cp, ks, round_=0)
    as_round1 = msgspec.structs.replace(round0, round=1)
    assert certificate_error(as_round1, cp, vs) is not None


def test_certificate_with_too_little_weight_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    for signers in ([], [0], [2, 3]):
        err = certificate_error(certificate(signers, cp, ks), cp, vs)
        assert err is not None and "below the quorum" in err


def test_certificate_counts_weight_not_heads() -> None:
    vs, ks = weighted_set([5, 1, 1, 1]), keys(4)  # quorum 6
    cp = checkpoint(vs)
    assert certificate_error(certificate([0, 1], cp, ks), cp, vs) is None
    assert certificate_error(certificate([1, 2, 3], cp, ks), cp, vs) is not None


def test_certificate_for_another_checkpoint_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    other = checkpoint(vs, tag=b"other")
    assert certificate_error(certificate([0, 1, 2], other, ks), cp, vs) is not None
    higher = checkpoint(vs, height=8)
    assert certificate_error(certificate([0, 1, 2], higher, ks), cp, vs) is not None
    # The right value under the wrong height is refused too.
    cert = certificate([0, 1, 2], cp, ks)
    assert certificate_error(msgspec.structs.replace(cert, height=8), cp, vs) is not None


def test_certificate_under_another_validator_set_is_rejected() -> None:
    vs, ks = equal_set(4), keys(4)
    cp = checkpoint(vs)
    cert = certificate([0, 1, 2], cp, ks)
    bigger = equal_set(5)
    err = certificate_error(cert, cp, bigger)
    assert err is not None and "validator set" in err
