"""👍 / 👎 on answers, /gaps for moderators, the weekly report, and fixing a wrong passage."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from simcord import assert_error

from bot.checks import NotModerator
from bot.feedback_store import REASONS
from index.service import BriefingService
from tests.discord.helpers import World, reply_of, shown_text

IRAN = "What did Iran supply to Russia?"
FERRY = ["When does the Tessly ferry run on Sundays?", "When does the Tessly ferry run on Saturdays?"]
PARKING = "Where can staff park at the new office?"


def _custom_id(message: object, ending: str) -> str:
    rows = message.components  # type: ignore[attr-defined]
    return next(
        c["custom_id"] for row in rows for c in row["components"] if c.get("custom_id", "").endswith(ending)
    )


async def _thumbs_down(world: World, member: object, message: object, reason: str) -> None:
    asked = await member.click(message, custom_id=_custom_id(message, ":down"))  # type: ignore[attr-defined]
    why = reply_of(asked)
    assert why.ephemeral and "What was wrong" in why.content
    await member.click(why, label=REASONS[reason])  # type: ignore[attr-defined]


def _db(world: World) -> sqlite3.Connection:
    return sqlite3.connect(world.env.bot.feedback.path)


async def test_thumbs_down_asks_why_in_one_click_and_keeps_it_with_the_answer(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    asked = await world.alice.click(answer.response, custom_id=_custom_id(answer.response, ":down"))

    why = reply_of(asked)
    assert [c["label"] for row in why.components for c in row["components"]] == list(REASONS.values())
    done = reply_of(await world.alice.click(why, label="Outdated"))

    assert "Outdated" in done.content and not done.components
    with _db(world) as con:
        question, shown, version = con.execute(
            "SELECT question, shown, index_version FROM questions"
        ).fetchone()
        votes = con.execute("SELECT vote, reason, voter FROM votes").fetchall()
    assert question == IRAN and "000_457032d09a867f08" in shown and version.startswith("v")
    assert [(v, r) for v, r, _ in votes] == [("down", "outdated")]


async def test_feedback_never_stores_who_voted_or_asked(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    await _thumbs_down(world, world.alice, answer.response, "wrong")

    raw = Path(world.env.bot.feedback.path).read_bytes()
    assert b"alice" not in raw and str(world.alice.id).encode() not in raw


async def test_a_second_vote_by_the_same_person_replaces_the_first(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    await world.alice.click(answer.response, custom_id=_custom_id(answer.response, ":up"))
    await _thumbs_down(world, world.alice, answer.response, "missing")
    await world.mod.click(answer.response, custom_id=_custom_id(answer.response, ":up"))

    with _db(world) as con:
        votes = sorted(con.execute("SELECT vote, reason FROM votes").fetchall(), key=str)
    assert votes == [("down", "missing"), ("up", None)]


async def _gap_questions(world: World) -> None:
    for q in [*FERRY, PARKING]:
        await world.alice.slash(world.channel, "ask", question=q)  # no answer: abstained
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    await _thumbs_down(world, world.alice, answer.response, "wrong")
    await world.alice.slash(world.channel, "ask", question="Lindenfall reservoir levels", private=True)


async def test_gaps_groups_unanswered_and_disliked_questions_by_topic(world: World) -> None:
    await _gap_questions(world)

    result = await world.mod.slash(world.channel, "gaps", days=7)

    message = reply_of(result)
    assert message.ephemeral
    text = shown_text(message.embeds[0].description or "")
    assert text.startswith(
        "5 questions in the last 7 days: 4 without a confident answer; 1 answered but 👎 (1 wrong passage)"
    )
    ferry = next(line for line in text.splitlines() if "ferry" in line and line[:1].isdigit())
    assert ferry.startswith("1. ") and "2 questions (2 unanswered)" in ferry
    assert f"“{FERRY[0]}”" in text and f"“{IRAN}” (👎 wrong passage)" in text
    assert "alice" not in text


async def test_gaps_comes_with_a_csv_file_of_every_question(world: World) -> None:
    await _gap_questions(world)

    message = reply_of(await world.mod.slash(world.channel, "gaps"))

    (attachment,) = message.attachments
    assert attachment.filename == "gaps-last-7-days.csv"
    rows = list(csv.DictReader(io.StringIO((await attachment.read()).decode("utf-8-sig"))))
    assert {r["question"] for r in rows} == {*FERRY, PARKING, IRAN, "Lindenfall reservoir levels"}
    iran = next(r for r in rows if r["question"] == IRAN)
    assert iran["feedback"] == "Wrong passage" and "000_457032d09a867f08" in iran["quotes_shown"]
    assert iran["index_version"].startswith("v")
    assert not any("alice" in value for r in rows for value in r.values())


async def test_gaps_is_for_moderators_only(world: World) -> None:
    root = world.env.backend.find_command("gaps", world.guild.id, type=1)
    world.guild.set_command_permissions(int(root["id"]), {world.alice: True})

    result = await world.alice.slash(world.channel, "gaps")

    assert reply_of(result).ephemeral and "Manage Server" in reply_of(result).content
    assert_error(world.env, NotModerator)


@pytest.mark.bot_settings(gaps_weekly=True)
async def test_the_weekly_report_goes_to_the_modlog_without_private_questions(world: World) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id
    await world.env.advance_time(60)  # the first start only notes the time
    await _gap_questions(world)

    await world.env.advance_time(7 * 86400 + 3600)

    logged = world.modlog.last_message
    assert logged is not None and logged.embeds[0].title == "Coverage gaps: the last 7 days"
    text = shown_text(logged.embeds[0].description or "")
    assert FERRY[0] in text and "Lindenfall reservoir levels" not in text  # asked privately
    assert logged.attachments and logged.attachments[0].filename.endswith(".csv")


async def test_a_wrong_passage_fixed_by_a_moderator_becomes_a_check_question(
    world: World, service: BriefingService, corpus: Path
) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=IRAN)
    await _thumbs_down(world, world.alice, answer.response, "wrong")
    gaps = reply_of(await world.mod.slash(world.channel, "gaps"))

    review = reply_of(await world.mod.click(gaps, label="Review wrong passages (1)"))
    assert IRAN in shown_text(review.content)
    menu = next(c for row in review.components for c in row["components"] if c["type"] == 3)
    right = next(o["value"] for o in menu["options"] if o["label"].startswith("North Korean troops"))
    done = await world.mod.select(review, [right])

    assert "Saved as a check question" in shown_text(reply_of(done).content)
    assert "No 👎 “wrong passage” reports are waiting" in shown_text(reply_of(done).content)
    assert {"question": IRAN, "briefing_id": "000_457032d09a867f08"} in service._checks()
    assert right in (corpus / "check_questions.jsonl").read_text(encoding="utf-8")


async def test_a_question_counts_once_however_many_pages_and_copies_it_has(world: World) -> None:
    private = await world.alice.slash(world.channel, "ask", question=IRAN, private=True)
    more = reply_of(await world.alice.click(private.response, label="More passages"))
    await world.alice.click(private.response, label="Post to channel")
    posted = world.channel.history(viewer=world.mod)[-1]

    await _thumbs_down(world, world.alice, more, "wrong")
    stored = world.env.backend.get_message(world.channel.id, posted.id)
    await world.mod.click(posted, custom_id=_custom_id(stored, ":down"))

    with _db(world) as con:
        assert con.execute("SELECT count(*) FROM questions").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM votes WHERE vote = 'down'").fetchone() == (2,)


async def test_an_unwritable_feedback_store_never_costs_an_answer(world: World, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be", encoding="utf-8")
    world.env.bot.feedback.path = blocked / "feedback.sqlite3"

    result = await world.alice.slash(world.channel, "ask", question=IRAN)

    assert result.response is not None and result.response.embeds
