"""Identities, freezes, issuers, tiers and roles, as users see them."""

from __future__ import annotations

from govchain.crypto.keys import SigningKey
from govchain.state.genesis import GenesisIdentity
from govchain.state.identities import ROLES_PER_ADDRESS_MAX
from govchain.state.payloads import (
    FreezeIdentity,
    GrantRole,
    IdentitySetPayload,
    RevokeRole,
    SetParam,
    SetPermission,
    UnfreezeIdentity,
)
from ledgerkit import ALICE, BOB, CAROL, R0, VALIDATORS, Chain, genesis, outcomes

ATTRS = bytes(range(32))


def person(who: bytes, tier: int = 1, status: str = "active") -> IdentitySetPayload:
    return IdentitySetPayload(who, "person", tier, ATTRS, status)


def with_issuer(issuer: SigningKey = BOB) -> Chain:
    chain = Chain()
    chain.decide(GrantRole(issuer.address, "issuer"))
    return chain


# -- genesis --------------------------------------------------------------------
def test_genesis_identities_exist_from_height_zero() -> None:
    ids = (GenesisIdentity(VALIDATORS[0].address, "validator", 3),)
    chain = Chain(genesis(identities=ids))
    got = chain.ledger.identity(VALIDATORS[0].address)
    assert got is not None
    assert (got.kind, got.tier, got.status, got.issuer) == ("validator", 3, "active", b"")
    assert chain.ledger.identity(ALICE.address) is None  # unidentified: tier 0


# -- freezes ----------------------------------------------------------------------
def test_a_frozen_senders_transactions_are_rejected_naming_the_decision() -> None:
    chain = Chain()
    p = chain.decide(FreezeIdentity(ALICE.address))
    result = chain.run(chain.transfer(ALICE, BOB, 10), chain.record(ALICE, b"hello"))
    assert outcomes(result) == ["frozen", "frozen"]
    assert {r.governance_ref for r in result.receipts} == {p.id}
    assert [e.kind for e in result.audit] == ["rejection_by_decision"] * 2
    assert chain.ledger.balance(ALICE.address) == 100
    view = chain.ledger.identity(ALICE.address)
    assert view is not None and (view.status, view.frozen_by, view.kind) == ("frozen", p.id, None)


def test_a_frozen_address_still_receives_and_unfreezing_restores_it() -> None:
    chain = Chain()
    chain.decide(FreezeIdentity(ALICE.address))
    assert outcomes(chain.run(chain.transfer(BOB, ALICE, 10))) == ["executed"]
    assert chain.ledger.balance(ALICE.address) == 110
    chain.decide(UnfreezeIdentity(ALICE.address))
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 10))) == ["executed"]


def test_freezing_twice_or_unfreezing_the_unfrozen_is_a_no_op_with_a_reason() -> None:
    chain = Chain()
    first = chain.decide(FreezeIdentity(ALICE.address))
    again = chain.decide(FreezeIdentity(ALICE.address))
    assert again.outcome == f"freeze-identity: no-op: already frozen by proposal {first.id}"
    nothing = chain.decide(UnfreezeIdentity(BOB.address))
    assert nothing.outcome == "unfreeze-identity: no-op: the address is not frozen"


# -- issuers ----------------------------------------------------------------------
def test_an_issuer_registers_an_identity_and_the_audit_log_says_so() -> None:
    chain = with_issuer()
    result = chain.run(chain.tx(BOB, "identity.set", person(CAROL.address, tier=2)))
    assert outcomes(result) == ["executed"]
    got = chain.ledger.identity(CAROL.address)
    assert got is not None
    assert (got.kind, got.tier, got.issuer, got.attrs_hash) == ("person", 2, BOB.address, ATTRS)
    assert [(e.kind, e.actor, e.evidence) for e in result.audit] == [
        ("identity", BOB.address, ATTRS)
    ]


def test_only_issuers_register_and_only_what_they_issued() -> None:
    chain = with_issuer()
    chain.decide(GrantRole(ALICE.address, "issuer"))
    result = chain.run(
        chain.tx(CAROL, "identity.set", person(CAROL.address)),  # not an issuer
        chain.tx(BOB, "identity.set", person(CAROL.address)),
        chain.tx(ALICE, "identity.set", person(CAROL.address, tier=3)),  # not its identity
    )
    assert outcomes(result) == ["not_authorized", "executed", "not_authorized"]


def test_issuers_cannot_freeze_nor_mint_governance_kinds() -> None:
    chain = with_issuer()
    result = chain.run(
        chain.tx(BOB, "identity.set", person(CAROL.address, status="frozen")),
        chain.tx(
            BOB, "identity.set", IdentitySetPayload(CAROL.address, "regulator", 3, ATTRS, "active")
        ),
        chain.tx(BOB, "identity.set", person(CAROL.address, tier=4)),
        chain.tx(
            BOB, "identity.set", IdentitySetPayload(CAROL.address, "person", 1, b"", "active")
        ),
        chain.tx(BOB, "identity.set", b"junk"),
    )
    assert outcomes(result) == ["bad_argument"] * 4 + ["malformed_payload"]


