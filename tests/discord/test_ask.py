"""/ask, its buttons, the message command and mentions, driven through simcord."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import simcord
from discord import app_commands
from simcord import assert_error

from bot import render
from bot.errors import UserFacingError
from bot.handlers import Handlers
from bot.settings import Settings
from index.search import Viewer
from index.service import BriefingService
from tests.discord.helpers import World, fresh_bot, shown_text

IRAN = "What did Iran supply to Russia?"
RANSOMWARE = "Which group claimed the ransomware attack on the Meridale Health Network?"
RESTRICTED_TITLE = "Ransomware attack disrupts Meridale Health Network"


def _ids(message: simcord.ResponseMessage, prefix: str) -> list[str]:
    ids = [c.get("custom_id", "") for row in message.components for c in row.get("components", [])]
    return [i for i in ids if i.startswith(prefix)]


def _reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The last thing the person was shown for an interaction."""
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


async def test_ask_quotes_the_corpus_verbatim_with_matching_attribution(
    world: World, handlers: Handlers, corpus: Path
) -> None:
    result = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)

    expected = await handlers.ask(IRAN, viewer=Viewer(public=False))
    message = result.response
    assert message is not None and message.ephemeral
    assert len(message.embeds) == len(expected.quotes)
    for embed, quote in zip(message.embeds, expected.quotes, strict=True):
        shown = shown_text(embed.description or "")
        source_file = (corpus / quote.attribution.path).read_text(encoding="utf-8")
        assert shown == quote.text
        assert shown in source_file
        assert shown_text(embed.fields[0].value or "").startswith(render.attribution_line(quote.attribution))


async def test_best_sentence_is_bold_without_changing_a_character(world: World, handlers: Handlers) -> None:
    result = await world.alice.slash(world.channel, "ask", question=IRAN)

    quote = (await handlers.ask(IRAN, viewer=Viewer(public=True))).quotes[0]
    assert quote.highlight is not None
    s, e = quote.highlight
    description = result.response.embeds[0].description if result.response else ""
    assert f"**{quote.text[s:e].strip()}**" in (description or "")


async def test_matches_are_labelled_by_strength_band_never_by_score(world: World) -> None:
    result = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)

    titles = [e.title or "" for e in result.response.embeds] if result.response else []
    assert titles and all(re.fullmatch(r"\d+\. (Strong|Weak) match", t) for t in titles)
    assert any("Weak match" in t for t in titles)
    everything = " ".join(
        f"{e.title} {e.footer.text} {[f.value for f in e.fields]}" for e in result.response.embeds
    )
    assert not re.search(r"\b0\.\d\d", everything)


async def test_no_confident_answer_says_so_and_shows_at_most_three_weak_matches(world: World) -> None:
    result = await world.alice.slash(world.channel, "ask", question="zebra pizza saxophone", private=True)

    message = _reply(result)
    assert render.ABSTAIN_HEADER in message.content
    assert 1 <= len(message.embeds) <= 3
    assert all("Weak match" in (e.title or "") for e in message.embeds)


async def test_answer_notes_are_shown(world: World, handlers: Handlers) -> None:
    expected = await handlers.ask(IRAN, viewer=Viewer(public=True), since="2025-02-01")
    assert expected.notes

    result = await world.alice.slash(world.channel, "ask", question=IRAN, since="2025-02-01")

    content = shown_text(_reply(result).content)
    assert all(note in content for note in expected.notes)


async def test_bad_date_is_refused_with_an_ephemeral_hint(world: World) -> None:
    result = await world.alice.slash(world.channel, "ask", question=IRAN, since="last tuesday")

    assert result.ephemeral and result.response is not None
    assert "2024-10-31" in result.response.content
    assert_error(world.env, UserFacingError)


async def test_private_answer_is_ephemeral_and_includes_briefings_the_asker_may_see(world: World) -> None:
    result = await world.mod.slash(world.channel, "ask", question=RANSOMWARE, private=True)

    assert result.ephemeral
    assert result.response is not None and result.response.ephemeral
    sources = " ".join(shown_text(e.fields[0].value or "") for e in result.response.embeds)
    assert RESTRICTED_TITLE in sources
    assert _ids(result.response, "bb:post:")


async def test_public_answer_never_shows_a_restricted_briefing_even_to_a_moderator(world: World) -> None:
    result = await world.mod.slash(world.channel, "ask", question=RANSOMWARE)

    reply = _reply(result)
    sources = " ".join(shown_text(e.fields[0].value or "") for e in reply.embeds)
    assert RESTRICTED_TITLE not in sources
    assert "Glasswing" not in " ".join(e.description or "" for e in reply.embeds)
    assert all("Glasswing" not in (m.content + str(m.embeds)) for m in world.channel.history())


async def test_post_to_channel_is_refused_when_a_quote_is_not_public(world: World) -> None:
    private = await world.mod.slash(world.channel, "ask", question=RANSOMWARE, private=True)
    before = len(world.channel.history())

    result = await world.mod.click(private.response, label="Post to channel")

    reply = result.followups[-1] if result.followups else result.response
    assert reply is not None and "not public" in reply.content
    assert reply.ephemeral
    assert len(world.channel.history()) == before


