"""A per-user sliding-window rate limit, shared by /ask, the context menu and mentions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] | None = None) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float:
        """Record a hit and return 0.0, or return the seconds to wait (and record nothing)."""
        # Looked up on each call, not bound at import, so a patched clock (tests) applies.
        now = self._clock() if self._clock else time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.001, self.window - (now - hits[0]))
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle users now and then
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window}
        return 0.0
