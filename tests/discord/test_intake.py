"""Discord messages as briefings: "Add to briefings", briefing channels, uploads of every format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from simcord import assert_error

from bot.checks import MODERATOR_REFUSAL, NotModerator
from bot.errors import UserFacingError
from bot.message_briefing import message_path
from index.service import BriefingService
from tests.conftest import FIXTURES
from tests.discord.helpers import World, fresh_bot, shown_text

FORMATS = FIXTURES / "formats"
FERRY = (
    "# Vellin ferry strike ends\n\n"
    "The Vellin ferry runs again from Monday after a two-week strike by the deck crews.\n\n"
    "- Season tickets are extended by two weeks."
)


def _reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


def _fields(message: simcord.ResponseMessage) -> dict[str, str]:
    embed = message.embeds[0]
    return {shown_text(f.name or ""): shown_text(f.value or "") for f in embed.fields}


async def test_add_to_briefings_shows_the_attribution_before_anything_is_saved(
    world: World, corpus: Path
) -> None:
    posted = await world.mod.send(world.channel, FERRY)

    result = await world.mod.context_menu(world.channel, "Add to briefings", posted)

    preview = _reply(result)
    assert preview.ephemeral and preview.embeds[0].title == "Add to briefings?"
    field = _fields(preview)["Vellin ferry strike ends"]
    assert posted.created_at.date().isoformat() in field and "mo" in field
    assert posted.jump_url in field
    assert [c["label"] for row in preview.components for c in row["components"]] == ["Confirm", "Cancel"]
    assert not (corpus / message_path(world.channel.id, posted.id)).exists()


async def test_confirm_indexes_the_message_attributed_to_its_author_date_and_link(
    world: World, corpus: Path, service: BriefingService
) -> None:
    posted = await world.mod.send(world.channel, FERRY)
    preview = _reply(await world.mod.context_menu(world.channel, "Add to briefings", posted))

    done = await world.mod.click(preview, label="Confirm")

    assert (corpus / message_path(world.channel.id, posted.id)).exists()
    report = _reply(done)
    assert "1 added" in (report.embeds[0].description or "")
    answer = service.ask("When does the Vellin ferry run again?", k=1)
    quote = answer.quotes[0]
    assert quote.text == "The Vellin ferry runs again from Monday after a two-week strike by the deck crews."
    a = quote.attribution
    assert (a.title, a.source, a.url) == ("Vellin ferry strike ends", "mo", posted.jump_url)
    assert a.date == posted.created_at.date()


async def test_cancel_adds_nothing(world: World, corpus: Path) -> None:
    posted = await world.mod.send(world.channel, FERRY)
    preview = _reply(await world.mod.context_menu(world.channel, "Add to briefings", posted))

    cancelled = await world.mod.click(preview, label="Cancel")

    assert cancelled.response is not None and "nothing was added" in cancelled.response.content
    assert not (corpus / "discord").exists()


async def test_attachments_become_briefings_and_one_that_lies_about_its_type_is_named_in_the_preview(
    world: World, service: BriefingService
) -> None:
    posted = await world.mod.send(
        world.channel,
        "Two files for the archive",
        attachments=[
            ("water-restrictions.docx", (FORMATS / "water-restrictions.docx").read_bytes()),
            ("report.pdf", (FORMATS / "lies-html.pdf").read_bytes()),
            ("photo.png", b"\x89PNG\r\n\x1a\n"),
        ],
    )

    preview = _reply(await world.mod.context_menu(world.channel, "Add to briefings", posted))
    fields = _fields(preview)
    await world.mod.click(preview, label="Confirm")

    assert "Lindenfall water restrictions" in fields
    first = fields["Two files for the archive"]
    assert "attachment report.pdf not indexed: not a PDF (the file is HTML)" in first
    assert "photo.png: not a supported format" in fields["Not added"]
    ids = {m.briefing_id for m in service.briefings()}
    base = message_path(world.channel.id, posted.id).removesuffix(".eml")
    assert {base, f"{base}#water-restrictions.docx"} <= ids


async def test_a_message_with_nothing_to_index_is_refused(world: World) -> None:
    posted = await world.mod.send(world.channel, "", attachments=[("photo.png", b"\x89PNG\r\n\x1a\n")])

    result = await world.mod.context_menu(world.channel, "Add to briefings", posted)

    assert "no text and no attachment that can be a briefing" in _reply(result).content
    assert_error(world.env, UserFacingError)


async def test_add_to_briefings_is_for_moderators_only(world: World) -> None:
    posted = await world.alice.send(world.channel, FERRY)
    assert "Add to briefings" not in world.alice.available_commands(world.channel)
    root = world.env.backend.find_command("Add to briefings", world.guild.id, type=3)
    assert root is not None
    world.guild.set_command_permissions(int(root["id"]), {world.alice: True})

    result = await world.alice.context_menu(world.channel, "Add to briefings", posted)

    assert _reply(result).content == MODERATOR_REFUSAL
    assert_error(world.env, NotModerator)


async def test_a_private_channels_message_is_for_moderators_only(
    world: World, service: BriefingService
) -> None:
    hidden = world.guild.create_text_channel(
        "editors",
        overwrites={
            world.guild.default_role: discord.PermissionOverwrite(view_channel=False),
            world.guild.roles["Editors-in-chief"]: discord.PermissionOverwrite(view_channel=True),
            world.guild.me: discord.PermissionOverwrite(view_channel=True),
        },
    )
    posted = await world.mod.send(hidden, FERRY)

    preview = _reply(await world.mod.context_menu(hidden, "Add to briefings", posted))
    assert "moderators only" in (preview.embeds[0].description or "")

    await world.mod.click(preview, label="Confirm")

    meta = next(m for m in service.briefings() if m.title == "Vellin ferry strike ends")
    assert meta.audience == ("moderators",)


# ---------------------------------------------------------------------------- /briefing add


async def test_briefing_add_indexes_a_pdf_and_quotes_it_with_its_page(world: World, corpus: Path) -> None:
    data = (FORMATS / "2024-05-30-running-header.pdf").read_bytes()

    result = await world.mod.slash(world.channel, "briefing add", file=("2024-05-30-wildfire.pdf", data))

    assert "1 added" in (_reply(result).embeds[0].description or "")
    answer = await world.alice.slash(
        world.channel, "ask", question="Where will evacuation buses gather in Carrow?"
    )
    assert answer.response is not None
    source = _fields(answer.response)["Source"]
    assert (
        "Carrow wildfire outlook, week 22 (2024-05-30), Carrow wildfire outlook › Evacuation routes, p. 2, ¶ 4"
        in source
    )


@pytest.mark.parametrize(
    ("filename", "fixture", "says"),
    [
        ("report.pdf", "lies-html.pdf", "not a PDF (the file is HTML)"),
        ("report.docx", "lies-text.docx", "not a Word .docx file (the file is not a zip package)"),
    ],
)
async def test_an_upload_that_lies_about_its_type_is_refused_and_nothing_is_saved(
    world: World, corpus: Path, filename: str, fixture: str, says: str
) -> None:
    result = await world.mod.slash(
        world.channel, "briefing add", file=(filename, (FORMATS / fixture).read_bytes())
    )

    assert says in _reply(result).content
    assert not (corpus / filename).exists()
    assert_error(world.env, UserFacingError)


# ---------------------------------------------------------------------------- briefing channels


def _watch(world: World, channel: Any) -> None:
    world.env.bot.settings.briefing_channel_ids = [channel.id]


@pytest.mark.bot_settings(briefing_channel_ids=[1])  # asks for the message-content intent
async def test_a_moderators_post_in_a_briefing_channel_is_indexed_edited_and_removed(
    world: World, corpus: Path, service: BriefingService
) -> None:
    _watch(world, world.channel)

    posted = await world.mod.send(world.channel, FERRY)
    await world.env.settle()
    assert any(m.title == "Vellin ferry strike ends" for m in service.briefings())

    await world.mod.edit(posted, FERRY.replace("from Monday", "from Tuesday"))
    await world.env.settle()
    quote = service.ask("When does the Vellin ferry run again?", k=1).quotes[0]
    assert "from Tuesday" in quote.text

    await world.mod.delete(posted)
    await world.env.settle()
    assert not any(m.title == "Vellin ferry strike ends" for m in service.briefings())
    assert not (corpus / message_path(world.channel.id, posted.id)).exists()


@pytest.mark.bot_settings(briefing_channel_ids=[1])
async def test_posts_by_members_who_do_not_moderate_are_not_indexed(world: World, corpus: Path) -> None:
    _watch(world, world.channel)

    await world.alice.send(world.channel, FERRY)
    await world.env.settle()

    assert not (corpus / "discord").exists()


@pytest.mark.bot_settings(briefing_channel_ids=[1])
async def test_at_start_the_bot_catches_up_with_posts_made_while_it_was_away(
    world: World, service: BriefingService
) -> None:
    world.env.bot.settings.briefing_channel_ids = []  # "offline": nothing is watched
    await world.mod.send(world.channel, FERRY)
    _watch(world, world.channel)

    await world.env.restart_bot(fresh_bot(world.env.bot.settings, service))
    await world.env.settle()

    assert any(m.title == "Vellin ferry strike ends" for m in service.briefings())


@pytest.mark.bot_settings(briefing_channel_ids=[1])
async def test_at_start_a_post_deleted_while_the_bot_was_away_is_removed(
    world: World, corpus: Path, service: BriefingService
) -> None:
    _watch(world, world.channel)
    await world.mod.send(world.channel, "Kept: the harbour opens at six every morning this month.")
    posted = await world.mod.send(world.channel, FERRY)
    await world.env.settle()
    world.env.bot.settings.briefing_channel_ids = []  # "offline"
    await world.mod.delete(posted)
    _watch(world, world.channel)

    await world.env.restart_bot(fresh_bot(world.env.bot.settings, service))
    await world.env.settle()

    assert not (corpus / message_path(world.channel.id, posted.id)).exists()
    titles = {m.title for m in service.briefings()}
    assert "Vellin ferry strike ends" not in titles
    assert "Kept: the harbour opens at six every morning this month." in titles
