"""Shared helpers for the benchmarks: raw Ed25519 rate, machine info, workloads, output.

Benchmarks print figures; they never assert speed. Everything here is deterministic
except the timings themselves.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Let `python bench/x.py` work without PYTHONPATH=src (run_all sets it anyway).
_SRC = Path(__file__).resolve().parents[1] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import msgspec  # noqa: E402
import nacl  # noqa: E402
import nacl.bindings  # noqa: E402

from govchain.codec import encode  # noqa: E402
from govchain.consensus.validators import ValidatorSet  # noqa: E402
from govchain.crypto.keys import SigningKey  # noqa: E402
from govchain.dag.tx import Transaction, build  # noqa: E402
from govchain.state.genesis import Genesis  # noqa: E402
from govchain.state.payloads import TransferPayload  # noqa: E402

CHAIN_ID = "govchain-bench"
RAW_VERIFY_MESSAGE_BYTES = 200
SENDER_BALANCE = 10**12


# -- machine and reference rate ------------------------------------------------------
def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Platform, CPU, core count and library versions of this run."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pynacl": nacl.__version__,
        "msgspec": msgspec.__version__,
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def load_note(info: dict[str, Any]) -> str | None:
    """A warning when other work was running as the benchmark started."""
    load = info.get("loadavg_1m")
    if load is not None and load > 0.5:
        return (
            f"note: 1-minute load average was {load:.2f} at start; other processes may "
            "share the cores: absolute rates are noisy, so compare them with the raw "
            "verify rate measured in the same run"
        )
    return None


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line describing the machine, for tables and headers."""
    m = info or machine_info()
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['platform']}, {m['python']}, "
        f"PyNaCl {m['pynacl']}, msgspec {m['msgspec']}"
    )


class RawVerifier:
    """libsodium's Ed25519 verify alone: nacl.bindings.crypto_sign_open over a
    200-byte message, the signed message prepared once. The ceiling admission is
    compared with; run() lets a benchmark interleave it with the code under test."""

    def __init__(self) -> None:
        key = SigningKey.from_label("bench-raw-verify")
        message = bytes(range(256))[:RAW_VERIFY_MESSAGE_BYTES]
        self.signed = nacl.bindings.crypto_sign(message, key._secret)
        self.public_key = key.public_key
        assert nacl.bindings.crypto_sign_open(self.signed, self.public_key) == message

    def run(self, count: int) -> None:
        """Verify count times."""
        sign_open = nacl.bindings.crypto_sign_open
        signed, pk = self.signed, self.public_key
        for _ in range(count):
            sign_open(signed, pk)


def raw_verify_rate(seconds: float = 2.0) -> float:
    """Raw Ed25519 verifications per second on this core, right now (see RawVerifier)."""
    v = RawVerifier()
    done = 0
    start = now()
    deadline = start + seconds
    while True:
        v.run(200)
        done += 200
        t = now()
        if t >= deadline:
            return done / (t - start)


# -- timing ----------------------------------------------------------------------
# The clock of every timed section. "cpu" (the default) is this process's CPU time:
# the code under test is single-threaded and CPU-bound, and CPU time is far less
# disturbed than wall time when other work shares the two cores. "wall" is
# time.perf_counter(). set_clock() switches it (the benchmarks' --clock flag).
_CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
_clock_in_use: list[Callable[[], float]] = [time.process_time]


def set_clock(name: str) -> None:
    """Choose the clock that now() reads: "cpu" or "wall"."""
    _clock_in_use[0] = _CLOCKS[name]


def now() -> float:
    """Seconds on the chosen clock."""
    return _clock_in_use[0]()


def time_it(fn: Callable[[], Any]) -> float:
    """Seconds one call of fn takes on the chosen clock (after a full collection)."""
    gc.collect()
    t0 = now()
    fn()
    return now() - t0


# -- workload ----------------------------------------------------------------------
def sender_keys(count: int) -> list[SigningKey]:
    """Reproducible sender keys."""
    return [SigningKey.from_label(f"bench-sender-{i}") for i in range(count)]


def bench_genesis(keys: list[SigningKey]) -> Genesis:
    """A genesis funding every sender, with one validator and a one-member committee."""
    validator = SigningKey.from_label("bench-validator")
    authority = SigningKey.from_label("bench-authority")
    return Genesis(
        chain_id=CHAIN_ID,
        time_ms=0,
        balances=tuple(sorted((k.address, SENDER_BALANCE) for k in keys)),
        validators=ValidatorSet.of({validator.public_key: 1}),
        committee=((authority.public_key, 1),),
        threshold=1,
    )


def build_transfers(
    count: int,
    keys: list[SigningKey],
    genesis_id: bytes,
    *,
    stamp_bits_min: int,
    seed: int = 1,
    window: int = 16,
    valid_until: int = 1_000,
    progress: Callable[[int], None] | None = None,
) -> list[Transaction]:
    """count signed transfers in an order in which each is admissible without orphans.

    A random sender sends each one; it names two parents: the sender's previous
    transaction (nonce chain; the genesis root for its first) and one of the
    `window` most recent transactions overall. Since every transaction but each
    sender's last is a parent of that sender's next, the DAG keeps at most one tip
    per sender, and a prefix's tips cover the whole prefix.
    """
    rng = random.Random(seed)
    addresses = [k.address for k in keys]
    last: list[bytes | None] = [None] * len(keys)
    nonces = [0] * len(keys)
    recent: list[bytes] = []
    out: list[Transaction] = []
    for i in range(count):
        s = rng.randrange(len(keys))
        to = addresses[(s + 1 + rng.randrange(len(keys) - 1)) % len(keys)]
        prev = last[s]  # a name, so that mypy narrows it
        own = prev if prev is not None else genesis_id
        other = rng.choice(recent[-window:]) if recent else genesis_id
        tx = build(
            keys[s],
            chain_id=CHAIN_ID,
            kind="transfer",
            nonce=nonces[s],
            parents=[own, other],
            valid_until=valid_until,
            payload=encode(TransferPayload(to, rng.randint(1, 1_000))),
            stamp_bits_min=stamp_bits_min,
        )
        nonces[s] += 1
        last[s] = tx.id
        recent.append(tx.id)
        if len(recent) > 4 * window:
            del recent[:-window]
        out.append(tx)
        if progress is not None and (i + 1) % 1_000 == 0:
            progress(i + 1)
    return out


# -- command line and output ---------------------------------------------------------
def arg_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the flags every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a run of about 5 seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time with process CPU time (default; robust on a shared machine) or wall time",
    )
    return p


class Reporter:
    """Human-readable lines on stdout, or (with --json) progress on stderr only."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def line(self, text: str = "") -> None:
        """A line of the human report."""
        if not self.as_json:
            print(text, flush=True)

    def progress(self, text: str) -> None:
        """Setup progress: stderr, so --json output stays one object."""
        print(text, file=sys.stderr, flush=True)

    def emit(self, result: dict[str, Any]) -> None:
        """The JSON object (only with --json)."""
        if self.as_json:
            print(json.dumps(result, indent=None, sort_keys=False))


def fmt_rate(x: float) -> str:
    """A rate with thousands separators."""
    return f"{x:,.0f}"


def fmt_opt(x: float | None, spec: str) -> str:
    """x formatted by spec, or "n/a" when the figure could not be taken."""
    return "n/a" if x is None else format(x, spec)