async def test_post_to_channel_posts_the_strong_quotes_of_the_private_answer_for_everyone(
    world: World,
) -> None:
    private = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)
    assert private.response is not None

    await world.alice.click(private.response, label="Post to channel")

    posted = world.channel.history(viewer=world.mod)[-1]
    assert not posted.flags.ephemeral and "shared an answer" in posted.content
    strong = [e.description for e in private.response.embeds if "Strong match" in (e.title or "")]
    assert strong and [e.description for e in posted.embeds] == strong


async def test_more_passages_shows_the_next_passages_only_to_the_clicker(world: World) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    shown = set(_ids(first.response, "bb:ctx:"))

    result = await world.mod.click(first.response, label="More passages")

    more = result.followups[-1] if result.followups else result.response
    assert more is not None and more.ephemeral
    assert more.embeds
    assert not shown & set(_ids(more, "bb:ctx:"))
    assert (more.embeds[0].title or "").startswith(f"{len(shown) + 1}. ")


async def test_show_context_shows_the_paragraphs_around_the_quote(world: World, handlers: Handlers) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    quote = (await handlers.ask(IRAN, viewer=Viewer(public=True))).quotes[0]

    result = await world.alice.click(first.response, label="Show context 1")

    reply = result.response
    assert reply is not None and reply.ephemeral
    neighbours = await handlers.context(quote.passage_id)
    assert [shown_text(e.description or "") for e in reply.embeds] == [p.text for p in neighbours]
    assert len(neighbours) == 3
    assert any("(the quoted passage)" in (e.title or "") for e in reply.embeds)


async def test_buttons_keep_working_after_a_restart(
    world: World, bot_settings: Settings, service: BriefingService
) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)

    await world.env.restart_bot(fresh_bot(bot_settings, service))
    context = await world.alice.click(first.response, label="Show context 1")
    more = await world.alice.click(first.response, label="More passages")

    assert context.response is not None and context.response.embeds
    assert more.response is not None and more.response.embeds


async def test_stale_context_button_says_the_passage_changed(
    world: World, service: BriefingService, corpus: Path
) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    path = corpus / "000_457032d09a867f08.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("Iran provided missiles and drones", "Iran provided drones"), encoding="utf-8"
    )
    service.reindex()

    result = await world.alice.click(first.response, label="Show context 1")

    reply = result.followups[-1] if result.followups else result.response
    assert reply is not None and reply.ephemeral
    assert "changed or been removed" in reply.content
    assert not reply.embeds


async def test_message_command_asks_the_message_text_privately(world: World) -> None:
    message = await world.alice.send(world.channel, IRAN)

    result = await world.mod.context_menu(world.channel, "Ask the briefings", message)

    assert result.ephemeral and result.response is not None
    assert IRAN in result.response.content
    assert "Strong match" in (result.response.embeds[0].title or "")


async def test_mentions_are_ignored_by_default_and_need_no_privileged_intent(world: World) -> None:
    assert not world.env.bot.intents.message_content
    me = world.env.bot.user
    assert me is not None

    await world.alice.send(world.channel, f"<@{me.id}> {IRAN}")

    assert world.channel.last_message is not None
    assert world.channel.last_message.author.id == world.alice.id


@pytest.mark.bot_settings(mention_replies=True)
async def test_mentioning_the_bot_answers_when_mention_replies_is_on(world: World) -> None:
    assert world.env.bot.intents.message_content
    me = world.env.bot.user
    assert me is not None

    await world.alice.send(world.channel, f"<@{me.id}> {IRAN}")

    reply = world.channel.last_message
    assert reply is not None and reply.author.id == me.id
    assert "Strong match" in (reply.embeds[0].title or "")


@pytest.mark.bot_settings(ask_rate_limit=2, ask_rate_window=60)
async def test_asking_too_often_gets_a_friendly_retry_message(world: World) -> None:
    await world.alice.slash(world.channel, "ask", question=IRAN)
    await world.alice.slash(world.channel, "ask", question=IRAN)

    third = await world.alice.slash(world.channel, "ask", question=IRAN)

    assert third.ephemeral and third.response is not None
    assert re.search(r"try again in \d+ s", third.response.content)
    assert_error(world.env, app_commands.CommandOnCooldown)
    other = await world.mod.slash(world.channel, "ask", question=IRAN)
    assert other.response is not None and other.response.embeds


async def test_briefing_autocomplete_offers_restricted_briefings_only_for_private_answers(
    world: World,
) -> None:
    public = await world.mod.autocomplete(world.channel, "ask", "briefing", "ransom")
    private = await world.mod.autocomplete(world.channel, "ask", "briefing", "ransom", private=True)

    assert public == []
    assert [c["value"] for c in private] == ["2025-02-06-meridale-health-ransomware"]


async def test_a_bug_shows_a_short_ephemeral_line_and_is_logged(
    world: World, handlers: Handlers, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(handlers, "ask", broken)

    result = await world.alice.slash(world.channel, "ask", question=IRAN)

    reply = result.followups[-1]
    assert reply.ephemeral and reply.content == "Something went wrong; it has been logged."
    assert result.response is None  # the public "thinking…" placeholder is gone
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    assert_error(world.env, RuntimeError)
