"""Data records: services, content rules, holds by rule, and redaction."""

from __future__ import annotations

import msgspec
import pytest

from govchain.codec import encode
from govchain.dag.tx import Transaction, payload_hash
from govchain.state.ledger import PayloadMissingError
from govchain.state.payloads import (
    AddFilter,
    GrantRole,
    Redact,
    Release,
    RemoveFilter,
    ResumeService,
    ServiceRegisterPayload,
    SuspendService,
)
from govchain.state.policy import MediaTypeRule, PayloadHashRule, RuleAction, SizeRule, keyword_rule
from govchain.state.receipts import Receipt
from ledgerkit import ALICE, BOB, CAROL, R0, R1, Chain, outcomes, record_payload, tx


def with_service(writer_role: str = "") -> Chain:
    chain = Chain()
    result = chain.run(
        chain.tx(BOB, "service.register", ServiceRegisterPayload("shop", writer_role))
    )
    assert outcomes(result) == ["executed"]
    return chain


# -- records and services ---------------------------------------------------------------
def test_a_record_needs_the_record_format_and_a_well_formed_media_type() -> None:
    chain = Chain()
    result = chain.run(
        chain.record(ALICE, b"plain"),
        chain.record(ALICE, b"with params", media="text/plain; charset=utf-8"),
        chain.tx(ALICE, "record", b"raw bytes are not a record"),
        chain.record(ALICE, b"x", media="plain"),
        chain.record(ALICE, b"x", media="text/*"),
    )
    assert outcomes(result) == [
        "executed",
        "executed",
        "malformed_payload",
        "malformed_payload",
        "malformed_payload",
    ]


def test_services_are_owned_and_named_by_records() -> None:
    chain = with_service()
    result = chain.run(
        chain.record(ALICE, b"order 1", service="shop"),
        chain.record(ALICE, b"order 2", service="nowhere"),
        chain.tx(CAROL, "service.register", ServiceRegisterPayload("shop", "")),
        chain.tx(CAROL, "service.register", ServiceRegisterPayload("Bad Id", "")),
    )
    assert outcomes(result) == ["executed", "unknown_service", "service_exists", "bad_argument"]
    service = chain.ledger.service("shop")
    assert service is not None and (service.owner, service.suspended_by) == (BOB.address, None)


def test_a_writer_role_limits_who_may_write_to_a_service() -> None:
    chain = with_service(writer_role="clerk")
    assert outcomes(chain.run(chain.record(ALICE, b"x", service="shop"))) == ["not_authorized"]
    assert outcomes(chain.run(chain.record(BOB, b"x", service="shop"))) == ["executed"]  # owner
    chain.decide(GrantRole(ALICE.address, "clerk"))
    assert outcomes(chain.run(chain.record(ALICE, b"x", service="shop"))) == ["executed"]


def test_a_suspended_service_rejects_its_records_until_resumed() -> None:
    chain = with_service()
    p = chain.decide(SuspendService("shop"))
    result = chain.run(chain.record(ALICE, b"x", service="shop"), chain.record(ALICE, b"y"))
    assert outcomes(result) == ["service_suspended", "executed"]
    assert result.receipts[0].governance_ref == p.id
    assert [e.kind for e in result.audit] == ["rejection_by_decision"]
    chain.decide(ResumeService("shop"))
    assert outcomes(chain.run(chain.record(ALICE, b"x", service="shop"))) == ["executed"]


# -- content rules ------------------------------------------------------------------------
def test_a_keyword_rule_rejects_matching_records_naming_rule_and_decision() -> None:
    chain = Chain()
    p = chain.decide(AddFilter(keyword_rule("违禁品"), RuleAction.REJECT))
    result = chain.run(
        chain.record(ALICE, "出售 违 禁 品\uff0c价格面议".encode()),
        chain.record(ALICE, "普通的商品".encode()),
    )
    assert outcomes(result) == ["content_rule", "executed"]
    r = result.receipts[0]
    assert (r.status, r.rule, r.governance_ref) == ("rejected", "rule-1", p.id)
    assert [(e.kind, e.proposal) for e in result.audit] == [("rejection_by_rule", p.id)]


