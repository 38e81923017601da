"""/reindex, /briefing add|remove|list and /status, driven through simcord."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from simcord import assert_error

from bot.checks import MODERATOR_REFUSAL, NotModerator
from bot.errors import UserFacingError
from index.service import BriefingService
from tests.discord.helpers import World, shown_text, slash_together
from tests.fakes import FakeEmbedder

NEW_BRIEFING = """---
title: "Port of Saltmere reopens berth 4"
date: 2025-02-28
audience: all
---

## Reopening

Berth 4 at the Port of Saltmere reopened on 27 February after the crane collapse, with two new cranes.
"""


def _reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The last thing the person was shown for an interaction."""
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


def _allow(world: World, command: str, *targets: Any) -> None:
    """Show a moderator command to others, as a server admin can in Integrations settings."""
    root = world.env.backend.find_command(command, world.guild.id, type=1)
    assert root is not None
    world.guild.set_command_permissions(int(root["id"]), dict.fromkeys(targets, True))


async def test_a_non_moderators_reindex_is_refused_and_starts_no_work(
    world: World, service: BriefingService, fake_embedder: FakeEmbedder
) -> None:
    _allow(world, "reindex", world.alice)
    versions = [v.version for v in service.layout.versions()]
    encoded = fake_embedder.encoded

    result = await world.alice.slash(world.channel, "reindex", mode="full")

    assert result.ephemeral and _reply(result).content == MODERATOR_REFUSAL
    assert [v.version for v in service.layout.versions()] == versions
    assert fake_embedder.encoded == encoded
    assert_error(world.env, NotModerator)


@pytest.mark.bot_settings(moderator_roles=["Briefing editors"])
async def test_a_role_named_in_moderator_roles_is_a_moderator(world: World) -> None:
    editors = world.guild.create_role("Briefing editors")
    ed = world.guild.add_member(world.env.create_user("ed"), roles=[editors])
    _allow(world, "status", editors)

    result = await ed.slash(world.channel, "status")

    assert _reply(result).embeds[0].title == "Briefbot status"


async def test_reindex_edits_one_message_with_progress_then_the_report(
    world: World, fake_embedder: FakeEmbedder
) -> None:
    fake_embedder.delay = 0.02
    world.env.bot.settings.modlog_channel_id = world.modlog.id

    result = await world.mod.slash(world.channel, "reindex", mode="full")

    edits = [r for r in world.env.http_requests if r.method == "PATCH" and r.path.endswith("/@original")]
    progress = [r for r in edits if str((r.json or {}).get("content", "")).startswith("Reindexing…")]
    assert progress
    assert not result.followups  # one message, edited
    report = _reply(result)
    assert report.ephemeral and report.embeds[0].title == "Reindex finished"
    assert "Rebuilt the whole index (as asked)" in (report.embeds[0].description or "")
    logged = world.modlog.last_message
    assert logged is not None and logged.embeds[0].title == "Reindex finished"


async def test_two_reindexes_at_once_give_one_build(world: World, service: BriefingService) -> None:
    before = len(service.layout.versions())
    mo2 = world.guild.add_member(world.env.create_user("mo2"), roles=[world.guild.roles["Editors-in-chief"]])

    first, second = await slash_together(
        world.env,
        [
            (world.mod, world.channel, "reindex", {"mode": "full"}),
            (mo2, world.channel, "reindex", {"mode": "full"}),
        ],
    )

    assert len(service.layout.versions()) == before + 1
    assert _reply(first).embeds[0].title == "Reindex finished"
    assert second.ephemeral and "already running" in _reply(second).content
    assert_error(world.env, UserFacingError)


async def test_reindex_rollback_offers_the_kept_versions_and_restores_the_chosen_one(
    world: World, service: BriefingService
) -> None:
    old = service.searcher().index.version
    assert old is not None
    service.reindex(full=True)

    offer = await world.mod.slash(world.channel, "reindex", mode="rollback")
    result = await world.mod.select(_reply(offer), [old])

    assert _reply(result).embeds[0].title == "Rolled back"
    assert service.searcher().index.version == old


async def test_briefing_add_saves_the_file_verbatim_and_indexes_it(world: World, corpus: Path) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id
    data = NEW_BRIEFING.encode()

    result = await world.mod.slash(world.channel, "briefing add", file=("2025-02-28-saltmere-berth.md", data))

    assert (corpus / "2025-02-28-saltmere-berth.md").read_bytes() == data
    assert "1 added" in (_reply(result).embeds[0].description or "")
    answer = await world.alice.slash(world.channel, "ask", question="When did berth 4 at Saltmere reopen?")
    assert answer.response is not None
    assert "Berth 4 at the Port of Saltmere reopened" in shown_text(
        answer.response.embeds[0].description or ""
    )
    logged = world.modlog.last_message
    assert logged is not None and "added 2025-02-28-saltmere-berth.md" in shown_text(logged.content)


