"""Heights read in time: "height 312 (in about 1 min 40 s)" at the chain's recent pace.

Governance counts lifetimes in heights (an emergency measure lapses at the end
of `expires_height`), but people think in minutes. The node reports the mean
spacing of its recent checkpoints (`seconds_per_checkpoint` in GET
/v1/status); without it, heights are shown alone rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govchain.sdk.client import Client

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 1_440
HOURS_PER_DAY = 24
# Below this many minutes the seconds still matter ("1 min 40 s"); above, they are noise.
MINUTES_WITH_SECONDS_MAX = 10
# A node's pace above this is not believable (a day per checkpoint): ignore it.
SECONDS_PER_CHECKPOINT_MAX = float(SECONDS_PER_DAY)


def duration_words(seconds: float) -> str:
    """A duration for people: "40 s", "1 min 40 s", "2 h 5 min", "3 days 4 h"."""
    s = max(1, round(seconds))
    if s < SECONDS_PER_MINUTE:
        return f"{s} s"
    if s < MINUTES_WITH_SECONDS_MAX * SECONDS_PER_MINUTE:
        m, r = divmod(s, SECONDS_PER_MINUTE)
        return f"{m} min {r} s" if r else f"{m} min"
    minutes = round(s / SECONDS_PER_MINUTE)
    if minutes < MINUTES_PER_HOUR:
        return f"{minutes} min"
    if minutes < MINUTES_PER_DAY:
        h, r = divmod(minutes, MINUTES_PER_HOUR)
        return f"{h} h {r} min" if r else f"{h} h"
    d, r = divmod(round(s / SECONDS_PER_HOUR), HOURS_PER_DAY)
    days = f"{d} day" if d == 1 else f"{d} days"
    return f"{days} {r} h" if r else days


@dataclass(frozen=True)
class Pace:
    """The node's executed height now and its recent seconds per checkpoint (None: unknown)."""

    height: int
    seconds_per_checkpoint: float | None

    @classmethod
    def of_status(cls, doc: dict[str, Any]) -> Pace:
        """From a GET /v1/status document; a missing or implausible pace becomes None."""
        raw = doc.get("seconds_per_checkpoint")
        spc: float | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
            if math.isfinite(value) and 0 < value <= SECONDS_PER_CHECKPOINT_MAX:
                spc = value
        height = doc.get("height")
        return cls(height if isinstance(height, int) else 0, spc)

    def seconds_until(self, height: int) -> float | None:
        """Roughly how long until the chain has executed `height`; None when unknown or past."""
        if self.seconds_per_checkpoint is None or height <= self.height:
            return None
        return (height - self.height) * self.seconds_per_checkpoint

    def when(self, height: int) -> str:
        """ "height 312 (in about 1 min 40 s)"; "height 312" when the pace is unknown or past."""
        left = self.seconds_until(height)
        if left is None:
            return f"height {height}"
        return f"height {height} (in about {duration_words(left)})"


def pace_of(client: Client) -> Pace:
    """The pace the node reports now (one GET /v1/status)."""
    return Pace.of_status(client.status())
