"""The report channel over HTTP, served in-process by a node that is not started.

POST /v1/reports as JSON and as a browser's form post; the limits a hostile
sender meets (body size, media type, garbage, the rate limit, a full store);
GET /v1/reports and /v1/reports/{id} for committee members only, by signed
request; the OpenAPI description and /metrics; and the hook that marks
reports handled from executed heights' audit entries.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.api import reports_routes
from govchain.api.app import build_app
from govchain.api.reports_desk import catch_up, desk_of, follow, reports_executed
from govchain.crypto.keys import SigningKey
from govchain.node.devnet import create
from govchain.node.files import Home, read_key
from govchain.node.node import Node
from govchain.replica.execution import Execution
from govchain.reports.ratelimit import RateLimiter
from govchain.reports.report import BODY_BYTES_MAX
from govchain.reports.signed import NONCE_BYTES, sign
from govchain.state.audit import AuditEntry
from govchain.state.kinds.report_handle import AUDIT_KIND
from metricskit import samples

REPORT = {"category": "fraud", "text": "a shop takes deposits and never ships", "subject": "shop-9"}
FORM = "application/x-www-form-urlencoded"
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ANSWERS = {201, 400, 413, 415, 429, 507}  # what a submission may be answered; never a 5xx


class Api:
    """The node's ASGI app called in-process, from a chosen client address."""

    def __init__(self, node: Node, keys: Path) -> None:
        self.node = node
        self.app = build_app(node)
        self.keys = keys

    def request(self, method: str, url: str, ip: str = "192.0.2.1", **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(ip, 50_000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())

    def post(self, ip: str = "192.0.2.1", **kw: Any) -> httpx.Response:
        return self.request("POST", "/v1/reports", ip, **kw)

    def key(self, name: str) -> SigningKey:
        return read_key(self.keys / f"{name}.key")

    def signed_get(
        self, target: str, by: str = "regulator-1", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        h = sign(
            self.key(by),
            self.node.genesis.chain_id,
            self.node.key.public_key,
            "GET",
            target,
            int(time.time()),
            secrets.token_bytes(NONCE_BYTES),
        )
        h.update(headers or {})
        return self.request("GET", target, headers=h)


def _api(root: Path) -> Api:
    (n,) = create(root, 1, 0, 40_000)  # not started: nothing listens on these ports
    return Api(Node(Home(n.home)), root / "keys")


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setattr(reports_routes, "now_s", lambda: 1_000.0)  # the rate limit's clock
    a = _api(tmp_path / "net")
    yield a
    a.node.store.close()


def _error(r: httpx.Response) -> str:
    doc = r.json()
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    return str(doc["error"]["code"])


def _listed(api: Api, target: str = "/v1/reports") -> dict[str, Any]:
    r = api.signed_get(target)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


# -- sending ---------------------------------------------------------------------------
def test_a_json_report_is_kept_and_a_member_reads_it_back(api: Api) -> None:
    r = api.post(json={**REPORT, "contact": "tel 138 0000 0000"})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == {"report_id", "status"} and doc["status"] == "open"
    rid = doc["report_id"]
    assert r.headers["location"] == f"/v1/reports/{rid}"
    listed = _listed(api)
    assert listed["counts"] == {"open": 1, "handled": 0} and listed["next"] is None
    [shown] = listed["reports"]
    assert shown == {
        "report_id": rid,
        "status": "open",
        "category": "fraud",
        "subject": "shop-9",
        "text": REPORT["text"],
        "contact": "tel 138 0000 0000",
        "received_ms": shown["received_ms"],
        "node_key": api.node.key.public_key.hex(),
        "handled_by": None,
        "handled_at_height": None,
        "handle_tx": None,
        "note": None,
    }
    assert _listed(api, f"/v1/reports/{rid}") == shown
    assert (api.node.home.path / "data" / "reports.sqlite").is_file()


def test_a_browser_form_post_is_answered_with_a_redirect_to_the_report_page(api: Api) -> None:
    body = urllib.parse.urlencode({"category": "privacy", "text": "我的地址被公开", "subject": ""})
    r = api.post(content=body, headers={"content-type": FORM, **BROWSER})
    assert r.status_code == 303
    sent = r.headers["location"].removeprefix("/report?sent=")
    assert len(sent) == 64
    [kept] = _listed(api)["reports"]
    assert (
        kept["report_id"] == sent and kept["text"] == "我的地址被公开" and kept["subject"] is None
    )
    bad = api.post(content="category=spam&text=x", headers={"content-type": FORM, **BROWSER})
    assert (bad.status_code, bad.headers["location"]) == (303, "/report?error=bad_category")
    program = api.post(content="category=other&text=hi", headers={"content-type": FORM})
    assert program.status_code == 201  # not a browser: the JSON answer


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"", "application/json", 400, "bad_request"),
        (b"{", "application/json", 400, "bad_request"),
        (b'{"category": "fraud", "text": "x", "admin": true}', "", 400, "unknown_field"),
        (b'{"category": "fraud", "text": "\\u001b]0;pwned\\u0007"}', "", 400, "bad_text"),
        (b"\x00\xff" * 100, "application/json", 400, "bad_request"),
        (b"category=fraud&text=x", "text/plain", 415, "unsupported_media_type"),
        (b"--b\r\n\r\n", "multipart/form-data; boundary=b", 415, "unsupported_media_type"),
    ],
)
def test_garbage_is_refused_with_a_typed_error_and_nothing_is_kept(
    api: Api, body: bytes, ctype: str, status: int, code: str
) -> None:
    r = api.post(content=body, headers={"content-type": ctype} if ctype else {})
    assert (r.status_code, _error(r)) == (status, code)
    assert _listed(api)["reports"] == []


