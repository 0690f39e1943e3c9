"""How often the public may send reports: token buckets per source and one for everyone.

Pure: the time comes in as an argument (seconds on a monotonic clock), so a
test steps it. Each source (an IPv4 address, or an IPv6 /64: one host commonly
holds a whole /64) has a bucket of `source_burst` tokens that refills one
token every `source_refill_s`; all sources together draw from one global
bucket as well, so that many addresses cannot flood a node either. A report
takes one token from both, or from neither.

The table of sources is bounded (`sources_max`): when it is full, the source
heard from least recently is forgotten. Forgetting gives that source a full
bucket again, at most `source_burst` reports more, and the global bucket
bounds those too.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass

SOURCE_BURST = 5
SOURCE_REFILL_S = 12.0  # 5 a minute
GLOBAL_BURST = 60
GLOBAL_REFILL_S = 0.5  # 120 a minute from all sources together
SOURCES_MAX = 10_000
IPV6_PREFIX_BITS = 64
UNKNOWN_SOURCE = "unknown"  # a request without a peer address: all such share one bucket


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float

    def refill(self, now_s: float, burst: int, refill_s: float) -> None:
        if now_s > self.at_s:
            self.tokens = min(float(burst), self.tokens + (now_s - self.at_s) / refill_s)
            self.at_s = now_s

    def wait_s(self, refill_s: float) -> float:
        """Seconds until one whole token is back (0: there is one)."""
        return max(0.0, (1.0 - self.tokens) * refill_s)


def source_of(host: str | None) -> str:
    """The bucket a peer address draws from: the IPv4 address, the IPv6 /64, or 'unknown'."""
    if not host:
        return UNKNOWN_SOURCE
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        net = ipaddress.IPv6Network((ip, IPV6_PREFIX_BITS), strict=False)
        return str(net)
    return str(ip)


class RateLimiter:
    """Token buckets per source plus one global bucket."""

    def __init__(
        self,
        source_burst: int = SOURCE_BURST,
        source_refill_s: float = SOURCE_REFILL_S,
        global_burst: int = GLOBAL_BURST,
        global_refill_s: float = GLOBAL_REFILL_S,
        sources_max: int = SOURCES_MAX,
    ) -> None:
        if min(source_burst, global_burst, sources_max) < 1:
            raise ValueError("bursts and the table of sources hold at least 1")
        if min(source_refill_s, global_refill_s) <= 0:
            raise ValueError("refill intervals are positive")
        self.source_burst, self.source_refill_s = source_burst, source_refill_s
        self.global_burst, self.global_refill_s = global_burst, global_refill_s
        self.sources_max = sources_max
        self._sources: OrderedDict[str, _Bucket] = OrderedDict()
        self._global: _Bucket | None = None

    def __len__(self) -> int:
        """Sources tracked now."""
        return len(self._sources)

    def take(self, source: str, now_s: float) -> int | None:
        """Take a token for one report from source: None when allowed, else the
        whole seconds to wait before trying again (Retry-After, at least 1)."""
        g = self._global
        if g is None:
            g = self._global = _Bucket(float(self.global_burst), now_s)
        g.refill(now_s, self.global_burst, self.global_refill_s)
        b = self._sources.get(source)
        if b is None:
            b = _Bucket(float(self.source_burst), now_s)
        else:
            b.refill(now_s, self.source_burst, self.source_refill_s)
        wait = max(b.wait_s(self.source_refill_s), g.wait_s(self.global_refill_s))
        self._remember(source, b)
        if wait > 0:
            return max(1, math.ceil(wait))
        b.tokens -= 1.0
        g.tokens -= 1.0
        return None

    def _remember(self, source: str, b: _Bucket) -> None:
        """Track source as heard from last; forget the least recent beyond sources_max."""
        self._sources[source] = b
        self._sources.move_to_end(source)
        while len(self._sources) > self.sources_max:
            self._sources.popitem(last=False)
