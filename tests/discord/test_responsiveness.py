"""Slow work never delays an acknowledgement or stalls the event loop (real wall-clock time).

simcord's clock is virtual inside the bot, so these measure with ``time.perf_counter`` from the
test, which runs on the same event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from tests.discord.helpers import World, slash_together
from tests.fakes import FakeEmbedder
from tests.heartbeat import heartbeat

IRAN = "What did Iran supply to Russia?"


async def _first_request_delay(world: World, action: Awaitable[Any], path_end: str) -> tuple[float, float]:
    """(seconds until the bot's first request ending with ``path_end``, seconds until done)."""
    seen = len(world.env.http_requests)
    t0 = time.perf_counter()
    task = asyncio.ensure_future(action)
    first: float | None = None
    while not task.done():
        if first is None and any(r.path.endswith(path_end) for r in world.env.http_requests[seen:]):
            first = time.perf_counter() - t0
        await asyncio.sleep(0.002)
    await task
    total = time.perf_counter() - t0
    if first is None and any(r.path.endswith(path_end) for r in world.env.http_requests[seen:]):
        first = total
    assert first is not None, "the interaction was never acknowledged"
    return first, total


def _slow_bulk(embedder: FakeEmbedder, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make index builds slow (each batch sleeps) while questions stay fast."""
    encode: Callable[..., np.ndarray] = embedder.encode

    def slow(texts: Any, **kwargs: Any) -> np.ndarray:
        time.sleep(seconds)
        return encode(texts, **kwargs)

    monkeypatch.setattr(embedder, "encode", slow)


async def test_ask_is_acknowledged_within_a_second_even_with_a_slow_model(
    world: World, fake_embedder: FakeEmbedder
) -> None:
    fake_embedder.delay = 1.5  # every question now takes the model 1.5 s

    ack, total = await _first_request_delay(
        world, world.alice.slash(world.channel, "ask", question=IRAN), "/callback"
    )

    assert total >= 1.5
    assert ack < 1.0


async def test_button_is_acknowledged_within_a_second_even_with_a_slow_model(
    world: World, fake_embedder: FakeEmbedder
) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    fake_embedder.delay = 1.5

    ack, total = await _first_request_delay(
        world, world.alice.click(first.response, label="More passages"), "/callback"
    )

    assert total >= 1.5
    assert ack < 1.0


async def test_event_loop_never_stalls_during_ask_and_reindex(
    world: World, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with heartbeat() as gaps:
        fake_embedder.delay = 0.3
        await world.alice.slash(world.channel, "ask", question=IRAN)
        fake_embedder.delay = 0.0
        _slow_bulk(fake_embedder, 0.1, monkeypatch)  # the build takes ~0.5 s in batches
        await world.mod.slash(world.channel, "reindex", mode="full")

    assert len(gaps) > 20
    assert max(gaps) < 0.25


async def test_questions_are_answered_while_a_reindex_runs(
    world: World, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_bulk(fake_embedder, 0.3, monkeypatch)

    reindex, ask = await slash_together(
        world.env,
        [
            (world.mod, world.channel, "reindex", {"mode": "full"}),
            (world.alice, world.channel, "ask", {"question": IRAN}),
        ],
    )

    assert ask.response is not None and ask.response.embeds
    assert reindex.response is not None and reindex.response.embeds[0].title == "Reindex finished"
    # The answer went out before the report replaced the progress message.
    paths = [(r.method, r.path, str(r.json)) for r in world.env.http_requests]
    answered = max(i for i, (m, p, _) in enumerate(paths) if m == "POST" and "/webhooks/" in p)
    reported = max(i for i, (_, _, body) in enumerate(paths) if "Reindex finished" in body)
    assert answered < reported