async def test_briefing_add_refuses_to_overwrite_unless_replace_is_set(world: World, corpus: Path) -> None:
    name = "2024-08-19-lindenfall-water-restrictions.md"
    original = (corpus / name).read_bytes()

    refused = await world.mod.slash(world.channel, "briefing add", file=(name, NEW_BRIEFING.encode()))
    assert "replace" in _reply(refused).content
    assert (corpus / name).read_bytes() == original
    assert_error(world.env, UserFacingError)

    await world.mod.slash(world.channel, "briefing add", file=(name, NEW_BRIEFING.encode()), replace=True)
    assert (corpus / name).read_bytes() == NEW_BRIEFING.encode()


@pytest.mark.parametrize(
    ("filename", "data", "says", "downloads"),
    [
        ("big.md", b"x" * 3000, "at most 2 KB", False),
        ("../../etc/passwd.md", NEW_BRIEFING.encode(), "looks like a path", False),
        ("notes.odt", NEW_BRIEFING.encode(), "only .md, .txt, .pdf, .docx, .html and .eml", False),
        (".hidden.md", NEW_BRIEFING.encode(), "hidden", False),
        ("binary.md", b"\x00\x01\x02PNG" * 10, "binary", True),
        ("latin1.txt", "Café crème brûlée".encode("latin-1"), "not UTF-8", True),
    ],
)
@pytest.mark.bot_settings(max_upload_kb=2)
async def test_bad_uploads_are_refused_with_a_clear_message(
    world: World,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    filename: str,
    data: bytes,
    says: str,
    downloads: bool,
) -> None:
    before = sorted(p.name for p in corpus.rglob("*"))
    reads: list[str] = []
    read = discord.Attachment.read

    async def counting_read(self: discord.Attachment, **kwargs: Any) -> bytes:
        reads.append(self.filename)
        return await read(self, **kwargs)

    monkeypatch.setattr(discord.Attachment, "read", counting_read)

    result = await world.mod.slash(world.channel, "briefing add", file=(filename, data))

    reply = _reply(result)
    assert reply.ephemeral and says in reply.content
    assert bool(reads) is downloads
    assert sorted(p.name for p in corpus.rglob("*")) == before
    assert not (corpus.parent / "etc").exists()
    assert_error(world.env, UserFacingError)


async def test_briefing_remove_deletes_the_file_and_reindexes(world: World, corpus: Path) -> None:
    briefing = "transit/2024-06-14-kestrelbay-transit-talks-open"
    choices = await world.mod.autocomplete(world.channel, "briefing remove", "briefing", "talks")
    assert [c["value"] for c in choices] == [briefing]

    asked = await world.mod.slash(world.channel, "briefing remove", briefing=briefing)
    assert (corpus / f"{briefing}.md").exists()  # nothing happens before the confirmation
    result = await world.mod.click(_reply(asked), label="Remove")

    assert not (corpus / f"{briefing}.md").exists()
    assert "1 removed" in (_reply(result).embeds[0].description or "")


async def test_briefing_list_is_ephemeral_and_paginated_with_buttons(world: World) -> None:
    result = await world.mod.slash(world.channel, "briefing list")

    page = _reply(result)
    assert page.ephemeral and page.embeds[0].footer.text == "Page 1 of 2"
    turned = await world.mod.click(page, label="Next ▶")
    assert turned.response is not None and turned.response.embeds[0].footer.text == "Page 2 of 2"


async def test_status_shows_the_index_model_and_last_report(world: World) -> None:
    result = await world.mod.slash(world.channel, "status")

    status = _reply(result)
    text = shown_text(status.embeds[0].description or "")
    assert status.ephemeral
    assert "index built" in text and "Model fake-hash-64" in text and "Last reindex (" in text


async def test_moderator_commands_are_hidden_from_members_by_default(world: World) -> None:
    visible = world.alice.available_commands(world.channel)

    assert "ask" in visible
    assert not {"reindex", "status", "briefing add", "briefing list"} & set(visible)


@pytest.mark.bot_settings(reindex_every_minutes=5)
async def test_scheduled_reindex_reports_changes_to_the_modlog(world: World, corpus: Path) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id
    (corpus / "2025-02-28-saltmere-berth.md").write_text(NEW_BRIEFING, encoding="utf-8")

    await world.env.advance_time(5 * 60 + 1)

    logged = world.modlog.last_message
    assert logged is not None and "1 added" in (logged.embeds[0].description or "")
    assert "scheduled reindex" in (logged.embeds[0].footer.text or "")


@pytest.mark.bot_settings(watch=True, watch_debounce_seconds=2)
async def test_watched_corpus_is_reindexed_after_changes_settle(world: World, corpus: Path) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id
    await world.env.advance_time(1)
    (corpus / "2025-02-28-saltmere-berth.md").write_text(NEW_BRIEFING, encoding="utf-8")

    for _ in range(5):
        await world.env.advance_time(1)

    logged = world.modlog.last_message
    assert logged is not None and "1 added" in (logged.embeds[0].description or "")
    assert "corpus watcher" in (logged.embeds[0].footer.text or "")
