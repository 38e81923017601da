"""Answer threads: in a listed channel a public answer opens a thread, and questions asked in it
are follow-ups to the thread's first question."""

from __future__ import annotations

import pytest

from tests.discord.helpers import World, reply_of, shown_text

IRAN = "What did Iran supply to Russia?"
FOLLOW_UP = "And what did China provide?"


@pytest.fixture
def threaded(world: World) -> World:
    world.env.bot.settings.thread_channels = [world.channel.id]
    return world


@pytest.mark.bot_settings(thread_channels=[1])
async def test_a_public_answer_opens_a_thread_named_after_the_question(threaded: World) -> None:
    answer = await threaded.alice.slash(threaded.channel, "ask", question=IRAN)

    (thread,) = threaded.channel.threads
    assert thread.name == IRAN
    assert thread.id == answer.response.id  # opened from the answer message


@pytest.mark.bot_settings(thread_channels=[1])
async def test_private_answers_and_other_channels_open_no_thread(threaded: World) -> None:
    other = threaded.guild.create_text_channel("random")
    await threaded.alice.slash(threaded.channel, "ask", question=IRAN, private=True)
    await threaded.alice.slash(other, "ask", question=IRAN)

    assert threaded.channel.threads == [] and other.threads == []


@pytest.mark.bot_settings(thread_channels=[1])
async def test_typed_follow_up_in_the_thread_is_asked_with_the_first_question(threaded: World) -> None:
    assert threaded.env.bot.intents.message_content
    await threaded.alice.slash(threaded.channel, "ask", question=IRAN)
    (thread,) = threaded.channel.threads

    await threaded.alice.send(thread, FOLLOW_UP)

    reply = thread.last_message
    assert reply is not None and reply.author.id == threaded.env.bot.user.id
    content = shown_text(reply.content)
    assert f"Follow-up to: {IRAN}" in content and f"Question: {FOLLOW_UP}" in content
    assert any("China" in shown_text(e.description or "") for e in reply.embeds)


@pytest.mark.bot_settings(thread_channels=[1])
async def test_ask_inside_the_thread_is_a_follow_up_too(threaded: World) -> None:
    await threaded.alice.slash(threaded.channel, "ask", question=IRAN)
    (thread,) = threaded.channel.threads

    result = await threaded.alice.slash(thread, "ask", question=FOLLOW_UP, private=True)

    assert f"Follow-up to: {IRAN}" in shown_text(reply_of(result).content)
    assert [t.id for t in threaded.channel.threads] == [thread.id]  # no thread inside a thread


@pytest.mark.bot_settings(thread_channels=[1])
async def test_a_follow_up_without_an_answer_leaves_a_short_note_that_goes_away(threaded: World) -> None:
    await threaded.alice.slash(threaded.channel, "ask", question=IRAN)
    (thread,) = threaded.channel.threads

    await threaded.alice.send(thread, "zebra pizza saxophone")

    note = thread.last_message
    assert note is not None and "No confident answer" in note.content and not note.embeds
    await threaded.env.advance_time(61)
    assert thread.last_message is not None and thread.last_message.author.id == threaded.alice.id


@pytest.mark.bot_settings(thread_channels=[1])
async def test_a_follow_up_in_a_thread_never_quotes_a_restricted_briefing(threaded: World) -> None:
    await threaded.mod.slash(
        threaded.channel, "ask", question="Which hospitals did the measles patients visit?"
    )
    (thread,) = threaded.channel.threads

    await threaded.mod.send(
        thread, "Which group claimed the ransomware attack on the Meridale Health Network?"
    )

    for message in thread.history():
        assert "Glasswing" not in " ".join(shown_text(e.description or "") for e in message.embeds)
        assert "Meridale Health Network" not in " ".join(
            shown_text(e.fields[0].value or "") for e in message.embeds
        )
