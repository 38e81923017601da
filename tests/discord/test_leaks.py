"""Nothing that names a restricted briefing reaches a public message, by any path (answers,
"Also in", refusals on failure paths, autocomplete, the mod-log, the reindex fallback line);
and the smaller faults of the hostile trial, through the real command tree on simcord."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import simcord
from simcord import assert_error

from bot import embeds
from bot.checks import MODERATOR_REFUSAL, NotModerator
from bot.client import MODLOG_WITHHELD
from bot.errors import UserFacingError
from index import build
from index.service import BriefingService
from tests.discord.helpers import World, shown_text
from tests.heartbeat import heartbeat

IRAN = "What did Iran supply to Russia?"
RANSOMWARE = "Which group claimed the ransomware attack on the Meridale Health Network?"
RESTRICTED_TITLE = "Ransomware attack disrupts Meridale Health Network"
RESTRICTED_ID = "2025-02-06-meridale-health-ransomware"
SHARED = (
    "Russia leverages international supports, including North Korea supplying ammunition, "
    "Iran’s provision of drones, and China’s tech help."
)
# A long title of unrelated words keeps the public copy of the paragraph ranked first.
SECRET_TITLE = (
    "Quarterly procurement minutes appendix for the eastern depot logistics working group "
    "meeting held in the old harbour office"
)
SECRET = f"""---
title: "{SECRET_TITLE}"
date: 2024-11-20
audience: moderators
---

## Annex

