#!/usr/bin/env python3
"""Run the fuzz targets: coverage-guided with atheris, or replay a corpus in plain Python.

    fuzz/run.py list
    fuzz/run.py fuzz [TARGET ...|all] [--seconds S] [--runs N] [--timeout S] [--work DIR]
                     [--findings DIR] [--json] [-v]
    fuzz/run.py replay [TARGET ...|all] [--corpus DIR] [--file INPUT]

`fuzz` runs each target in a process of its own, one after the other (one
core), starting from its committed seeds (fuzz/corpus/<target>/) and the
corpus grown in --work DIR/<target>/ by earlier runs (new inputs go there;
without --work, a temporary directory). The only acceptable failure is a
target's typed error: any other exception, a crash, or an input running
longer than --timeout is a finding, written with the log to
fuzz/findings/<target>/ (or --findings DIR) and reported; the exit status is
then 1. `replay` runs every corpus file
through each target without instrumentation or atheris: the fast regression.
docs/fuzzing.md has the commands and the figures of the last long run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

from targets import DICTS, INSTRUMENT, TARGETS

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
FINDINGS_DIR = FUZZ_DIR / "findings"
CHILD = "_child"  # the hidden command a fuzzing process runs
RSS_LIMIT_MB = 2048
_STATUS = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")
_FINAL = re.compile(r"stat::(\w+):\s*(\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Outcome:
    """What one target's fuzzing run did (figures as libFuzzer printed them)."""

    target: str
    clean: bool
    runs: int = 0
    exec_per_s: int = 0
    seconds: float = 0.0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    new_units: int = 0
    peak_rss_mb: int = 0
    finding: str | None = None  # the input that failed, as written to fuzz/findings/


def load(name: str) -> ModuleType:
    """A target module by name (targets.<name>)."""
    if name not in TARGETS:
        raise SystemExit(f"unknown target {name!r}: one of {', '.join(TARGETS)}")
    return importlib.import_module(f"targets.{name}")


def run_one(module: ModuleType, data: bytes) -> None:
    """One input through a target; its typed errors are the acceptable answers."""
    with contextlib.suppress(*module.ACCEPTED):
        module.test_one_input(data)


def parse_log(target: str, log: str, rc: int, seconds: float) -> Outcome:
    """The figures and the finding (if any) of one fuzzing process's output."""
    out = Outcome(target, clean=rc == 0, seconds=round(seconds, 1))
    for cov, ft, corp in _STATUS.findall(log):
        out.cov, out.ft, out.corpus = int(cov), int(ft), int(corp)
    final = dict(_FINAL.findall(log))
    out.runs = int(final.get("number_of_executed_units", 0))
    out.exec_per_s = int(final.get("average_exec_per_sec", 0))
    out.new_units = int(final.get("new_units_added", 0))
    out.peak_rss_mb = int(final.get("peak_rss_mb", 0))
    artifacts = _ARTIFACT.findall(log)
    if artifacts:
        out.finding = artifacts[-1]
    if not out.clean and out.finding is None:
        out.finding = f"exit status {rc} and no input written (see the log)"
    return out


