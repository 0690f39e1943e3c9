#!/usr/bin/env python3
"""Write each target's seeds (valid encodings the code makes) under fuzz/corpus/<target>/.

    fuzz/make_corpus.py [TARGET ...]

Seeds are deterministic (keys from labels, no clock), so running this again
rewrites the same files unless an encoding changed.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from targets import TARGETS

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def main() -> int:
    """Write the seeds of the targets named (default: all)."""
    for name in sys.argv[1:] or TARGETS:
        seeds = importlib.import_module(f"targets.{name}").seeds()
        out = CORPUS_DIR / name
        out.mkdir(parents=True, exist_ok=True)
        for label, data in seeds.items():
            (out / f"seed-{label}").write_bytes(data)
        print(f"{name}: {len(seeds)} seeds", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
