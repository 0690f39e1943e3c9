"""The report channel's parts, each alone: the report, its store, the rate limit, signed
requests, and the report.handle kind as every validator executes it.

The HTTP edge over a node is tests/test_reports_api.py; the whole channel on a
running devnet through the CLI is tests/test_reports_processes.py.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from govchain.cli.main import cli
from govchain.codec import digest, encode
from govchain.crypto.keys import SigningKey
from govchain.reports import signed
from govchain.reports.ratelimit import RateLimiter, source_of
from govchain.reports.report import (
    BODY_BYTES_MAX,
    CONTACT_CHARS_MAX,
    REPORT_DOMAIN,
    SUBJECT_CHARS_MAX,
    TEXT_CHARS_MAX,
    Report,
    ReportError,
    from_form,
    from_json,
    report_id,
)
from govchain.reports.signed import RequestVerifier, SignedRequestError
from govchain.reports.store import (
    SYNC_PERSIST_HEIGHTS,
    ReportsFullError,
    ReportStore,
    ReportStoreError,
    Status,
    UnknownReportError,
)
from govchain.state.audit import AuditEntry
from govchain.state.kinds.report_handle import (
    AUDIT_KIND,
    KIND,
    NOTE_BYTES_MAX,
    Handled,
    ReportHandlePayload,
    handled_entry,
)
from govchain.storage.sqlite import SqliteStore
from ledgerkit import ALICE, R0, R1, Chain, outcomes

NODE = SigningKey.from_label("reports-node").public_key
OTHER_NODE = SigningKey.from_label("another-node").public_key
CHAIN_ID = "reports-chain"
T0_MS = 1_700_000_000_000


def _json(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _report(text: str = "a shop takes deposits and never ships", **kw: str) -> Report:
    return Report(kw.get("category", "fraud"), kw.get("subject", ""), text, kw.get("contact", ""))


# -- the report ----------------------------------------------------------------------
def test_a_json_report_comes_out_in_canonical_form() -> None:
    r = from_json(_json(category="fraud", text="line one\r\nline two\rthree", subject="3f2a9c01"))
    assert r == Report("fraud", "3f2a9c01", "line one\nline two\nthree", "")


def test_a_form_post_gives_the_same_report_as_json() -> None:
    fields = {"category": "privacy", "text": "我的身份证号被公开了\r\n请删除", "contact": "王先生"}
    form = from_form(urllib.parse.urlencode(fields).encode())
    assert form == from_json(json.dumps(fields).encode())
    assert form.text == "我的身份证号被公开了\n请删除" and form.subject == ""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "bad_request"),
        (b"not json", "bad_request"),
        (b"[]", "bad_request"),
        (b"null", "bad_request"),
        (b'{"category": "fraud"}', "bad_request"),  # no text
        (b'{"category": "fraud", "text": 7}', "bad_request"),
        (b'{"category": "fraud", "text": "x", "extra": 1}', "unknown_field"),
        (b'{"category": "spam", "text": "x"}', "bad_category"),
        (b'{"category": "fraud", "text": ""}', "bad_text"),
        (b'{"category": "fraud", "text": " \\n\\t "}', "bad_text"),
        (b'{"category": "fraud", "text": "\\ud800"}', "bad_request"),  # a lone surrogate
        (b'{"category": "fraud", "text": "\xff"}', "bad_request"),  # not UTF-8
        (b'{"category": "fraud", "text": "a\\u001b[2Jb"}', "bad_text"),  # ESC: a terminal escape
        (b'{"category": "fraud", "text": "a\\u009bb"}', "bad_text"),  # C1 CSI
        (b'{"category": "fraud", "text": "a\\u0000b"}', "bad_text"),
        (b'{"category": "fraud", "text": "x", "subject": "a\\nb"}', "bad_subject"),
        (b'{"category": "fraud", "text": "x", "contact": "a\\tb"}', "bad_contact"),
        (b'{"category": "fraud", "text": "x", "subject": 5}', "bad_request"),
        (b'{"category": "fraud", "text": "x", "text": ' + b"[" * 50_000 + b"}", "bad_request"),
    ],
)
def test_a_bad_json_report_is_refused_with_a_typed_code(body: bytes, code: str) -> None:
    with pytest.raises(ReportError) as e:
        from_json(body)
    assert e.value.code == code and e.value.message


def test_field_lengths_are_counted_in_characters_at_their_bounds() -> None:
    wide = "号"
    ok = from_json(
        _json(
            category="other",
            text=wide * TEXT_CHARS_MAX,
            subject=wide * SUBJECT_CHARS_MAX,
            contact=wide * CONTACT_CHARS_MAX,
        )
    )
    assert len(ok.text) == TEXT_CHARS_MAX
    for field, chars in (
        ("text", TEXT_CHARS_MAX),
        ("subject", SUBJECT_CHARS_MAX),
        ("contact", CONTACT_CHARS_MAX),
    ):
        fields = {"category": "other", "text": "x", field: "x" * (chars + 1)}
        with pytest.raises(ReportError) as e:
            from_json(json.dumps(fields).encode())
        assert e.value.code == f"bad_{field}"


def test_the_widest_legitimate_report_fits_the_body_limit_in_both_encodings() -> None:
    emoji = "\U0001f600"  # 4 bytes of UTF-8: 12 as %XX and as a \\u surrogate pair
    fields = {
        "category": "illegal_content",
        "subject": emoji * SUBJECT_CHARS_MAX,
        "text": emoji * TEXT_CHARS_MAX,
        "contact": emoji * CONTACT_CHARS_MAX,
    }
    form = urllib.parse.urlencode(fields).encode()
    escaped = json.dumps(fields, ensure_ascii=True).encode()
    assert len(form) <= BODY_BYTES_MAX and len(escaped) <= BODY_BYTES_MAX
    assert from_form(form) == from_json(escaped)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"category=fraud", "bad_text"),
        (b"text=hello", "bad_category"),
        (b"category=fraud&text=x&lang=en", "unknown_field"),
        (b"category=fraud&text=x&text=y", "bad_request"),
        (b"category=fraud&text=%FF", "bad_request"),  # %XX that is not UTF-8
        (b"category=fraud&text=\xe5\x8f\xb7", "bad_request"),  # raw bytes: a form is ASCII
        (b"category=fraud&text", "bad_request"),
        (b"&".join([b"a=1"] * 100), "bad_request"),  # more fields than a report has
        (b"category=fraud&text=a%1Bb", "bad_text"),
    ],
)
def test_a_bad_form_post_is_refused_with_a_typed_code(body: bytes, code: str) -> None:
    with pytest.raises(ReportError) as e:
        from_form(body)
    assert e.value.code == code


def test_the_id_is_the_documented_digest_and_names_node_time_and_every_field() -> None:
    r = _report(subject="s", contact="c")
    rid = report_id(r, NODE, T0_MS)
    assert rid == digest(REPORT_DOMAIN, encode(r), NODE, T0_MS.to_bytes(8, "big"))
    assert encode(r) == encode(["fraud", "s", r.text, "c"])  # the canonical array
    others = {
        report_id(r, OTHER_NODE, T0_MS),
        report_id(r, NODE, T0_MS + 1),
        report_id(_report(subject="t", contact="c"), NODE, T0_MS),
        report_id(_report(subject="s", contact="d"), NODE, T0_MS),
        report_id(_report("other text", subject="s", contact="c"), NODE, T0_MS),
    }
    assert rid not in others and len(others) == 5


# -- the store -----------------------------------------------------------------------
def _store(tmp_path: Path, **kw: int) -> ReportStore:
    return ReportStore(tmp_path / "reports.sqlite", NODE, 0, **kw)


def test_two_identical_reports_in_the_same_millisecond_get_two_ids(tmp_path: Path) -> None:
    s = _store(tmp_path)
    a, b = s.add(_report(), T0_MS), s.add(_report(), T0_MS)
    assert a.report_id != b.report_id
    assert (a.received_ms, b.received_ms) == (T0_MS, T0_MS + 1)
    assert b.report_id == report_id(_report(), NODE, T0_MS + 1)
    late = s.add(_report(), T0_MS - 5_000)  # a clock stepped back: times still increase
    assert late.received_ms == T0_MS + 2


def test_reports_page_newest_first_by_keyset_and_status(tmp_path: Path) -> None:
    s = _store(tmp_path)
    ids = [s.add(_report(f"report {i}"), T0_MS + i).report_id for i in range(7)]
    page, more = s.page(None, None, 3)
    assert [r.report_id for r in page] == ids[6:3:-1] and more
    page, more = s.page(None, page[-1].report_id, 3)
    assert [r.report_id for r in page] == ids[3:0:-1] and more
    page, more = s.page(None, page[-1].report_id, 3)
    assert [r.report_id for r in page] == ids[:1] and not more
    s.apply([Handled(ids[2], R0.address, 5, b"\x01" * 32, "done")], 5)
    handled, _ = s.page(Status.HANDLED, None, 10)
    still, _ = s.page(Status.OPEN, None, 10)
    assert [r.report_id for r in handled] == [ids[2]]
    assert ids[2] not in [r.report_id for r in still] and len(still) == 6
    assert s.counts() == {"open": 6, "handled": 1}
    with pytest.raises(UnknownReportError):
        s.page(None, b"\x00" * 32, 3)
    with pytest.raises(ValueError, match="limit"):
        s.page(None, None, 0)


def test_a_full_store_refuses_and_keeps_what_it_has(tmp_path: Path) -> None:
    s = _store(tmp_path, count_max=2)
    kept = [s.add(_report(), T0_MS), s.add(_report(), T0_MS)]
    with pytest.raises(ReportsFullError, match="at most 2 reports"):
        s.add(_report(), T0_MS)
    assert [r.report_id for r in s.page(None, None, 10)[0]] == [k.report_id for k in kept[::-1]]
    by_bytes = ReportStore(None, NODE, 0, bytes_max=_report().size_bytes * 2)
    by_bytes.add(_report(), T0_MS)
    by_bytes.add(_report(), T0_MS)
    with pytest.raises(ReportsFullError, match="bytes"):
        by_bytes.add(_report("x"), T0_MS)


def test_a_store_survives_reopening_and_is_a_wal_file_synced_in_full(tmp_path: Path) -> None:
    s = _store(tmp_path)
    a = s.add(_report(contact="tel 123"), T0_MS)
    s.close()
    again = _store(tmp_path)
    found = again.get(a.report_id)
    assert found is not None and found.report == a.report and found.status is Status.OPEN
    db = again._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert again.add(_report(), T0_MS).received_ms == T0_MS + 1  # the clock's floor persists


def test_the_reports_file_is_its_owner_s_alone(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.add(_report(contact="tel 138 0000 0000"), T0_MS)
    for name in ("reports.sqlite", "reports.sqlite-wal"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_a_failed_write_keeps_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    s = _store(tmp_path)
    clash = report_id(_report(), NODE, T0_MS)  # what the next add would be named
    s._db.execute(
        "INSERT INTO reports (report_id, received_ms, category, subject, text, contact,"
        " size_bytes) VALUES (?, 0, 'other', '', 'x', '', 1)",
        (clash,),
    )
    with pytest.raises(sqlite3.IntegrityError):
        s.add(_report(), T0_MS)
    assert s.counts() == {"open": 0, "handled": 0}
    kept = s.add(_report(), T0_MS + 10)
    assert s.get(kept.report_id) is not None and s.counts()["open"] == 1
    s.close()
    assert _store(tmp_path).counts()["open"] == 1  # the failed write moved no count on disk


def test_a_store_refuses_a_file_that_is_not_this_node_s_reports(tmp_path: Path) -> None:
    _store(tmp_path).close()
    with pytest.raises(ReportStoreError, match="node key"):
        ReportStore(tmp_path / "reports.sqlite", OTHER_NODE, 0)
    chain = SqliteStore(tmp_path / "store.sqlite")
    chain.close()
    with pytest.raises(ReportStoreError, match="not a govchain reports file"):
        ReportStore(tmp_path / "store.sqlite", NODE, 0)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is no database at all" * 100)
    with pytest.raises(ReportStoreError):
        ReportStore(junk, NODE, 0)


def test_the_first_handling_wins_and_marking_again_changes_nothing(tmp_path: Path) -> None:
    s = _store(tmp_path)
    rid = s.add(_report(), T0_MS).report_id
    first = Handled(rid, R0.address, 7, b"\x07" * 32, "referred")
    second = Handled(rid, R1.address, 9, b"\x09" * 32, "again")
    assert s.apply([first], 7) == 1
    assert s.apply([second, first], 9) == 0
    got = s.get(rid)
    assert got is not None and got.handled == first and got.status is Status.HANDLED
    assert s.counts() == {"open": 0, "handled": 1} and s.synced_height == 9
    assert s.apply([Handled(b"\x05" * 32, R0.address, 10, b"\x0a" * 32, "elsewhere")], 10) == 0


def test_the_synced_height_is_written_with_marks_or_every_so_many_heights(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.apply([], 3)
    assert s.synced_height == 3
    s.close()
    assert _store(tmp_path).synced_height == 0  # nothing to mark: no fsync per height
    s = _store(tmp_path)
    s.apply([], SYNC_PERSIST_HEIGHTS)
    s.close()
    assert _store(tmp_path).synced_height == SYNC_PERSIST_HEIGHTS
    created_late = ReportStore(tmp_path / "late.sqlite", NODE, 1234)
    assert created_late.synced_height == 1234  # no report of its can be handled before


def test_ids_are_found_by_prefix(tmp_path: Path) -> None:
    s = _store(tmp_path)
    rids = sorted(s.add(_report(f"r{i}"), T0_MS + i).report_id.hex() for i in range(20))
    assert s.ids_with_prefix(rids[0][:9], 5) == [r for r in rids if r.startswith(rids[0][:9])]
    assert s.ids_with_prefix(rids[3], 5) == [rids[3]]
    assert s.ids_with_prefix("0" * 63 + "1", 5) == []
    assert s.ids_with_prefix(rids[0][0], 50) == [r for r in rids if r[0] == rids[0][0]]


# -- the rate limit ------------------------------------------------------------------
def test_a_source_gets_its_burst_then_waits_for_refill() -> None:
    rl = RateLimiter(source_burst=5, source_refill_s=12.0, global_burst=100)
    assert [rl.take("1.2.3.4", 0.0) for _ in range(5)] == [None] * 5
    assert rl.take("1.2.3.4", 0.0) == 12
    assert rl.take("1.2.3.4", 6.0) == 6
    assert rl.take("1.2.3.4", 12.0) is None
    assert rl.take("1.2.3.4", 12.0) == 12
    assert rl.take("5.6.7.8", 12.0) is None  # another source has its own bucket


def test_many_sources_together_meet_the_global_cap() -> None:
    rl = RateLimiter(source_burst=5, global_burst=10, global_refill_s=0.5)
    allowed = [rl.take(f"10.0.0.{i}", 0.0) for i in range(30)]
    assert allowed.count(None) == 10
    assert allowed[10] == 1  # half a second to the next global token: Retry-After 1
    assert rl.take("10.0.1.1", 1.0) is None


def test_the_table_of_sources_is_bounded() -> None:
    rl = RateLimiter(sources_max=100, global_burst=10_000)
    for i in range(1_000):
        rl.take(f"10.{i // 256}.{i % 256}.1", 0.0)
    assert len(rl) == 100


def test_sources_are_addresses_and_ipv6_slash_64s() -> None:
    assert source_of("192.0.2.7") == "192.0.2.7"
    assert source_of("2001:db8::1") == source_of("2001:db8::ffff:1") == "2001:db8::/64"
    assert source_of("2001:db8:0:1::1") != source_of("2001:db8::1")
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_of(None) == source_of("") == source_of("testclient") == "unknown"


# -- signed requests -----------------------------------------------------------------
MEMBERS = {R0.public_key: 1, R1.public_key: 1}
PATH = "/v1/reports?status=open"
NOW = 1_700_000_000.0


def _headers(
    key: SigningKey = R0,
    path: str = PATH,
    t: float = NOW,
    chain: str = CHAIN_ID,
    node: bytes = NODE,
    method: str = "GET",
    nonce: bytes = bytes(range(16)),
    replace: dict[str, str] | None = None,
) -> dict[str, str]:
    h = signed.sign(key, chain, node, method, path, int(t), nonce)
    h.update(replace or {})
    return h


def _check(v: RequestVerifier, headers: dict[str, str], now: float = NOW) -> int:
    try:
        v.check(headers, "GET", PATH, now, MEMBERS)
    except SignedRequestError as exc:
        return exc.status
    return 200


def test_a_member_s_request_passes_once_and_its_replay_is_refused() -> None:
    v = RequestVerifier(CHAIN_ID, NODE)
    h = _headers()
    assert v.check(h, "GET", PATH, NOW, MEMBERS).public_key == R0.public_key
    with pytest.raises(SignedRequestError) as e:
        v.check(h, "get", PATH, NOW + 30, MEMBERS)
    assert (e.value.status, e.value.code) == (401, "replayed")
    other_nonce = _headers(nonce=b"x" * 16)
    assert _check(v, other_nonce) == 200  # the same request again, newly signed


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unsigned"),
        (_headers(t=NOW - 61), 401, "stale_request"),
        (_headers(t=NOW + 61), 401, "stale_request"),
        (_headers(path="/v1/reports?status=handled"), 401, "bad_signature"),
        (_headers(method="POST"), 401, "bad_signature"),
        (_headers(chain="another-chain"), 401, "bad_signature"),
        (_headers(node=OTHER_NODE), 401, "bad_signature"),  # signed for another node
        (_headers(ALICE), 403, "not_committee"),
        (_headers(replace={"govchain-key": "zz" * 32}), 400, "bad_signed_request"),
        (
            _headers(replace={"govchain-key": R0.public_key.hex().upper()}),
            400,
            "bad_signed_request",
        ),
        (_headers(replace={"govchain-time": "-5"}), 400, "bad_signed_request"),
        (_headers(replace={"govchain-time": "9" * 40}), 400, "bad_signed_request"),
        (_headers(replace={"govchain-nonce": "00"}), 400, "bad_signed_request"),
        (_headers(replace={"govchain-signature": "00" * 63}), 400, "bad_signed_request"),
        (_headers(replace={"govchain-signature": "00" * 64}), 401, "bad_signature"),
        ({"govchain-key": R0.public_key.hex()}, 400, "bad_signed_request"),
    ],
)
def test_bad_signed_requests_are_refused_with_their_status(
    headers: dict[str, str], status: int, code: str
) -> None:
    v = RequestVerifier(CHAIN_ID, NODE)
    with pytest.raises(SignedRequestError) as e:
        v.check(headers, "GET", PATH, NOW, MEMBERS)
    assert (e.value.status, e.value.code) == (status, code)
    assert len(v) == 0  # nothing refused is remembered


def test_the_memory_of_signatures_is_bounded_and_forgets_stale_ones() -> None:
    v = RequestVerifier(CHAIN_ID, NODE, seen_max=3)
    for i in range(3):
        assert _check(v, _headers(nonce=f"nonce-{i:010d}".encode())) == 200
    assert _check(v, _headers(nonce=b"nonce-xxxxxxxxxx")) == 503  # busy, not forgetful
    later = NOW + 2 * signed.SKEW_S_MAX + 2
    assert _check(v, _headers(t=later, nonce=b"nonce-yyyyyyyyyy"), later) == 200
    assert len(v) == 1


# -- the kind ------------------------------------------------------------------------
RID = bytes(range(32))


def _handle(chain: Chain, key: SigningKey, payload: object) -> list[str]:
    result = chain.run(chain.tx(key, KIND, payload))
    return outcomes(result)


def test_a_member_s_handling_is_one_audit_entry_read_back_as_it_was() -> None:
    chain = Chain()
    t = chain.tx(R0, KIND, ReportHandlePayload(RID, "referred to the police\nfile 12"))
    result = chain.run(t)
    assert outcomes(result) == ["executed"]
    [entry] = [e for e in result.audit if e.kind == AUDIT_KIND]
    assert entry.actor == R0.address and entry.subject == "report:" + RID.hex()
    assert entry.reason == f"tx:{t.id.hex()} referred to the police\nfile 12"
    assert handled_entry(entry) == Handled(
        RID, R0.address, entry.height, t.id, "referred to the police\nfile 12"
    )


def test_anyone_else_is_refused_and_nothing_is_audited() -> None:
    chain = Chain()
    result = chain.run(chain.tx(ALICE, KIND, ReportHandlePayload(RID, "I handled it")))
    assert outcomes(result) == ["not_authorized"]
    assert [e for e in result.audit if e.kind == AUDIT_KIND] == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (ReportHandlePayload(RID[:31], "x"), "bad_argument"),
        (ReportHandlePayload(RID + b"\x00", "x"), "bad_argument"),
        (ReportHandlePayload(RID, ""), "bad_argument"),
        (ReportHandlePayload(RID, " \n\t"), "bad_argument"),
        (ReportHandlePayload(RID, "x" * (NOTE_BYTES_MAX + 1)), "bad_argument"),
        (ReportHandlePayload(RID, "a\x1b[31mred"), "bad_argument"),
        (b"\x92\xc4\x20" + RID + b"\xa1x", "executed"),  # canonical bytes, written by hand
        (b"\x92\xc5\x00\x20" + RID + b"\xa1x", "malformed_payload"),  # bin16 for 32 bytes
        (b"\x93\xc4\x20" + RID + b"\xa1x\xc0", "malformed_payload"),  # a third element
        (b"garbage", "malformed_payload"),
        (b"", "malformed_payload"),
    ],
)
def test_a_bad_payload_is_refused(payload: object, reason: str) -> None:
    assert _handle(Chain(), R1, payload) == [reason]


def test_the_longest_note_passes_and_fits_the_audit_entry() -> None:
    chain = Chain()
    note = "号" * (NOTE_BYTES_MAX // 3)
    result = chain.run(chain.tx(R0, KIND, ReportHandlePayload(RID, note)))
    [entry] = [e for e in result.audit if e.kind == AUDIT_KIND]
    h = handled_entry(entry)
    assert h is not None and h.note == note


def test_other_audit_entries_are_no_handlings() -> None:
    chain = Chain()
    result = chain.run(chain.transfer(ALICE, ALICE, 1), chain.tx(R0, KIND, encode([RID, "x"])))
    entries = list(result.audit)
    assert [handled_entry(e) is not None for e in entries] == [True]
    for subject, reason in (("report:nothex", f"tx:{RID.hex()} x"), ("report:" + RID.hex(), "x")):
        forged = AuditEntry(0, 1, AUDIT_KIND, b"", subject, "", reason, b"", b"")
        assert handled_entry(forged) is None


# -- the command line's own checks, before any request ----------------------------------
NOWHERE = "http://127.0.0.1:1"  # argument errors must come before any request


class _AnyText(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["submit", "--category", "spam", "--text", "x"], "bad_category"),
        (["list", "--status", "closed", "--key", "k"], "bad_status"),
        (["list", "--limit", "0", "--key", "k"], "bad_limit"),
        (["list"], "missing_key"),
        (["handle", "abcdef01", "--note", " "], "bad_note"),
        (["handle", "abcdef01", "--note", "x" * (NOTE_BYTES_MAX + 1)], "bad_note"),
        (["handle", "abcdef01", "--note", "a\x1b[2Jb"], "bad_note"),
        (["handle", "abcdef01", "--note", "ok"], "missing_key"),
        (["show", "xyz", "--key", "k"], "bad_key_file"),
    ],
)
def test_the_cli_refuses_bad_arguments_with_a_json_error(args: list[str], code: str) -> None:
    out = CliRunner().invoke(cli, ["reports", *args, "--node", NOWHERE, "--json"])
    assert out.exit_code == 2, out.output
    assert json.loads(out.stdout) == {"error": {"code": code, "message": ANY_TEXT}}