def test_a_revoked_identity_is_rejected_and_revocation_is_final() -> None:
    chain = with_issuer()
    chain.run(chain.tx(BOB, "identity.set", person(ALICE.address)))
    chain.run(chain.tx(BOB, "identity.set", person(ALICE.address, status="revoked")))
    assert chain.ledger.identity(ALICE.address).status == "revoked"  # type: ignore[union-attr]
    result = chain.run(
        chain.transfer(ALICE, BOB, 1),
        chain.tx(BOB, "identity.set", person(ALICE.address)),
    )
    assert outcomes(result) == ["revoked", "not_authorized"]


# -- tiers ------------------------------------------------------------------------
def test_tier_zero_payload_limit_and_a_higher_tier_lifts_it() -> None:
    chain = with_issuer()
    big = b"x" * 5_000  # over tier 0's 4096 bytes, under tier 1's 16384
    assert outcomes(chain.run(chain.record(ALICE, big))) == ["tier_limit"]
    chain.run(chain.tx(BOB, "identity.set", person(ALICE.address, tier=1)))
    assert outcomes(chain.run(chain.record(ALICE, big))) == ["executed"]


def test_transactions_per_checkpoint_are_capped_per_tier() -> None:
    chain = Chain()
    chain.decide(SetParam("tier0_txs_per_checkpoint_max", 2))
    three = [chain.transfer(ALICE, BOB, 1) for _ in range(3)]
    assert outcomes(chain.run(*three)) == ["executed", "executed", "tier_limit"]
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]  # a new height


def test_committee_governance_passes_tier_limits_so_a_bad_parameter_can_be_undone() -> None:
    chain = Chain()
    chain.decide(SetParam("tier0_txs_per_checkpoint_max", 0))
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["tier_limit"]
    chain.decide(SetParam("tier0_txs_per_checkpoint_max", None))
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]


# -- roles ----------------------------------------------------------------------------
def test_roles_are_granted_and_revoked_by_governance() -> None:
    chain = Chain()
    chain.decide(GrantRole(ALICE.address, "teller"))
    chain.decide(GrantRole(ALICE.address, "auditor_x"))
    assert chain.ledger.identity(ALICE.address).roles == ("auditor_x", "teller")  # type: ignore[union-attr]
    chain.decide(RevokeRole(ALICE.address, "teller"))
    assert chain.ledger.identity(ALICE.address).roles == ("auditor_x",)  # type: ignore[union-attr]
    missing = chain.decide(RevokeRole(ALICE.address, "teller"))
    assert missing.outcome == "revoke-role: no-op: does not hold role teller"


def test_roles_per_address_are_capped() -> None:
    chain = Chain()
    for i in range(ROLES_PER_ADDRESS_MAX):
        chain.decide(GrantRole(ALICE.address, f"role{i}"))
    extra = chain.decide(GrantRole(ALICE.address, "one-too-many"))
    assert extra.outcome.startswith("grant-role: no-op")
    assert len(chain.ledger.identity(ALICE.address).roles) == ROLES_PER_ADDRESS_MAX  # type: ignore[union-attr]


def test_a_sender_flagged_for_review_has_its_transfers_held() -> None:
    chain = Chain()
    grant = chain.decide(GrantRole(ALICE.address, "review"))
    result = chain.run(chain.transfer(ALICE, BOB, 30), chain.record(ALICE, b"records pass"))
    assert outcomes(result) == ["held:held_review", "executed"]
    assert result.receipts[0].governance_ref == grant.id
    assert chain.ledger.balance(ALICE.address) == 70
    assert chain.ledger.balance(BOB.address) == 50
    assert chain.ledger.total_supply() == 150
    chain.decide(RevokeRole(ALICE.address, "review"))
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]


def test_a_permission_restricts_a_kind_to_a_role_until_lifted() -> None:
    chain = Chain()
    p = chain.decide(SetPermission("transfer", "trader"))
    assert chain.ledger.permission("transfer") == ("trader", p.id)
    result = chain.run(chain.transfer(ALICE, BOB, 5))
    rc = result.receipts[0]
    assert (rc.status, rc.reason, rc.governance_ref) == ("rejected", "not_authorized", p.id)
    assert result.audit[-1].kind == "rejection_by_decision"
    chain.decide(GrantRole(ALICE.address, "trader"))
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 5))) == ["executed"]
    # Records stay open, and lifting the permission opens transfers to everyone.
    assert outcomes(chain.run(chain.record(BOB, b"hello"))) == ["executed"]
    chain.decide(SetPermission("transfer", ""))
    assert chain.ledger.permission("transfer") is None
    assert outcomes(chain.run(chain.transfer(BOB, ALICE, 1))) == ["executed"]


def test_governance_kinds_cannot_be_restricted() -> None:
    chain = Chain()
    p = chain.propose(R0, SetPermission("gov.vote", "x"))
    assert outcomes(chain.run(p)) == ["bad_argument"]
