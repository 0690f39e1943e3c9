"""Admission throughput: Dag.admit(wire, now_ms) with signature checks, on one core.

Pre-builds signed transfers (not timed), then times admitting all of them into a
fresh DAG, and compares the rate with libsodium's raw Ed25519 verify rate measured
in the same run, interleaved chunk by chunk with the admission passes so that both
see the same machine. The issue's target: admission within 70% of raw verify
(ratio >= 0.7). Also breaks the per-transaction cost down. Times are process CPU
time unless --clock wall.

    PYTHONPATH=src python bench/bench_admission.py [--quick] [--json] [--profile]
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

import nacl.bindings

from common import (
    CHAIN_ID,
    RawVerifier,
    Reporter,
    arg_parser,
    bench_genesis,
    build_transfers,
    fmt_rate,
    load_note,
    machine_info,
    machine_line,
    now,
    raw_verify_rate,
    sender_keys,
    set_clock,
)
from govchain.codec import decode_canonical
from govchain.crypto.keys import _L, point_is_acceptable, verify
from govchain.dag.admission import check_signature, decode_checked
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import (
    BODY_DECODER,
    SIGN_DOMAIN,
    WIRE_DECODER,
    payload_hash,
    stamp_ok,
    tx_id,
)

TARGET_RATIO = 0.7
CHUNK = 250  # transactions admitted between two stretches of raw verification
BREAKDOWN_TXS = 5_000
NOW_MS = 1_000


Step = Callable[[int, int], None]  # runs one step over transactions [lo, hi)


def round_robin(steps: dict[str, Callable[[], Step]], count: int, passes: int) -> dict[str, float]:
    """Microseconds per transaction of each step, run chunk by chunk in turn.

    Each factory is called once per pass (a stateful step builds its DAG there).
    """
    totals = dict.fromkeys(steps, 0.0)
    for _ in range(passes):
        runners = {name: make() for name, make in steps.items()}
        gc.collect()
        for lo in range(0, count, CHUNK):
            hi = min(lo + CHUNK, count)
            for name, run in runners.items():
                t0 = now()
                run(lo, hi)
                totals[name] += now() - t0
    return {name: t / passes / count * 1e6 for name, t in totals.items()}


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--txs", type=int, help="transactions (default 20000, quick 2000)")
    p.add_argument("--senders", type=int, default=50)
    p.add_argument("--reps", type=int, default=3, help="timed passes")
    p.add_argument(
        "--verify-seconds", type=float, help="standalone raw verify time (default 2, quick 0.5)"
    )
    p.add_argument("--profile", action="store_true", help="also cProfile one admission pass")
    args = p.parse_args()
    set_clock(args.clock)
    n = args.txs or (2_000 if args.quick else 20_000)
    verify_s = args.verify_seconds or (0.5 if args.quick else 2.0)
    out = Reporter(args.json)
    info = machine_info()

    # Default limits except quotas, so that nothing but a bad transaction is refused.
    # One pool holds the whole run: no back-pressure limit applies here.
    limits = DagLimits(sender_pending_max=10**9, pending_count_max=10**9, client_pending_max=10**9)
    keys = sender_keys(args.senders)
    genesis = bench_genesis(keys)
    gid = genesis.hash
    out.progress(f"building {n} transfers (stamp_bits_min={limits.stamp_bits_min}, not timed)...")
    t0 = time.perf_counter()
    txs = build_transfers(n, keys, gid, stamp_bits_min=limits.stamp_bits_min)
    build_s = time.perf_counter() - t0
    wires = [tx.to_wire() for tx in txs]

    # -- the headline: full admission, interleaved with raw verify --------------------
    # The machine may be shared, so each pass alternates admitting CHUNK transactions
    # with CHUNK raw verifications, timing each: both see the same conditions, and
    # the ratio is the two totals' quotient.
    def admit_all() -> Dag:
        dag = Dag(CHAIN_ID, gid, limits)
        admit = dag.admit
        for w in wires:
            admit(w, NOW_MS)
        return dag

    check = admit_all()
    assert len(check.vertices) == n and check.orphan_count() == 0, "workload not admissible"
    del check
    chunks = [wires[i : i + CHUNK] for i in range(0, n, CHUNK)]
    raw_v = RawVerifier()

    def interleaved_pass() -> tuple[float, float]:
        dag = Dag(CHAIN_ID, gid, limits)
        admit = dag.admit
        t_admit = t_raw = 0.0
        gc.collect()
        for chunk in chunks:
            t0 = now()
            for w in chunk:
                admit(w, NOW_MS)
            t1 = now()
            raw_v.run(len(chunk))
            t_admit += t1 - t0
            t_raw += now() - t1
        return t_admit, t_raw

    raw_standalone = raw_verify_rate(verify_s)
    passes = [interleaved_pass() for _ in range(args.reps)]
    admit_total = sum(a for a, _ in passes)
    raw_total = sum(r for _, r in passes)
    admit_rate = n * len(passes) / admit_total
    raw = n * len(passes) / raw_total
    ratio = raw_total / admit_total
    pass_ratios = [r / a for a, r in passes]
    admit_rate_best = n / min(a for a, _ in passes)

    # -- breakdown ---------------------------------------------------------------------
    # Every step runs over the first BREAKDOWN_TXS transactions, round-robin by chunk:
    # chunk k goes through each step in turn before chunk k+1, so all steps (and the
    # raw verify beside them) see the same machine conditions. Mean over passes.
    m = min(n, BREAKDOWN_TXS)
    sub_wires = wires[:m]
    decoded = [decode_checked(w, CHAIN_ID, limits) for w in sub_wires]
    wire_objs = [WIRE_DECODER.decode(w) for w in sub_wires]
    sign_open = nacl.bindings.crypto_sign_open

    def s_admit() -> Step:
        admit = Dag(CHAIN_ID, gid, limits).admit

        def run(lo: int, hi: int) -> None:
            for w in sub_wires[lo:hi]:
                admit(w, NOW_MS)

        return run

    def s_insert() -> Step:
        admit_tx = Dag(CHAIN_ID, gid, limits).admit_tx

        def run(lo: int, hi: int) -> None:
            for tx in decoded[lo:hi]:
                admit_tx(tx, NOW_MS, verify_signature=False)

        return run

    def stateless(body: Callable[[int, int], None]) -> Callable[[], Step]:
        return lambda: body

    def r_decode_checked(lo: int, hi: int) -> None:
        for w in sub_wires[lo:hi]:
            decode_checked(w, CHAIN_ID, limits)

    def r_check_signature(lo: int, hi: int) -> None:
        for tx in decoded[lo:hi]:
            check_signature(tx)

    def r_wire_decode(lo: int, hi: int) -> None:
        for w in sub_wires[lo:hi]:
            decode_canonical(w, WIRE_DECODER)

    def r_body_decode(lo: int, hi: int) -> None:
        for w in wire_objs[lo:hi]:
            decode_canonical(w.body, BODY_DECODER)

    def r_payload_hash(lo: int, hi: int) -> None:
        for w in wire_objs[lo:hi]:
            payload_hash(w.payload)

    def r_stamp_bits(lo: int, hi: int) -> None:
        for w in wire_objs[lo:hi]:
            stamp_ok(w.body, limits.stamp_bits_min)

    def r_tx_id(lo: int, hi: int) -> None:
        for w in wire_objs[lo:hi]:
            tx_id(w.body, w.signature)

    def r_sender_point(lo: int, hi: int) -> None:
        for tx in decoded[lo:hi]:
            point_is_acceptable(tx.body.sender)

    def r_keys_verify(lo: int, hi: int) -> None:
        for tx in decoded[lo:hi]:
            verify(tx.body.sender, SIGN_DOMAIN + tx.body_bytes, tx.signature)

    def r_strict_prechecks(lo: int, hi: int) -> None:
        # What keys.verify does before libsodium: key and R point checks, S < L.
        for tx in decoded[lo:hi]:
            sig = tx.signature
            point_is_acceptable(tx.body.sender)
            int.from_bytes(sig[32:], "little") < _L  # noqa: B015
            point_is_acceptable(sig[:32])

    def r_libsodium(lo: int, hi: int) -> None:
        for tx in decoded[lo:hi]:
            sign_open(tx.signature + SIGN_DOMAIN + tx.body_bytes, tx.body.sender)

    def r_raw(lo: int, hi: int) -> None:
        raw_v.run(hi - lo)

    steps: dict[str, Callable[[], Step]] = {
        "admit_total": s_admit,
        "decode_checked": stateless(r_decode_checked),
        "check_signature": stateless(r_check_signature),
        "dag_insert": s_insert,
        "wire_decode_canonical": stateless(r_wire_decode),
        "body_decode_canonical": stateless(r_body_decode),
        "payload_hash": stateless(r_payload_hash),
        "stamp_bits": stateless(r_stamp_bits),
        "tx_id": stateless(r_tx_id),
        "sender_point_check": stateless(r_sender_point),
        "keys_verify": stateless(r_keys_verify),
        "strict_prechecks": stateless(r_strict_prechecks),
        "libsodium_sign_open": stateless(r_libsodium),
        "raw_verify_200B": stateless(r_raw),
    }
    us = round_robin(steps, m, args.reps)
    parts = {k: us[k] for k in ("admit_total", "decode_checked", "check_signature", "dag_insert")}
    parts["unattributed"] = parts["admit_total"] - (
        parts["decode_checked"] + parts["check_signature"] + parts["dag_insert"]
    )
    decode_parts = {
        k: us[k]
        for k in (
            "wire_decode_canonical",
            "body_decode_canonical",
            "payload_hash",
            "stamp_bits",
            "tx_id",
            "sender_point_check",
        )
    }
    signature_parts = {k: us[k] for k in ("keys_verify", "strict_prechecks", "libsodium_sign_open")}
    raw_us = us["raw_verify_200B"]

    result: dict[str, Any] = {
        "bench": "admission",
        "quick": args.quick,
        "clock": args.clock,
        "machine": info,
        "txs": n,
        "senders": args.senders,
        "reps": args.reps,
        "stamp_bits_min": limits.stamp_bits_min,
        "wire_bytes_mean": sum(map(len, wires)) / n,
        "build_seconds": build_s,
        "chunk": CHUNK,
        "raw_verify_per_s": raw,
        "raw_verify_per_s_standalone": raw_standalone,
        "admission_per_s": admit_rate,
        "admission_per_s_best_pass": admit_rate_best,
        "ratio": ratio,
        "ratio_per_pass": pass_ratios,
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "breakdown_us_per_tx": parts,
        "decode_checked_us_per_tx": decode_parts,
        "check_signature_us_per_tx": signature_parts,
        "raw_verify_us": raw_us,
    }

    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"admission: {n} transfers from {args.senders} senders, "
        f"{result['wire_bytes_mean']:.0f} B each, stamp {limits.stamp_bits_min} bits "
        f"(built in {build_s:.1f} s, not timed); {args.reps} passes, {args.clock} clock"
    )
    out.line()
    out.line(
        f"  Dag.admit (with signatures) {fmt_rate(admit_rate):>10} tx/s  "
        f"(best pass {fmt_rate(admit_rate_best)})"
    )
    out.line(
        f"  raw Ed25519 verify          {fmt_rate(raw):>10} /s    "
        f"(interleaved with admission; alone for {verify_s:g} s: {fmt_rate(raw_standalone)})"
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    out.line(
        f"  ratio admission / raw       {ratio:>10.3f}      ({verdict} target {TARGET_RATIO}; "
        f"per pass {', '.join(f'{r:.3f}' for r in pass_ratios)})"
    )
    out.line()
    out.line(
        f"  per-transaction cost (us; first {m} txs, steps interleaved by chunks of {CHUNK}, "
        f"mean of {args.reps} passes)"
    )
    share = parts["admit_total"]
    for name, cost_us in parts.items():
        pct = "" if name == "admit_total" else f"  {cost_us / share:6.1%}"
        out.line(f"    {name:<26} {cost_us:8.2f}{pct}")
    out.line("    decode_checked, by step:")
    for name, cost_us in decode_parts.items():
        out.line(f"      {name:<24} {cost_us:8.2f}")
    out.line("    check_signature, by step:")
    for name, cost_us in signature_parts.items():
        out.line(f"      {name:<24} {cost_us:8.2f}")
    out.line(f"    raw verify (200-byte message, prepared)  {raw_us:8.2f}")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        admit_all()
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        out.line()
        out.line("cProfile of one admission pass (by own time; profiling inflates Python costs):")
        out.line(buf.getvalue())
        result["profile_top"] = buf.getvalue() if args.json else None
    out.emit(result)


if __name__ == "__main__":
    main()
