"""A soak's journal: one JSON line per finished seed, so a stopped soak resumes."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import msgspec

from govchain.sim.soak_mix import MIX_VERSION
from govchain.sim.soak_tally import SeedOutcome

JOURNAL_KIND = "govchain-sim-soak"


class JournalHeader(msgspec.Struct, frozen=True):
    """The first line: which mix and plant the outcomes below were run with."""

    kind: str
    mix: str
    plant: str | None


class JournalError(ValueError):
    """The journal is not one this soak can resume (another mix, plant, or no journal)."""


def read_journal(path: Path, plant: str | None) -> list[SeedOutcome]:
    """The outcomes a journal holds; [] when it does not exist yet."""
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    if not lines:
        return []
    try:
        head = msgspec.json.decode(lines[0], type=JournalHeader)
    except msgspec.DecodeError as exc:
        raise JournalError(f"{path} is no soak journal: {exc}") from exc
    if head.kind != JOURNAL_KIND or head.mix != MIX_VERSION:
        raise JournalError(f"{path} was written by another soak mix ({head.mix})")
    if head.plant != plant:
        raise JournalError(
            f"{path} was written {_plant(head.plant)}, this soak runs {_plant(plant)}"
        )
    decoder = msgspec.json.Decoder(SeedOutcome)
    outcomes = []
    for i, line in enumerate(lines[1:], start=2):
        try:
            outcomes.append(decoder.decode(line))
        except msgspec.DecodeError:
            # A line cut by a kill: that seed simply runs again. Only the last can be.
            if i != len(lines):
                raise JournalError(f"{path} line {i} is not a seed outcome") from None
    return outcomes


def _plant(plant: str | None) -> str:
    return f"with --plant {plant}" if plant else "without --plant"


class JournalWriter:
    """Appends outcomes, a line each, flushed: a kill loses at most the seed in flight."""

    def __init__(self, path: Path, plant: str | None) -> None:
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh and not path.read_bytes().endswith(b"\n"):
            # Drop a line cut by a kill so the next one starts clean.
            data = path.read_bytes()
            path.write_bytes(data[: data.rfind(b"\n") + 1])
        self._file: IO[bytes] = path.open("ab")
        if fresh:
            self._line(JournalHeader(JOURNAL_KIND, MIX_VERSION, plant))

    def append(self, outcome: SeedOutcome) -> None:
        """One finished seed."""
        self._line(outcome)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _line(self, obj: object) -> None:
        self._file.write(msgspec.json.encode(obj) + b"\n")
        self._file.flush()
