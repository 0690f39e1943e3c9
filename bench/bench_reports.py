"""The report channel's costs: keeping a report (one fsync'd commit), reading a page at a
full store, checking a signed request, and the disk a full store takes.

Fills a store to REPORTS_COUNT_MAX reports of a typical size (in one transaction:
the fill is not what is measured), then times add() on a fresh file (each a
commit with synchronous=FULL, as a node keeps a report), page() at the newest
end and deep in the keyset, with and without a status filter, and
RequestVerifier.check. Wall-clock times.

    PYTHONPATH=src python bench/bench_reports.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from govchain.crypto.keys import SigningKey
from govchain.reports.report import Report, report_id
from govchain.reports.signed import NONCE_BYTES, RequestVerifier, sign
from govchain.reports.store import REPORTS_COUNT_MAX, ReportStore, Status
from govchain.state.kinds.report_handle import Handled

NODE = SigningKey.from_label("bench-node").public_key
MEMBER = SigningKey.from_label("bench-member")
T0_MS = 1_700_000_000_000
TEXT = "网店收了定金一直不发货客服电话也打不通了" * 10  # 200 characters, 600 bytes


def _fill(path: Path, count: int) -> ReportStore:
    """A store holding count reports, one in ten handled, written in one transaction."""
    store = ReportStore(path, NODE, 0)
    rows = []
    for i in range(count):
        r = Report("fraud", f"shop-{i}", TEXT, "138 0000 0000")
        rows.append(
            (report_id(r, NODE, T0_MS + i), T0_MS + i, r.category, r.subject, r.text, r.contact,
             r.size_bytes)
        )  # fmt: skip
    db = store._db
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO reports (report_id, received_ms, category, subject, text, contact,"
        " size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute(
        "UPDATE meta SET count = ?, last_ms = ?, bytes = ? WHERE id = 1",
        (count, T0_MS + count, sum(r[6] for r in rows)),
    )
    db.execute("COMMIT")
    store.close()
    store = ReportStore(path, NODE, 0)
    marks = [
        Handled(rows[i][0], MEMBER.address, 5, b"\x01" * 32, "done") for i in range(0, count, 10)
    ]
    store.apply(marks, 5)
    return store


def _ms_per_call(fn: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print the figures (one JSON document with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 reports instead of the maximum")
    ap.add_argument("--json", action="store_true", help="one JSON document")
    args = ap.parse_args()
    count = 10_000 if args.quick else REPORTS_COUNT_MAX
    out: dict[str, float] = {"reports": count}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fresh = ReportStore(root / "fresh.sqlite", NODE, 0)
        r = Report("fraud", "shop-1", TEXT, "")
        out["add_ms_p50"] = _ms_per_call(lambda: fresh.add(r, T0_MS), 200)
        fresh.close()

        store = _fill(root / "full.sqlite", count)
        newest, _ = store.page(None, None, 50)
        deep = store.page(None, None, 500)[0][-1].report_id
        out["page50_newest_ms"] = _ms_per_call(lambda: store.page(None, None, 50), 200)
        out["page50_open_ms"] = _ms_per_call(lambda: store.page(Status.OPEN, None, 50), 200)
        out["page50_handled_ms"] = _ms_per_call(lambda: store.page(Status.HANDLED, None, 50), 200)
        out["page50_after_500_ms"] = _ms_per_call(lambda: store.page(None, deep, 50), 200)
        out["get_ms"] = _ms_per_call(lambda: store.get(newest[7].report_id), 500)
        prefix = newest[3].report_id.hex()[:10]
        out["prefix_ms"] = _ms_per_call(lambda: store.ids_with_prefix(prefix, 17), 500)
        store.close()
        size = sum(os.path.getsize(p) for p in root.glob("full.sqlite*"))
        out["file_bytes"] = size
        out["file_bytes_per_report"] = size / count

    v = RequestVerifier("bench-chain", NODE, seen_max=10**9)
    members = {MEMBER.public_key: 1}
    n = 5_000
    now = int(time.time())
    signed = [
        sign(MEMBER, "bench-chain", NODE, "GET", "/v1/reports", now, i.to_bytes(NONCE_BYTES, "big"))
        for i in range(n)
    ]
    t = time.perf_counter()
    for h in signed:
        v.check(h, "GET", "/v1/reports", time.time(), members)
    out["signed_checks_per_s"] = n / (time.perf_counter() - t)

    if args.json:
        print(json.dumps({k: round(x, 4) for k, x in out.items()}))
        return
    for k, x in out.items():
        print(f"{k:>24}  {x:,.3f}")


if __name__ == "__main__":
    main()
