"""Answers shared by every viewer for a moment: what a page's script polls.

Five browsers polling the same read each cost the node the same work; a read
that says "the last few seconds" is as true a fraction of a second later, so
its encoded answer is kept for SHARED_FOR_S and served to whoever asks the
same thing meanwhile. Bounded: at most ANSWERS_KEPT distinct questions.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from starlette.responses import JSONResponse, Response

SHARED_FOR_S = 1.0
ANSWERS_KEPT = 64


class SharedAnswers:
    """Encoded JSON answers by question, each served for SHARED_FOR_S after it was made."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()

    def answer(self, question: Hashable, make: Callable[[], Any]) -> Response:
        """The kept answer to question while fresh, else make()'s, kept."""
        now = self._clock()
        kept = self._kept.get(question)
        if kept is not None and now - kept[0] < SHARED_FOR_S:
            body = kept[1]
        else:
            body = bytes(JSONResponse(make()).body)
            self._kept[question] = (now, body)
            self._kept.move_to_end(question)
            while len(self._kept) > ANSWERS_KEPT:
                self._kept.popitem(last=False)
        return Response(body, media_type="application/json")