def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed(api: Api) -> None:
    big = b'{"category": "other", "text": "' + b"x" * BODY_BYTES_MAX + b'"}'
    r = api.post(content=big, headers={"content-type": "application/json"})
    assert (r.status_code, _error(r)) == (413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(BODY_BYTES_MAX // 1024 + 2):
            yield b" " * 1024  # no Content-Length: read with a byte budget

    r = api.post(content=chunks(), headers={"content-type": "application/json"})
    assert (r.status_code, _error(r)) == (413, "too_large")
    assert _listed(api)["reports"] == []


def test_a_source_is_rate_limited_with_retry_after_and_others_are_not(api: Api) -> None:
    answers = [api.post(ip="198.51.100.7", json=REPORT).status_code for _ in range(6)]
    assert answers == [201] * 5 + [429]
    refused = api.post(ip="198.51.100.7", json=REPORT)
    assert (refused.status_code, _error(refused)) == (429, "rate_limited")
    assert refused.headers["retry-after"] == "12"
    garbage = api.post(ip="198.51.100.7", content=b"junk")
    assert garbage.status_code == 429  # refused before its body is read
    assert api.post(ip="203.0.113.9", json=REPORT).status_code == 201
    assert api.post(ip="2001:db8::1", json=REPORT).status_code == 201
    metrics = samples(api.request("GET", "/metrics").text)
    assert metrics["govchain_reports_received_total"] == 7
    assert metrics['govchain_reports_refused_total{code="rate_limited"}'] == 3
    assert metrics['govchain_reports_kept{status="open"}'] == 7


def test_many_sources_together_meet_the_node_s_global_limit(api: Api) -> None:
    desk_of(api.node).limiter = RateLimiter(global_burst=3)
    answers = [api.post(ip=f"10.1.0.{i}", json=REPORT).status_code for i in range(5)]
    assert answers == [201, 201, 201, 429, 429]


def test_a_full_store_refuses_with_507_and_keeps_what_it_has(api: Api) -> None:
    desk_of(api.node).count_max = 2
    assert [api.post(json=REPORT).status_code for _ in range(2)] == [201, 201]
    r = api.post(json=REPORT)
    assert (r.status_code, _error(r)) == (507, "reports_full")
    assert "at most 2 reports" in r.json()["error"]["message"]
    form = api.post(content="category=other&text=x", headers={"content-type": FORM, **BROWSER})
    assert form.headers["location"] == "/report?error=reports_full"
    assert _listed(api)["counts"] == {"open": 2, "handled": 0}


def test_a_store_that_fails_to_write_answers_503_and_claims_nothing(api: Api) -> None:
    desk = desk_of(api.node)
    desk.store()._db.close()  # as a disk that fails: every write raises
    r = api.post(json=REPORT)
    assert (r.status_code, _error(r)) == (503, "reports_unavailable")
    assert r.headers["retry-after"] == "60"
    assert desk.received == 0 and desk.refused["reports_unavailable"] == 1


def test_a_report_survives_the_node_being_opened_again(tmp_path: Path) -> None:
    a = _api(tmp_path / "net")
    rid = a.post(json=REPORT).json()["report_id"]
    a.node.store.close()
    b = Api(Node(Home(a.node.home.path)), a.keys)
    assert _listed(b, f"/v1/reports/{rid}")["text"] == REPORT["text"]
    b.node.store.close()


# -- reading: committee members only --------------------------------------------------
def test_only_a_committee_member_s_fresh_signature_reads_reports(api: Api) -> None:
    api.post(json=REPORT)
    unsigned = api.request("GET", "/v1/reports")
    assert (unsigned.status_code, _error(unsigned)) == (401, "unsigned")
    outsider = api.signed_get("/v1/reports", by="auditor")
    assert (outsider.status_code, _error(outsider)) == (403, "not_committee")
    old = {"govchain-time": str(int(time.time()) - 3_600)}
    stale = api.signed_get("/v1/reports", headers=old)
    assert (stale.status_code, _error(stale)) == (401, "stale_request")
    assert "your clock" in stale.json()["error"]["message"]
    forged = api.signed_get("/v1/reports", headers={"govchain-signature": "ab" * 64})
    assert (forged.status_code, _error(forged)) == (401, "bad_signature")
    bad = api.signed_get("/v1/reports", headers={"govchain-key": "not hex"})
    assert (bad.status_code, _error(bad)) == (400, "bad_signed_request")
    one = api.request("GET", "/v1/reports/" + "ab" * 32)
    assert one.status_code == 401


def test_a_captured_request_cannot_be_replayed(api: Api) -> None:
    target = "/v1/reports?status=open"
    h = sign(
        api.key("regulator-2"),
        api.node.genesis.chain_id,
        api.node.key.public_key,
        "GET",
        target,
        int(time.time()),
        secrets.token_bytes(NONCE_BYTES),
    )
    assert api.request("GET", target, headers=h).status_code == 200
    again = api.request("GET", target, headers=h)
    assert (again.status_code, _error(again)) == (401, "replayed")
    moved = api.request("GET", "/v1/reports?status=handled", headers=h)
    assert (moved.status_code, _error(moved)) == (401, "bad_signature")


def test_pages_run_newest_first_by_keyset_and_filter_by_status(api: Api) -> None:
    ids = [
        api.post(ip=f"10.2.0.{i}", json={**REPORT, "text": f"report {i}"}).json()["report_id"]
        for i in range(5)
    ]
    first = _listed(api, "/v1/reports?limit=2")
    assert [r["report_id"] for r in first["reports"]] == ids[:2:-1]
    second = _listed(api, f"/v1/reports?limit=2&after={first['next']}")
    assert [r["report_id"] for r in second["reports"]] == ids[2:0:-1]
    third = _listed(api, f"/v1/reports?limit=2&after={second['next']}")
    assert [r["report_id"] for r in third["reports"]] == ids[:1] and third["next"] is None
    assert len(_listed(api, "/v1/reports?status=open")["reports"]) == 5
    assert _listed(api, "/v1/reports?status=handled")["reports"] == []
    found = _listed(api, f"/v1/reports?prefix={ids[3][:10]}")
    assert found == {"prefix": ids[3][:10], "report_ids": [ids[3]], "more": False}


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/v1/reports?status=closed", 400, "bad_status"),
        ("/v1/reports?limit=0", 400, "bad_limit"),
        ("/v1/reports?limit=501", 400, "bad_limit"),
        ("/v1/reports?limit=-1", 400, "bad_limit"),
        ("/v1/reports?after=" + "00" * 32, 400, "bad_after"),
        ("/v1/reports?after=xyz", 400, "bad_after"),
        ("/v1/reports?page=2", 400, "bad_query"),
        ("/v1/reports?status=open&status=handled", 400, "bad_query"),
        ("/v1/reports?prefix=abc", 400, "bad_prefix"),
        ("/v1/reports/" + "00" * 32, 404, "not_found"),
        ("/v1/reports/ABCD", 400, "bad_report_id"),
    ],
)
def test_bad_arguments_of_a_signed_read_are_refused(
    api: Api, target: str, status: int, code: str
) -> None:
    r = api.signed_get(target)
    assert (r.status_code, _error(r)) == (status, code)