def fuzz(name: str, args: argparse.Namespace) -> Outcome:
    """Fuzz one target in a process of its own; its whole log goes to stderr with -v, and
    its tail when it ends with a finding."""
    seeds = CORPUS_DIR / name
    findings = Path(args.findings) / name
    findings.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"govchain-fuzz-{name}-"))
    work = Path(args.work) / name if args.work else scratch / "corpus"
    work.mkdir(parents=True, exist_ok=True)
    flags = [
        f"-timeout={args.timeout}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={findings}/",
        "-print_final_stats=1",
    ]
    if name in DICTS:
        flags.append(f"-dict={FUZZ_DIR / 'dicts' / DICTS[name]}.dict")
    if args.seconds:
        flags.append(f"-max_total_time={args.seconds}")
    if args.runs:
        flags.append(f"-runs={args.runs}")
    cmd = [sys.executable, str(Path(__file__).resolve()), CHILD, name, *flags, str(work)]
    if seeds.is_dir():
        cmd.append(str(seeds))
    # A target's temporary files (the API target's node home) go where this process
    # removes them: libFuzzer ends the child with exit(), which skips Python's cleanup.
    env = {**os.environ, "TMPDIR": str(scratch)}
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
        seconds = time.monotonic() - started
        log_path = scratch / "log"
        if args.verbose:
            sys.stderr.write(proc.stdout)
        log_path.write_text(proc.stdout)
        out = parse_log(name, proc.stdout, proc.returncode, seconds)
        if not out.clean:
            kept = findings / f"log-{int(time.time())}.txt"
            shutil.copyfile(log_path, kept)
            sys.stderr.write(proc.stdout[-6000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def child(name: str, flags: list[str]) -> None:
    """Inside the fuzzing process: instrument govchain, import the target, fuzz."""
    import atheris  # noqa: PLC0415 (only the fuzzing process needs it)

    with atheris.instrument_imports(include=list(INSTRUMENT.get(name, ("govchain",)))):
        module = load(name)

    def one(data: bytes) -> None:
        run_one(module, data)

    atheris.Setup([sys.argv[0], *flags], one)
    atheris.Fuzz()


def replay(names: list[str], extra: list[Path], only: list[Path]) -> int:
    """Every corpus file (or only the files given) through its target in plain Python;
    1 when any fails."""
    failed = 0
    for name in names:
        module = load(name)
        dirs = [CORPUS_DIR / name, *(d / name for d in extra)]
        files = only or sorted(f for d in dirs if d.is_dir() for f in d.iterdir() if f.is_file())
        slowest = 0.0
        for f in files:
            started = time.monotonic()
            try:
                run_one(module, f.read_bytes())
            except Exception:
                failed += 1
                print(f"FAIL {name} {f}", flush=True)
                traceback.print_exc()
            slowest = max(slowest, time.monotonic() - started)
        print(f"{name}: {len(files)} inputs replayed, slowest {slowest * 1000:.0f} ms", flush=True)
    return 1 if failed else 0


def main() -> int:
    """The command line (see the module docstring)."""
    if len(sys.argv) > 2 and sys.argv[1] == CHILD:
        child(sys.argv[2], sys.argv[3:])
        return 0
    p = argparse.ArgumentParser(description="Fuzz govchain's decoders (docs/fuzzing.md).")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the targets")
    f = sub.add_parser("fuzz", help="coverage-guided fuzzing with atheris")
    f.add_argument("targets", nargs="*", default=["all"])
    f.add_argument("--seconds", type=int, default=60, help="per target (0: no limit)")
    f.add_argument("--runs", type=int, default=0, help="inputs per target (0: no limit)")
    f.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    f.add_argument("--work", default=None, help="keep each target's grown corpus here")
    f.add_argument("--findings", default=str(FINDINGS_DIR), help="where failing inputs go")
    f.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    f.add_argument("-v", "--verbose", action="store_true", help="show libFuzzer's output")
    r = sub.add_parser("replay", help="the corpus through each target, plain Python")
    r.add_argument("targets", nargs="*", default=["all"])
    r.add_argument("--corpus", type=Path, action="append", default=[], help="more corpus roots")
    r.add_argument("--file", type=Path, action="append", default=[], help="only this input")
    args = p.parse_args()
    if args.command == "list":
        print("\n".join(TARGETS))
        return 0
    names = list(TARGETS) if args.targets in (["all"], []) else args.targets
    for name in names:
        if name not in TARGETS:
            raise SystemExit(f"unknown target {name!r}: one of {', '.join(TARGETS)}")
    if args.command == "replay":
        return replay(names, args.corpus, args.file)
    outcomes = []
    for name in names:
        out = fuzz(name, args)
        outcomes.append(out)
        if not args.json:
            print(
                f"{name:14} {'clean' if out.clean else 'FINDING'}  runs {out.runs}"
                f"  exec/s {out.exec_per_s}  cov {out.cov}  ft {out.ft}  corpus {out.corpus}"
                f"  new {out.new_units}  rss {out.peak_rss_mb} MB  {out.seconds} s"
                + (f"  -> {out.finding}" if out.finding else ""),
                flush=True,
            )
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
