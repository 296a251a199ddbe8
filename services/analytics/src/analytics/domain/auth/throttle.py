"""Sign-in attempts per (username, client address): after `limit` failures within `window`
seconds further attempts are refused until the oldest failure ages out. In memory and per
replica: it slows a guesser down, it is not an account lockout."""

from __future__ import annotations

import math
from collections import deque


class LoginThrottle:
    def __init__(self, limit: int = 10, window: float = 300.0, max_keys: int = 10_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, user: str, address: str, now: float) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        failures = self._recent((user.casefold(), address), now)
        if len(failures) < self.limit:
            return 0
        return max(1, math.ceil(failures[-self.limit] + self.window - now))

    def failed(self, user: str, address: str, now: float) -> None:
        key = (user.casefold(), address)
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._forget_idle(now)
        failures = self._recent(key, now)
        failures.append(now)
        self._failures[key] = failures

    def succeeded(self, user: str, address: str) -> None:
        self._failures.pop((user.casefold(), address), None)

    def _forget_idle(self, now: float) -> None:
        """Bounded memory under a spray of usernames: drop keys with no recent failure, and
        if that is not enough, the oldest half."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self.max_keys:
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[
                : self.max_keys // 2
            ]:
                del self._failures[key]