{SHARED}
"""


def _reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


def _public_text(world: World, channel: simcord.ChannelHandle | None = None) -> str:
    """Everything an ordinary member can read in a channel (ephemeral replies excluded)."""
    parts: list[str] = []
    for m in (channel or world.channel).history(viewer=world.alice):
        parts.append(m.content)
        for e in m.embeds:
            parts += [e.title or "", e.description or "", e.footer.text or ""]
            parts += [f"{f.name} {f.value}" for f in e.fields]
    return shown_text("\n".join(parts))


def _allow(world: World, command: str, *targets: Any) -> None:
    root = world.env.backend.find_command(command, world.guild.id, type=1)
    assert root is not None
    world.guild.set_command_permissions(int(root["id"]), dict.fromkeys(targets, True))


# ---------------------------------------------------------------------------- restricted briefings


async def test_post_to_channel_leaves_out_also_in_entries_that_are_not_public(
    world: World, corpus: Path, service: BriefingService
) -> None:
    (corpus / "2024-11-20-procurement-annex.md").write_text(SECRET, encoding="utf-8")
    service.reindex()
    private = await world.mod.slash(world.channel, "ask", question=IRAN, private=True)
    assert private.response is not None
    also = " ".join(shown_text(f.value or "") for e in private.response.embeds for f in e.fields)
    assert SECRET_TITLE in also  # the private answer may say where else the paragraph stands

    await world.mod.click(private.response, label="Post to channel")

    public = _public_text(world)
    assert "shared an answer" in public and SHARED in public
    assert SECRET_TITLE not in public


async def test_a_refused_post_never_reaches_the_channel_even_when_discord_fails_an_edit(
    world: World,
) -> None:
    private = await world.mod.slash(world.channel, "ask", question=RANSOMWARE, private=True)
    world.env.inject_error("PATCH", "/webhooks/*/messages/@original", times=None)

    result = await world.mod.click(private.response, label="Post to channel")

    assert RESTRICTED_TITLE not in _public_text(world)
    assert result.response is None or result.response.ephemeral


async def test_a_refusal_after_a_public_defer_is_withheld_when_the_placeholder_cannot_be_cleared(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.env.inject_error("PATCH", "/webhooks/*/messages/@original", times=None)

    await world.alice.slash(world.channel, "ask", question=IRAN, briefing=RESTRICTED_ID)

    assert_error(world.env, UserFacingError)
    assert "meridale" not in _public_text(world).lower()
    assert any("withheld" in r.getMessage() for r in caplog.records)


async def test_briefing_remove_autocomplete_lists_nothing_to_a_non_moderator(world: World) -> None:
    _allow(world, "briefing", world.alice)  # a server admin shows the command to her

    offered = await world.alice.autocomplete(world.channel, "briefing remove", "briefing", "")
    to_mod = await world.mod.autocomplete(world.channel, "briefing remove", "briefing", "ransom")

    assert offered == []
    assert [c["value"] for c in to_mod] == [RESTRICTED_ID]


async def test_a_mod_log_that_others_can_read_gets_no_details(
    world: World, corpus: Path, service: BriefingService
) -> None:
    open_log = world.guild.create_text_channel("open-log")
    world.env.bot.settings.modlog_channel_id = open_log.id  # type: ignore[attr-defined]
    (corpus / "2024-11-20-procurement-annex.md").write_text(SECRET, encoding="utf-8")

    await world.mod.slash(world.channel, "reindex")
    await world.mod.slash(world.channel, "briefing remove", briefing="2024-11-20-procurement-annex")

    messages = open_log.history(viewer=world.alice)
    assert messages and all(m.content == MODLOG_WITHHELD and not m.embeds for m in messages)


async def test_a_mod_log_only_moderators_read_gets_the_report(world: World) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id  # type: ignore[attr-defined]

    await world.mod.slash(world.channel, "reindex", mode="full")

    logged = world.modlog.last_message
    assert logged is not None and logged.embeds and logged.embeds[0].title == "Reindex finished"


async def test_an_unreadable_audience_keeps_the_briefing_out_of_every_answer_but_a_moderators(
    world: World, corpus: Path, service: BriefingService
) -> None:
    (corpus / "2024-11-20-procurement-annex.md").write_text(
        SECRET.replace("audience: moderators", "audience: []"), encoding="utf-8"
    )
    service.reindex()
    question = IRAN  # its answer is restated in the annex

    public = await world.alice.slash(world.channel, "ask", question=question)
    alice_private = await world.alice.slash(world.channel, "ask", question=question, private=True)
    mod_private = await world.mod.slash(world.channel, "ask", question=question, private=True)

    def sources(result: simcord.InteractionResult) -> str:
        message = _reply(result)
        return " ".join(shown_text(f.value or "") for e in message.embeds for f in e.fields)

    assert SECRET_TITLE not in sources(public) and SECRET_TITLE not in sources(alice_private)
    assert SECRET_TITLE in sources(mod_private)


# ---------------------------------------------------------------------------- freezes


def _long_paragraph(chars: int) -> str:
    sentences: list[str] = []
    n = 0
    while n < chars:
        sentence = (
            f"Crane log {len(sentences)}: the harbour crane moved *{len(sentences)}* boxes on the pier."
        )
        sentences.append(sentence)
        n += len(sentence) + 1
    return " ".join(sentences)


@pytest.fixture
def huge_service(corpus: Path, tmp_path: Path, service: BriefingService) -> BriefingService:
    """The sample corpus plus one 1.4 MB paragraph, kept as one passage."""
    (corpus / "2025-02-25-crane-log.md").write_text(
        "---\ntitle: Crane log\ndate: 2025-02-25\n---\n\n" + _long_paragraph(1_400_000) + "\n",
        encoding="utf-8",
    )
    service.embedder._max_tokens = 10_000_000  # type: ignore[attr-defined]  # no splitting
    service.reindex(full=True)
    return service


async def test_a_huge_passage_is_answered_and_shown_in_full_without_stalling_the_loop(
    world: World, huge_service: BriefingService
) -> None:
    question = "How many boxes did the harbour crane move on the pier according to the crane log?"
    with heartbeat() as gaps:
        result = await world.alice.slash(world.channel, "ask", question=question, private=True)
        message = _reply(result)
        labels = [c.get("label", "") for row in message.components for c in row.get("components", [])]
        full = next(label for label in labels if label.startswith("Full passage"))
        shown = await world.alice.click(message, label=full)

    reply = _reply(shown)
    assert reply.attachments and reply.attachments[0].filename == "passage.txt"
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


def test_paging_a_long_passage_grows_linearly() -> None:
    text = _long_paragraph(200_000)

    pages = embeds.full_passage_pages(text)

    assert "".join(shown_text(p) for p in pages) == text
    assert all(embeds.dlen(p) <= embeds.DESCRIPTION_MAX - 96 for p in pages)
    assert len(embeds.full_passage_pages(text, max_pages=5)) == 6


@pytest.mark.bot_settings(button_rate_limit=3, button_rate_window=60)
async def test_buttons_are_rate_limited_per_person(world: World) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    for _ in range(3):
        await world.alice.click(first.response, label="Show context 1")

    fourth = await world.alice.click(first.response, label="Show context 1")
    other = await world.mod.click(first.response, label="Show context 1")

    assert re.search(r"clicking quickly: try again in \d+ s", _reply(fourth).content)
    assert _reply(other).embeds


# ---------------------------------------------------------------------------- smaller faults


async def test_an_unavailable_answer_store_still_answers_without_buttons(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    store = world.env.bot.answers  # type: ignore[attr-defined]
    store.path.unlink(missing_ok=True)
    store.path.mkdir(parents=True)  # a folder where the database should be

    result = await world.alice.slash(world.channel, "ask", question=IRAN)

    message = _reply(result)
    assert message.embeds and not message.components
    assert any("answer store" in r.getMessage() for r in caplog.records)


async def test_noncharacters_in_a_passage_never_become_bold_marks(
    world: World, corpus: Path, service: BriefingService
) -> None:
    text = (
        "The \ufdd0ferry\ufdd1 timetable changed on Monday. "
        "The Saltmere ferry now runs every forty minutes, the harbour authority said."
    )
    (corpus / "2025-02-20-ferry.md").write_text(f"# Ferry\n\n{text}\n", encoding="utf-8")
    service.reindex()

    result = await world.alice.slash(
        world.channel, "ask", question="How often does the Saltmere ferry run now?"
    )

    description = next(
        e.description or "" for e in _reply(result).embeds if "ferry" in shown_text(e.description or "")
    )
    assert shown_text(description) == text
    assert description.count("**") == 2


async def test_a_reindex_outliving_its_interaction_token_is_reported_in_the_channel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = world.env.backend
    seal = build.seal

    def expire_then_seal(*args: Any, **kwargs: Any) -> None:
        for record in backend.interactions.values():  # 15 minutes pass during the build
            record.expires_at = "2000-01-01T00:00:00+00:00"
        seal(*args, **kwargs)

    monkeypatch.setattr(build, "seal", expire_then_seal)
    world.env.bot.settings.modlog_channel_id = world.modlog.id  # type: ignore[attr-defined]

    await world.mod.slash(world.channel, "reindex", mode="full")

    told = world.channel.last_message
    assert told is not None and told.author.id == world.env.bot.user.id  # type: ignore[union-attr]
    assert told.content == (
        f"<@{world.mod.id}>: the reindex you started has finished; its report is in `/status` and the mod-log."
    )
    logged = world.modlog.last_message
    assert logged is not None and logged.embeds[0].title == "Reindex finished"


async def test_a_shrinking_reindex_is_refused_and_a_moderator_can_confirm_it(
    world: World, corpus: Path, service: BriefingService
) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id  # type: ignore[attr-defined]
    for path in sorted(corpus.rglob("2024-*"))[:4]:
        path.unlink()

    refused = await world.mod.slash(world.channel, "reindex")

    report = _reply(refused)
    assert report.embeds[0].title == "Reindex not published"
    assert "4 of the 12" in (report.embeds[0].description or "")
    logged = world.modlog.last_message
    assert logged is not None and logged.embeds[0].title == "Reindex not published"
    assert service.status().briefings == 12

    confirmed = await world.mod.click(report, label="Publish anyway")

    assert _reply(confirmed).embeds[0].title == "Reindex finished"
    assert service.status().briefings == 8


async def test_an_alias_bomb_upload_gets_a_clear_reply(world: World, corpus: Path) -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    bomb += "date: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n---\n\nThe pier reopened.\n"

    result = await world.mod.slash(world.channel, "briefing add", file=("2025-02-28-bomb.md", bomb.encode()))

    reply = _reply(result)
    assert_error(world.env, UserFacingError)
    assert reply.ephemeral and "was not added" in reply.content and "alias" in reply.content
    assert not (corpus / "2025-02-28-bomb.md").exists()


@pytest.mark.bot_settings(reindex_every_minutes=5)
async def test_a_vanished_corpus_under_a_schedule_keeps_the_index_and_is_reported_once(
    world: World, corpus: Path, service: BriefingService
) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id  # type: ignore[attr-defined]
    live = service.status().version
    corpus.rename(corpus.with_name("unmounted"))

    for _ in range(3):
        await world.env.advance_time(5 * 60 + 1)

    reports = [m for m in world.modlog.history() if m.embeds]
    assert [m.embeds[0].title for m in reports] == ["Reindex not published"]
    assert "cannot be read" in (reports[0].embeds[0].description or "")
    assert service.status().version == live and service.status().briefings == 12


async def test_publish_anyway_confirms_only_the_loss_it_was_shown(
    world: World, corpus: Path, service: BriefingService
) -> None:
    files = sorted(corpus.rglob("2024-*"))
    for path in files[:4]:
        path.unlink()
    refused = await world.mod.slash(world.channel, "reindex")
    for path in files[4:7]:  # more briefings go before the moderator clicks
        path.unlink()

    clicked = await world.mod.click(_reply(refused), label="Publish anyway")

    assert _reply(clicked).embeds[0].title == "Reindex not published"
    assert "7 of the 12" in (_reply(clicked).embeds[0].description or "")
    assert service.status().briefings == 12


@pytest.mark.bot_settings(moderator_roles=["@everyone"])
async def test_everyone_is_never_a_moderator_role(world: World) -> None:
    _allow(world, "status", world.alice)

    result = await world.alice.slash(world.channel, "status")

    assert_error(world.env, NotModerator)
    assert _reply(result).content == MODERATOR_REFUSAL