# -- described and counted --------------------------------------------------------------
def test_the_openapi_describes_the_report_channel(api: Api) -> None:
    paths = api.request("GET", "/openapi.json").json()["paths"]
    post = paths["/v1/reports"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", FORM}
    assert {"201", "303", "400", "413", "415", "429", "507"} <= set(post["responses"])
    listing = paths["/v1/reports"]["get"]
    names = {(p["in"], p["name"]) for p in listing["parameters"]}
    assert {
        ("query", "status"),
        ("query", "after"),
        ("query", "limit"),
        ("query", "prefix"),
    } <= names
    assert {("header", "Govchain-Signature"), ("header", "Govchain-Key")} <= names
    assert {"401", "403"} <= set(listing["responses"])
    assert "get" in paths["/v1/reports/{report_id}"]


# -- marking handled from executed heights ----------------------------------------------
def _entry(height: int, rid: str, tx: str = "cd" * 32, note: str = "done") -> AuditEntry:
    return AuditEntry(
        0, height, AUDIT_KIND, b"\x01" * 20, f"report:{rid}", "", f"tx:{tx} {note}", b"", b""
    )


def _executions(*heights: tuple[int, list[AuditEntry]]) -> list[Execution]:
    return [
        cast(
            Execution,
            SimpleNamespace(checkpoint=SimpleNamespace(height=h), result=SimpleNamespace(audit=a)),
        )
        for h, a in heights
    ]


def test_executed_heights_mark_the_reports_they_handle(api: Api) -> None:
    rid = api.post(json=REPORT).json()["report_id"]
    other = api.post(json=REPORT).json()["report_id"]
    reports_executed(api.node, [])
    reports_executed(api.node, _executions((1, []), (2, [_entry(2, rid, note="referred")])))
    shown = _listed(api, f"/v1/reports/{rid}")
    assert shown["status"] == "handled" and shown["note"] == "referred"
    assert (shown["handled_by"], shown["handled_at_height"], shown["handle_tx"]) == (
        "01" * 20,
        2,
        "cd" * 32,
    )
    assert _listed(api, f"/v1/reports/{other}")["status"] == "open"
    listed = _listed(api, "/v1/reports?status=handled")
    assert [r["report_id"] for r in listed["reports"]] == [rid] and listed["synced_height"] == 2


def test_a_gap_before_executed_heights_is_read_from_the_chain_store(tmp_path: Path) -> None:
    a = _api(tmp_path / "net")
    rid = a.post(json=REPORT).json()["report_id"]
    store = desk_of(a.node).store()
    reads: list[tuple[int, int]] = []

    def audit(lo: int, hi: int) -> list[AuditEntry]:
        reads.append((lo, hi))
        return [_entry(7, rid)] if lo <= 7 <= hi else []

    fake = cast(Any, SimpleNamespace(store=SimpleNamespace(audit=audit)))
    follow(store, fake, _executions((9, [])))  # heights 1..8 executed while it was away
    assert reads == [(1, 8)] and store.synced_height == 9
    got = store.get(bytes.fromhex(rid))
    assert got is not None and got.handled is not None and got.handled.height == 7
    catch_up(store, fake, 5)  # nothing before its synced height is read again
    assert reads == [(1, 8)]
    a.node.store.close()


def test_a_node_that_never_received_a_report_keeps_no_reports_file(tmp_path: Path) -> None:
    a = _api(tmp_path / "net")
    reports_executed(a.node, _executions((1, [_entry(1, "ab" * 32)])))
    assert not (a.node.home.path / "data" / "reports.sqlite").exists()
    a.node.store.close()


# -- fuzz ----------------------------------------------------------------------------------
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.binary(max_size=600),
        st.dictionaries(
            st.sampled_from(["category", "text", "subject", "contact", "x"]),
            st.one_of(st.text(max_size=50), st.integers(), st.none()),
        ).map(lambda d: json.dumps(d).encode()),
    ),
    ctype=st.sampled_from(["application/json", FORM, "", "text/plain"]),
)
def test_any_body_gets_a_typed_answer_and_only_a_201_keeps_a_report(
    api: Api, body: bytes, ctype: str
) -> None:
    desk_of(api.node).limiter = RateLimiter(source_burst=10**9, global_burst=10**9)
    before = _listed(api)["counts"]["open"]
    r = api.post(content=body, headers={"content-type": ctype} if ctype else {})
    assert r.status_code in ANSWERS, (r.status_code, r.text)
    if r.status_code != 201:
        _error(r)
    after = _listed(api)["counts"]["open"]
    assert after == before + (r.status_code == 201)
