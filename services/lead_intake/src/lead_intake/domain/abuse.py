"""Rate limits as token buckets, per client IP and per form. Pure: the clock is passed in.

Each replica limits on its own, so N replicas allow N times the rate; that is fine for
stopping floods from one address, which is what this is for."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    per_minute: float
    burst: int
    max_keys: int = 100_000  # oldest buckets are forgotten, so memory stays bounded
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, key: str, now: float) -> float | None:
        """Spend one token: None if allowed, else the seconds until a token is back."""
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            allowed = True
        else:
            self._buckets[key] = (tokens, now)
            allowed = False
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if allowed:
            return None
        return (1.0 - tokens) / rate if rate > 0 else math.inf


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a retry at that time succeeds."""
    return str(max(1, math.ceil(min(seconds, 86400))))
