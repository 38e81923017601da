"""What a member can do: /help, /briefings, reading a briefing, "what's new", deleting an answer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answer_buttons import THANKS
from index.service import BriefingService
from tests.conftest import USER_BRIEFING
from tests.discord.helpers import World, reply_of, shown_text

IRAN = "What did Iran supply to Russia?"
USER_TITLE = "North Korean troops, equipped with Russian uniforms and gear, inch closer to Ukraine"
RESTRICTED_TITLE = "Ransomware attack disrupts Meridale Health Network"


def _labels(message: object) -> list[str]:
    rows = message.components  # type: ignore[attr-defined]
    return [c.get("label") or c.get("emoji", {}).get("name", "") for row in rows for c in row["components"]]


def _component(message: object, label: str) -> dict[str, object]:
    rows = message.components  # type: ignore[attr-defined]
    return next(c for row in rows for c in row["components"] if c.get("label") == label)


# ---------------------------------------------------------------------------- /help


async def test_help_explains_asking_strength_and_privacy_privately(world: World) -> None:
    result = await world.alice.slash(world.channel, "help")

    message = reply_of(result)
    assert message.ephemeral
    fields = {f.name: f.value or "" for f in message.embeds[0].fields}
    assert {"Asking", "Strong and weak", "What is kept"} <= set(fields)
    assert "private: True" in fields["Asking"] and "since:" in fields["Asking"]
    assert "90 days" in fields["What is kept"] and "never show who asked" in fields["What is kept"]
    assert "For moderators" not in fields


async def test_help_shows_moderators_their_commands(world: World) -> None:
    message = reply_of(await world.mod.slash(world.channel, "help"))

    assert any(f.name == "For moderators" and "/gaps" in (f.value or "") for f in message.embeds[0].fields)


# ---------------------------------------------------------------------------- /briefings


async def test_briefings_lists_what_the_member_may_read_newest_first(world: World) -> None:
    page = reply_of(await world.alice.slash(world.channel, "briefings"))

    assert page.ephemeral
    text = shown_text(page.embeds[0].description or "")
    assert page.embeds[0].title == "Briefings you can read (11)"  # 12 indexed, one for moderators
    assert RESTRICTED_TITLE not in text
    first = text.splitlines()[0]
    assert first.startswith("1. ") and "(added " in first  # indexed today: the newest
    assert "Kestrelbay" not in first
    assert (page.embeds[0].footer.text or "").startswith("Newest first · page 1 of 2")


async def test_briefings_include_restricted_ones_for_those_allowed(world: World) -> None:
    page = reply_of(await world.mod.slash(world.channel, "briefings"))

    assert page.embeds[0].title == "Briefings you can read (12)"
    assert RESTRICTED_TITLE in shown_text(page.embeds[0].description or "")


async def test_briefings_page_through_with_buttons(world: World) -> None:
    page = reply_of(await world.alice.slash(world.channel, "briefings"))

    turned = reply_of(await world.alice.click(page, label="Next ▶"))

    assert (turned.embeds[0].footer.text or "").startswith("Newest first · page 2 of 2")
    assert shown_text(turned.embeds[0].description or "").startswith("11. ")


async def test_picking_a_briefing_shows_it_whole_and_verbatim(world: World, corpus: Path) -> None:
    page = reply_of(await world.alice.slash(world.channel, "briefings"))
    options = next(c for row in page.components for c in row["components"] if c["type"] == 3)["options"]
    value = next(o["value"] for o in options if o["label"].startswith("North Korean"))

    opened = reply_of(await world.alice.select(page, [value]))

    assert opened.ephemeral and opened.embeds[0].title == USER_TITLE
    body = shown_text(opened.embeds[0].description or "")
    text = (corpus / USER_BRIEFING.name).read_text(encoding="utf-8")
    assert "Russia’s International Lifelines" in body
    paragraphs = [p for p in body.split("\n\n") if not p.startswith("Key Takeaways") and p in text]
    assert len(paragraphs) >= 5


# ---------------------------------------------------------------------------- attribution and Open briefing


async def test_an_undated_briefing_is_attributed_by_title_and_the_day_it_was_added(world: World) -> None:
    result = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)

    sources = [shown_text(e.fields[0].value or "") for e in reply_of(result).embeds]
    today = datetime.now(UTC).date().isoformat()
    assert any(s.startswith(f"{USER_TITLE} (added {today}), ") for s in sources)
    assert not any("000_457032d09a867f08" in s or "undated" in s for s in sources)


async def test_open_briefing_shows_a_briefing_without_a_url_privately_in_pages(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    label = next(label for label in _labels(answer.response) if label.startswith("Open briefing"))

    opened = reply_of(await world.alice.click(answer.response, label=label))

    assert opened.ephemeral and opened.embeds[0].title == USER_TITLE
    assert "page 1 of" in (opened.embeds[0].footer.text or "")


async def test_a_briefing_with_a_url_opens_as_a_link(world: World) -> None:
    question = "How many litres a day may each Lindenfall resident use?"
    answer = reply_of(await world.alice.slash(world.channel, "ask", question=question, private=True))

    links = [c for row in answer.components for c in row["components"] if c.get("style") == 5]
    assert links and links[0]["url"].startswith("https://example.org/briefings/")


async def test_open_briefing_is_refused_when_the_briefing_is_no_longer_for_the_clicker(
    world: World, corpus: Path, service: BriefingService
) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    label = next(label for label in _labels(answer.response) if label.startswith("Open briefing"))
    path = corpus / USER_BRIEFING.name
    path.write_text("---\naudience: moderators\n---\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    service.reindex()

    result = await world.alice.click(answer.response, label=label)

    reply = reply_of(result)
    assert reply.ephemeral and "not available to you" in reply.content and not reply.embeds


# ---------------------------------------------------------------------------- what's new


async def test_whats_new_lists_the_newest_briefings_with_their_key_takeaways(world: World) -> None:
    result = await world.alice.slash(world.channel, "ask", question="What's new?")

    message = result.response
    assert message is not None and not message.ephemeral
    assert "newest briefings" in message.content
    titles = [shown_text(e.title or "") for e in message.embeds]
    assert titles[0] == f"1. {USER_TITLE}"
    assert not any(RESTRICTED_TITLE in t for t in titles)
    assert "North Korean troops, equipped with Russian uniforms" in shown_text(
        message.embeds[0].description or ""
    )
    assert "Key Takeaways" in shown_text(message.embeds[0].fields[0].value or "")


async def test_whats_new_in_private_includes_what_the_asker_may_see(world: World) -> None:
    result = await world.mod.slash(world.channel, "ask", question="latest briefings", private=True)

    titles = " ".join(e.title or "" for e in reply_of(result).embeds)
    assert RESTRICTED_TITLE in titles


# ---------------------------------------------------------------------------- deleting


async def test_the_asker_can_delete_their_public_answer(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    assert answer.response is not None

    await world.alice.click(answer.response, label="Delete")

    assert all(m.id != answer.response.id for m in world.channel.history())


async def test_someone_else_cannot_delete_an_answer(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    bob = world.guild.add_member(world.env.create_user("bob"))

    result = await bob.click(answer.response, label="Delete")

    assert reply_of(result).ephemeral and "Only the person who asked" in reply_of(result).content
    assert any(m.id == answer.response.id for m in world.channel.history())


async def test_a_moderator_can_delete_any_answer(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)

    await world.mod.click(answer.response, label="Delete")

    assert all(m.id != answer.response.id for m in world.channel.history())


@pytest.mark.parametrize("private", [False, True])
async def test_every_answer_offers_thumbs_up_and_down(world: World, private: bool) -> None:
    answer = reply_of(await world.alice.slash(world.channel, "ask", question=IRAN, private=private))

    labels = _labels(answer)
    assert "👍" in labels and "👎" in labels
    result = await world.alice.click(answer, custom_id=_vote_id(answer, "up"))
    assert reply_of(result).content == THANKS


def _vote_id(message: object, vote: str) -> str:
    rows = message.components  # type: ignore[attr-defined]
    return next(
        c["custom_id"]
        for row in rows
        for c in row["components"]
        if c.get("custom_id", "").endswith(f":{vote}")
    )


@pytest.mark.bot_settings(mention_replies=True)
async def test_whats_new_works_by_mention_too(world: World) -> None:
    me = world.env.bot.user
    assert me is not None

    await world.alice.send(world.channel, f"<@{me.id}> what's new?")

    reply = world.channel.last_message
    assert reply is not None and reply.author.id == me.id and "newest briefings" in reply.content


@pytest.mark.bot_settings(mention_replies=True)
async def test_a_mention_without_an_answer_leaves_a_note_that_goes_away(world: World) -> None:
    me = world.env.bot.user
    assert me is not None

    await world.alice.send(world.channel, f"<@{me.id}> zebra pizza saxophone")

    note = world.channel.last_message
    assert note is not None and note.author.id == me.id and "No confident answer" in note.content
    await world.env.advance_time(61)
    assert world.channel.last_message is not None and world.channel.last_message.author.id == world.alice.id