def test_a_hold_rule_holds_the_record_until_released() -> None:
    chain = Chain()
    chain.decide(AddFilter(MediaTypeRule("image/*"), RuleAction.HOLD))
    held = chain.record(ALICE, b"\x89PNG", media="image/png")
    result = chain.run(held)
    assert outcomes(result) == ["held:content_rule"]
    assert result.receipts[0].rule == "rule-1"
    release = chain.decide(Release(held.id))
    assert chain.ledger.resolution(held.id).status == "executed"  # type: ignore[union-attr]
    assert release.outcome == "executed"


def test_the_lowest_rule_id_decides_and_removed_rules_stop_matching() -> None:
    chain = Chain()
    chain.decide(AddFilter(SizeRule(3), RuleAction.HOLD))  # rule-1
    data = b"four"
    chain.decide(AddFilter(PayloadHashRule(payload_hash(record_payload(data))), RuleAction.REJECT))
    first = chain.run(chain.record(ALICE, data))
    assert (first.receipts[0].status, first.receipts[0].rule) == ("held", "rule-1")
    chain.decide(RemoveFilter("rule-1"))
    second = chain.run(chain.record(ALICE, data))
    assert (second.receipts[0].status, second.receipts[0].rule) == ("rejected", "rule-2")
    gone = chain.decide(RemoveFilter("rule-1"))
    assert gone.outcome == "remove-filter: no-op: no rule has this id"


# -- redaction ------------------------------------------------------------------------------
def test_redaction_marks_the_record_and_reports_it_for_deletion() -> None:
    chain = Chain()
    rec = chain.record(ALICE, b"a phone number")
    chain.run(rec)
    p = chain.propose(R0, Redact(rec.id))
    result = chain.run(p, chain.vote(R1, p))
    assert result.redacted == (rec.id,)
    red = chain.ledger.redaction(rec.id)
    assert red is not None and (red.proposal, red.height) == (p.id.hex(), 2)
    assert result.audit[-1].kind == "redaction" and result.audit[-1].actor == R0.address
    again = chain.decide(Redact(rec.id))
    assert again.outcome.startswith("redact: no-op: already redacted")


def test_only_final_records_can_be_redacted() -> None:
    chain = Chain()
    t = chain.transfer(ALICE, BOB, 1)
    chain.run(t)
    assert chain.decide(Redact(t.id)).outcome == "redact: no-op: not a final record"
    assert chain.decide(Redact(bytes(32))).outcome == "redact: no-op: not a final record"


def _without_payload(t: Transaction) -> Transaction:
    return msgspec.structs.replace(t, payload=b"")


def test_a_redacted_record_re_executes_to_the_same_receipts_and_state() -> None:
    """Replay from genesis with the payloads gone: the known receipts stand in for them."""

    def rules(chain: Chain) -> None:
        chain.decide(AddFilter(keyword_rule("secret"), RuleAction.REJECT))  # rule-1
        chain.decide(AddFilter(MediaTypeRule("image/*"), RuleAction.HOLD))  # rule-2

    chain = Chain()
    rules(chain)
    heights = [
        [chain.record(ALICE, b"public"), chain.record(BOB, b"a SECRET plan")],
        [chain.record(ALICE, b"hold me", media="image/png")],
    ]
    first = [chain.run(*h) for h in heights]
    assert [outcomes(ex) for ex in first] == [
        ["executed", "content_rule"],
        ["held:content_rule"],
    ]
    for t in (t for h in heights for t in h):
        assert chain.decide(Redact(t.id)).outcome.startswith("payload to be deleted")

    replay = Chain()
    rules(replay)
    known = {r.tx_id: r for ex in first for r in ex.receipts}
    for h, ex in zip(heights, first, strict=True):
        again = replay.run(*[_without_payload(t) for t in h], known=known)
        assert again.receipts == ex.receipts
        assert again.audit == ex.audit
        assert again.state_hash == ex.state_hash
    assert replay.ledger.hold(heights[1][0].id) == chain.ledger.hold(heights[1][0].id)


def test_a_missing_payload_without_a_known_receipt_is_the_callers_bug() -> None:
    chain = Chain()
    with pytest.raises(PayloadMissingError):
        chain.run(_without_payload(chain.record(ALICE, b"gone")))


def test_known_receipts_are_ignored_for_other_kinds() -> None:
    chain = Chain()
    t = tx(ALICE, 0, "transfer", encode(["not", "a transfer"]))
    fake = Receipt(t.id, 1, 0, "executed")
    assert outcomes(chain.run(t, known={t.id: fake})) == ["malformed_payload"]
