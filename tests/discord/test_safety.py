"""A briefing full of mentions pings nobody, and shows them as written."""

from __future__ import annotations

from pathlib import Path

from index.service import BriefingService
from tests.discord.helpers import World, message_payloads, shown_text

PINGING = """---
title: "Staff notice about the @everyone channel"
date: 2025-02-27
---

## Notice

Attention @everyone and @here: the <@&123> role and <@456> must read the harbour safety notice today.
"""

QUESTION = "Which staff must read the harbour safety notice today?"


async def _with_pinging_briefing(world: World, corpus: Path, service: BriefingService) -> None:
    (corpus / "2025-02-27-staff-notice.md").write_text(PINGING, encoding="utf-8")
    service.reindex()
    world.env.bot.settings.modlog_channel_id = world.modlog.id


def _assert_none_may_ping(payloads: list[dict[str, object]]) -> None:
    for body in payloads:
        mentions = body.get("allowed_mentions")
        assert isinstance(mentions, dict), body
        assert mentions.get("parse") == [] and not mentions.get("users") and not mentions.get("roles")
        assert not mentions.get("replied_user")


async def test_no_message_the_bot_sends_can_ping_anyone(
    world: World, corpus: Path, service: BriefingService
) -> None:
    await _with_pinging_briefing(world, corpus, service)

    public = await world.alice.slash(world.channel, "ask", question=QUESTION)
    private = await world.alice.slash(world.channel, "ask", question=QUESTION, private=True)
    await world.alice.click(public.response, label="Show context")
    await world.alice.click(private.response, label="Post to channel")
    await world.mod.slash(world.channel, "briefing add", file=("2025-02-28-notice.md", PINGING.encode()))
    await world.mod.slash(world.channel, "briefing remove", briefing="2025-02-28-notice")

    payloads = message_payloads(world.env)
    assert len(payloads) >= 6
    _assert_none_may_ping(payloads)
    for channel in (world.channel, world.modlog):  # simcord's record of whom each message pinged
        for message in channel.history():
            stored = world.env.backend.get_message(channel.id, message.id)
            assert not stored.mention_everyone and not stored.ping_user_ids and not stored.ping_role_ids


async def test_mentions_in_a_quote_are_shown_as_written(
    world: World, corpus: Path, service: BriefingService
) -> None:
    (corpus / "2025-02-27-staff-notice.md").write_text(PINGING, encoding="utf-8")
    service.reindex()

    result = await world.alice.slash(world.channel, "ask", question=QUESTION)

    assert result.response is not None
    description = result.response.embeds[0].description or ""
    assert "\\<@456>" in description and "\\<@&123>" in description
    assert "@everyone and @here: the <@&123> role and <@456> must read" in shown_text(description)


async def test_the_new_member_and_moderator_paths_ping_nobody(
    world: World, corpus: Path, service: BriefingService
) -> None:
    await _with_pinging_briefing(world, corpus, service)

    await world.alice.slash(world.channel, "help")
    await world.alice.slash(world.channel, "briefings")
    digest = await world.alice.slash(world.channel, "ask", question="What's new?")
    answer = await world.alice.slash(world.channel, "ask", question=QUESTION)
    votes = [
        c["custom_id"]
        for row in answer.response.components
        for c in row["components"]
        if "vote" in c.get("custom_id", "")
    ]
    why = await world.alice.click(answer.response, custom_id=votes[-1])
    await world.alice.click(why.response, label="Other")
    await world.alice.click(digest.response, label="Delete")
    asked = await world.mod.slash(world.channel, "briefing remove", briefing="2025-02-27-staff-notice")
    await world.mod.click(asked.response, label="Remove")
    await world.mod.slash(world.channel, "reindex", mode="rollback")
    await world.mod.slash(world.channel, "gaps")
    await world.mod.slash(world.channel, "status")

    payloads = message_payloads(world.env)
    assert len(payloads) >= 12
    _assert_none_may_ping(payloads)
