"""A probe for a blocked event loop, shared by the responsiveness tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def heartbeat(interval: float = 0.005) -> Iterator[list[float]]:
    """Gaps between ticks of a short timer on the running loop: a blocked loop shows a long gap."""
    gaps: list[float] = []

    async def beat() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.ensure_future(beat())
    try:
        yield gaps
    finally:
        task.cancel()
