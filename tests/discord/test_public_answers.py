"""What reaches a channel: strong quotes only; non-answers go to the asker alone (issue 8.5)."""

from __future__ import annotations

import pytest
import simcord

from bot import render
from index.search import Viewer
from tests.discord.helpers import World, reply_of, shown_text

IRAN = "What did Iran supply to Russia?"


def _public(world: World) -> list[str]:
    """What everyone in the channel sees: the bot's non-ephemeral messages."""
    bot_id = world.env.bot.user.id if world.env.bot.user else 0
    return [m.content for m in world.channel.history(viewer=world.mod) if m.author.id == bot_id]


async def test_a_public_answer_shows_only_its_strong_quotes(world: World, handlers: object) -> None:
    expected = await handlers.ask(IRAN, viewer=Viewer(public=True))  # type: ignore[attr-defined]
    strong = [q for q in expected.quotes if q.strength == "strong"]
    assert strong and len(strong) < len(expected.quotes)  # the question has weak quotes too

    result = await world.alice.slash(world.channel, "ask", question=IRAN)

    message = result.response
    assert message is not None and not message.ephemeral
    assert [shown_text(e.description or "") for e in message.embeds] == [q.text for q in strong]
    assert all("Strong match" in (e.title or "") for e in message.embeds)


async def test_weak_quotes_wait_behind_more_passages(world: World, handlers: object) -> None:
    expected = await handlers.ask(IRAN, viewer=Viewer(public=True))  # type: ignore[attr-defined]
    weak = [q.text for q in expected.quotes if q.strength == "weak"]
    first = await world.alice.slash(world.channel, "ask", question=IRAN)

    more = reply_of(await world.alice.click(first.response, label="More passages"))

    assert more.ephemeral
    shown = [shown_text(e.description or "") for e in more.embeds]
    assert shown[: len(weak)] == weak
    assert "0 matching passages" not in more.content
    assert f"{len(more.embeds)} more passages, all weak matches" in shown_text(more.content)


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("hi", {}),
        ("?", {}),
        ("zebra pizza saxophone", {}),
        (IRAN, {"since": "2031-01-01"}),
    ],
)
async def test_a_non_answer_goes_to_the_asker_only(
    world: World, question: str, options: dict[str, str]
) -> None:
    before = _public(world)

    result = await world.alice.slash(world.channel, "ask", question=question, **options)

    reply = reply_of(result)
    assert reply.ephemeral
    assert render.ABSTAIN_HEADER in reply.content or render.NOTHING in reply.content
    assert result.response is None  # the public "thinking…" placeholder is gone
    assert _public(world) == before


async def test_posting_a_private_answer_disables_its_post_button(world: World) -> None:
    private = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)
    assert private.response is not None

    await world.alice.click(private.response, label="Post to channel")

    source = world.env.backend.get_message(private.response.channel_id, private.response.id)
    post = [c for row in source.components for c in row["components"] if c.get("label") == "Post to channel"]
    assert post and post[0].get("disabled") is True
    with pytest.raises(simcord.SetupError, match="disabled"):
        await world.alice.click(private.response, label="Post to channel")
    assert len([m for m in _public(world) if "shared an answer" in m]) == 1


async def test_a_private_non_answer_offers_no_post_to_channel(world: World) -> None:
    private = await world.alice.slash(world.channel, "ask", question="zebra pizza saxophone", private=True)

    labels = [c.get("label") for row in reply_of(private).components for c in row["components"]]
    assert "Post to channel" not in labels and "More passages" in labels
