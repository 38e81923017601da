"""What moderators see: /status in plain words with the Discord side, reports that match the
mode, the rollback choice, removal with confirmation and the trash, and a quiet mod-log."""

from __future__ import annotations

import time
from pathlib import Path

import discord
import pytest

from bot.trash import Trash
from index.service import BriefingService
from tests.discord.helpers import World, reply_of, shown_text

CARROW = "2024-05-30-carrow-wildfire-season-outlook"


def _status(result: object) -> tuple[str, str]:
    message = reply_of(result)  # type: ignore[arg-type]
    index, on_discord = (shown_text(e.description or "") for e in message.embeds)
    return index, on_discord


# ---------------------------------------------------------------------------- /status


async def test_status_says_how_the_index_was_built_in_plain_words(world: World) -> None:
    index, _ = _status(await world.mod.slash(world.channel, "status"))

    assert "12 briefings" in index and "index built 20" in index
    assert "passages of up to 256 word pieces" in index and "every sentence also indexed" in index
    assert "chunker" not in index and ":s2" not in index


async def test_status_shows_where_commands_are_synced_and_who_moderates(world: World) -> None:
    world.env.bot.settings.moderator_roles = ["Editors-in-chief", "Leads"]

    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "registered in this server; none globally" in on_discord
    assert "Editors-in-chief, Leads (no such role here)" in on_discord
    assert "Server Settings → Integrations" in on_discord


async def test_status_says_when_the_modlog_is_not_set(world: World) -> None:
    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Mod-log: not set (BRIEFBOT_MODLOG_CHANNEL_ID)" in on_discord


async def test_status_says_the_modlog_is_reachable(world: World) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id

    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Mod-log: #mod-log, reachable." in on_discord


async def test_status_says_why_the_modlog_is_not_reachable(world: World) -> None:
    me = world.env.bot.user
    assert me is not None
    closed = world.guild.create_text_channel(
        "closed-log", overwrites={me: discord.PermissionOverwrite(attach_files=False)}
    )
    world.env.bot.settings.modlog_channel_id = closed.id

    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Mod-log: #closed-log is missing the bot's permission to Attach Files." in on_discord


async def test_status_says_when_the_modlog_channel_does_not_exist(world: World) -> None:
    world.env.bot.settings.modlog_channel_id = 123456789012345678

    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Mod-log: not reachable: no channel 123456789012345678 exists" in on_discord


@pytest.mark.bot_settings(watch=True, reindex_every_minutes=30)
async def test_status_shows_watch_and_schedule(world: World) -> None:
    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Watching the corpus folder: on (reindex 5 s after changes settle)." in on_discord
    assert "Scheduled reindex: every 30 minutes; next around " in on_discord


async def test_status_shows_watch_and_schedule_off(world: World) -> None:
    _, on_discord = _status(await world.mod.slash(world.channel, "status"))

    assert "Watching the corpus folder: off" in on_discord and "Scheduled reindex: off" in on_discord


# ---------------------------------------------------------------------------- /reindex


async def test_a_reindex_with_nothing_to_do_says_so_and_stays_out_of_the_modlog(world: World) -> None:
    world.env.bot.settings.modlog_channel_id = world.modlog.id

    result = await world.mod.slash(world.channel, "reindex")

    assert shown_text(reply_of(result).embeds[0].description or "").startswith("Nothing to update: the index")
    assert world.modlog.last_message is None


async def test_a_full_reindex_says_it_re_embedded_every_passage(
    world: World, service: BriefingService
) -> None:
    result = await world.mod.slash(world.channel, "reindex", mode="full")

    text = shown_text(reply_of(result).embeds[0].description or "")
    passages = service.status().passages
    assert "Rebuilt the whole index (as asked)" in text and f"embedded all {passages} passages again" in text


async def test_rollback_offers_kept_versions_with_their_dates_and_sizes(
    world: World, service: BriefingService, corpus: Path
) -> None:
    (corpus / f"{CARROW}.md").unlink()
    service.reindex()

    offer = reply_of(await world.mod.slash(world.channel, "reindex", mode="rollback"))

    menu = next(c for row in offer.components for c in row["components"] if c["type"] == 3)
    (option,) = menu["options"]
    assert option["label"].startswith("Built 20") and option["label"].endswith(" UTC")
    assert option["description"] == "12 briefings, " + option["description"].split(", ")[1]
    assert "not the files" in offer.content


async def test_rollback_warns_that_the_folder_differs_from_the_restored_index(
    world: World, service: BriefingService, corpus: Path
) -> None:
    old = service.status().version
    (corpus / f"{CARROW}.md").unlink()
    service.reindex()
    offer = reply_of(await world.mod.slash(world.channel, "reindex", mode="rollback"))

    result = await world.mod.select(offer, [old])

    text = shown_text(reply_of(result).embeds[0].description or "")
    assert text.startswith("Rolled back to the index built ")
    assert f"in this index but no longer on disk ({CARROW}.md)" in text


async def test_rollback_without_an_older_version_says_so(world: World) -> None:
    offer = reply_of(await world.mod.slash(world.channel, "reindex", mode="rollback"))

    assert offer.content == "There is no older index version to roll back to." and not offer.components


# ---------------------------------------------------------------------------- remove and restore


async def test_removing_a_briefing_can_be_cancelled(world: World, corpus: Path) -> None:
    asked = reply_of(await world.mod.slash(world.channel, "briefing remove", briefing=CARROW))

    cancelled = reply_of(await world.mod.click(asked, label="Cancel"))

    assert "nothing was removed" in cancelled.content
    assert (corpus / f"{CARROW}.md").exists()


async def test_a_removed_briefing_goes_to_the_trash_and_can_be_restored(
    world: World, corpus: Path, service: BriefingService
) -> None:
    asked = reply_of(await world.mod.slash(world.channel, "briefing remove", briefing=CARROW))
    assert "kept in the trash for 30 days" in shown_text(asked.content)
    await world.mod.click(asked, label="Remove")
    assert not (corpus / f"{CARROW}.md").exists()
    assert CARROW not in {m.briefing_id for m in service.briefings()}

    (choice,) = await world.mod.autocomplete(world.channel, "briefing restore", "removed", "carrow")
    result = await world.mod.slash(world.channel, "briefing restore", removed=choice["value"])

    assert (corpus / f"{CARROW}.md").exists()
    assert CARROW in {m.briefing_id for m in service.briefings()}
    assert "restored" in shown_text(reply_of(result).content)


async def test_only_moderators_are_offered_what_is_in_the_trash(world: World) -> None:
    asked = reply_of(await world.mod.slash(world.channel, "briefing remove", briefing=CARROW))
    await world.mod.click(asked, label="Remove")
    root = world.env.backend.find_command("briefing", world.guild.id, type=1)
    world.guild.set_command_permissions(int(root["id"]), {world.alice: True})

    offered = await world.alice.autocomplete(world.channel, "briefing restore", "removed", "")

    assert offered == []


def test_the_trash_forgets_files_after_its_time(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nSome text here.\n", encoding="utf-8")
    trash = Trash(tmp_path / "trash", keep_days=1)
    entry = trash.put(corpus, "a.md", "a", "A")
    assert [e.entry_id for e in trash.entries()] == [entry.entry_id]

    old = time.time() - 2 * 86400
    meta = tmp_path / "trash" / entry.entry_id / "entry.json"
    meta.write_text(meta.read_text().replace(str(entry.removed_at), str(old)), encoding="utf-8")

    assert trash.entries() == [] and not (tmp_path / "trash" / entry.entry_id).exists()
