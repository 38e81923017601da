"""One corpus per server (``BRIEFBOT_CORPUS_PER_SERVER``): two servers, each with its own
briefings, index, answer records, feedback, trash and mod-log, driven through simcord.

Server A holds the sample corpus; server B two briefings of its own, one of them under the same
file name as one of A's but saying something else. Nothing of one may reach the other by any
path: answers, /briefings, autocomplete, buttons, /gaps, the mod-log, reindexes, listeners.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from simcord.backend.ops.commands import COMMAND_FIELDS

from bot.checks import DMS_OFF
from bot.client import BriefBot
from bot.settings import Settings
from bot.tenants import NO_CORPUS_IN_DMS, Tenants
from bot.views import ANOTHER_SERVER
from index.service import BriefingService
from tests.conftest import FAKE_CALIBRATION, SAMPLE_CORPUS, make_service
from tests.discord.conftest import GUILD_ID
from tests.discord.helpers import populate, reply_of, shown_text
from tests.fakes import FakeEmbedder

A, B = GUILD_ID, 1_333_333_333_333_333_333
IRAN = "What did Iran supply to Russia?"
STAGE = "Which stage of water restrictions is Lindenfall in?"  # strong in both servers
WILDFIRE = "How many hectares did the Orlen Valley wildfire burn?"
# B's version of a file A also has (same briefing id, other text).
B_LINDENFALL = """---
title: "Lindenfall eases to Stage 2 water restrictions"
date: 2024-08-19
---

## Reservoirs

Lindenfall's reservoirs stood at 61% on 18 August after a wet fortnight, so the city eased its water restrictions to Stage 2.
"""
B_WILDFIRE = """---
title: "Orlen Valley wildfire contained"
date: 2025-02-10
---

## Containment

Firefighters contained the Orlen Valley wildfire on 9 February after it burned 1,200 hectares near Farrow.

## Evacuations

Residents of Farrow went home on 10 February when the evacuation order was lifted.
"""
LINDENFALL_ID = "2024-08-19-lindenfall-water-restrictions"
B_TITLES = {"Lindenfall eases to Stage 2 water restrictions", "Orlen Valley wildfire contained"}
NEW_BRIEFING = """---
title: "Farrow reopens its schools"
date: 2025-02-12
---

## Schools

Farrow's three schools reopened on 12 February after the wildfire evacuation.
"""


@dataclass
class Server:
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    modlog: simcord.ChannelHandle
    alice: simcord.MemberActor
    mod: simcord.MemberActor
    corpus: Path
    index: Path


@dataclass
class Servers:
    env: simcord.Env
    a: Server
    b: Server
    a_titles: set[str]  # titles of A's briefings that B does not have

    @property
    def bot(self) -> BriefBot:
        assert isinstance(self.env.bot, BriefBot)
        return self.env.bot

    def service(self, guild_id: int) -> BriefingService:
        return self.bot.tenant(guild_id).service


@pytest.fixture
def per_server_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    marker = request.node.get_closest_marker("bot_settings")
    overrides: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        corpus_dir=tmp_path / "corpora",
        index_dir=tmp_path / "data" / "index",
        DISCORD_TOKEN=None,
        DISCORD_GUILD_ID=None,
        **{"discord_guild_ids": [A, B], "corpus_per_server": True, **overrides},
    )


def _tenants(settings: Settings, embedder: FakeEmbedder) -> Tenants:
    return Tenants(settings, embedder, calibration=FAKE_CALIBRATION, today=lambda: date(2025, 3, 1))


@pytest.fixture
def folders(per_server_settings: Settings, built_index: Path, fake_embedder: FakeEmbedder) -> None:
    """A's corpus is the sample (with the prebuilt index); B's two briefings, indexed."""
    a, b = per_server_settings.paths(A), per_server_settings.paths(B)
    shutil.copytree(SAMPLE_CORPUS, a.corpus_dir)
    shutil.copytree(built_index, a.index_dir)
    b.corpus_dir.mkdir(parents=True)
    (b.corpus_dir / "2024-08-19-lindenfall-water-restrictions.md").write_text(B_LINDENFALL, encoding="utf-8")
    (b.corpus_dir / "2025-02-10-orlen-valley-wildfire.md").write_text(B_WILDFIRE, encoding="utf-8")
    report = make_service(b.corpus_dir, b.index_dir, fake_embedder).reindex()
    assert report.briefings_total == 2


def _server(env: simcord.Env, guild_id: int, name: str, settings: Settings) -> Server:
    world = populate(env, guild_id, name, suffix=f"-{name}")
    paths = settings.paths(guild_id)
    return Server(
        world.guild, world.channel, world.modlog, world.alice, world.mod, paths.corpus_dir, paths.index_dir
    )


@pytest.fixture
async def servers(
    per_server_settings: Settings, folders: None, fake_embedder: FakeEmbedder
) -> AsyncIterator[Servers]:
    settings = per_server_settings
    env = simcord.Env(BriefBot(settings, _tenants(settings, fake_embedder)))
    await env.start()
    a = _server(env, A, "Newsroom", settings)
    b = _server(env, B, "Farrow desk", settings)
    settings.modlog_channel_ids = [a.modlog.id, b.modlog.id]
    bot = env.bot
    assert isinstance(bot, BriefBot)
    a_titles = {m.title for m in bot.tenant(A).service.briefings()} - B_TITLES
    try:
        yield Servers(env, a, b, a_titles)
    finally:
        await env.shutdown()


def _text(message: Any) -> str:
    """Everything a message shows: content, embeds, and its components' labels and options."""
    parts = [message.content or ""]
    for e in message.embeds:
        parts += [e.title or "", e.description or "", e.footer.text or ""]
        parts += [f"{f.name} {f.value}" for f in e.fields]
    for row in message.components:
        if not isinstance(row, dict):  # a discord.Message's rows (channel history)
            parts += [getattr(c, "label", None) or "" for c in getattr(row, "children", [])]
            continue
        for c in row.get("components", []):
            parts.append(c.get("label") or "")
            parts += [f"{o.get('label')} {o.get('description')}" for o in c.get("options", [])]
    return shown_text("\n".join(parts))


def _everything(result: simcord.InteractionResult) -> str:
    shown = [m for m in [result.response, *result.followups] if m is not None]
    return "\n".join(_text(m) for m in shown)


def _titles_in(text: str, titles: set[str]) -> set[str]:
    return {t for t in titles if t in text}


# ---------------------------------------------------------------------------- answers


async def test_each_server_is_answered_from_its_own_briefings(servers: Servers) -> None:
    in_a = await servers.a.alice.slash(servers.a.channel, "ask", question=STAGE)
    in_b = await servers.b.alice.slash(servers.b.channel, "ask", question=STAGE)

    assert "Stage 3" in _everything(in_a) and "Stage 2" not in _everything(in_a)
    assert "Stage 2" in _everything(in_b) and "Stage 3" not in _everything(in_b)


async def test_a_question_only_another_servers_briefings_answer_quotes_nothing_of_them(
    servers: Servers,
) -> None:
    result = await servers.b.alice.slash(servers.b.channel, "ask", question=IRAN, private=True)

    assert not _titles_in(_everything(result), servers.a_titles)
    assert "North Korea" not in _everything(result)


async def test_briefings_lists_only_the_servers_own(servers: Servers) -> None:
    result = await servers.b.alice.slash(servers.b.channel, "briefings")

    text = _everything(result)
    assert "Briefings you can read (2)" in text
    assert _titles_in(text, B_TITLES) == B_TITLES and not _titles_in(text, servers.a_titles)


async def test_autocomplete_offers_only_the_servers_own_briefings(servers: Servers) -> None:
    choices = await servers.b.alice.autocomplete(servers.b.channel, "ask", "briefing", "", private=True)
    removing = await servers.b.mod.autocomplete(servers.b.channel, "briefing remove", "briefing", "")

    for offered in (choices, removing):
        names = " ".join(c["name"] for c in offered)
        assert _titles_in(names, B_TITLES) == B_TITLES and not _titles_in(names, servers.a_titles)


async def test_open_briefing_of_a_shared_file_name_shows_the_servers_own_text(servers: Servers) -> None:
    answer = await servers.b.alice.slash(
        servers.b.channel, "ask", question=STAGE, briefing=LINDENFALL_ID, private=True
    )
    assert answer.response is not None

    opened = await servers.b.alice.click(answer.response, label="Open briefing")

    text = _everything(opened)
    assert "Stage 2" in text and "Stage 3" not in text


# ---------------------------------------------------------------------------- buttons


def _forge(env: simcord.Env, message: Any, label: str, custom_id: str) -> None:
    """Make the button ``label`` of a stored message carry ``custom_id`` (a button copied
    from another server's answer)."""
    stored = env.backend.get_message(message.channel_id, message.id)
    for row in stored.components:
        for c in row.get("components", []):
            if c.get("label") == label:
                c["custom_id"] = custom_id
                return
    raise AssertionError(f"no button {label!r}")


def _custom_id(message: Any, label: str) -> str:
    for row in message.components:
        for c in row.get("components", []):
            if c.get("label") == label:
                return str(c["custom_id"])
    raise AssertionError(f"no button {label!r}")


async def test_a_button_carrying_another_servers_answer_is_refused(
    servers: Servers, fake_embedder: FakeEmbedder
) -> None:
    in_a = await servers.a.alice.slash(servers.a.channel, "ask", question=STAGE, private=True)
    in_b = await servers.b.alice.slash(servers.b.channel, "ask", question=STAGE, private=True)
    assert in_a.response is not None and in_b.response is not None
    _forge(servers.env, in_b.response, "More passages", _custom_id(in_a.response, "More passages"))
    encoded = fake_embedder.encoded

    result = await servers.b.alice.click(in_b.response, label="More passages")

    assert reply_of(result).ephemeral
    assert "too old to continue" in _everything(result)
    assert not _titles_in(_everything(result), servers.a_titles) and "Stage 3" not in _everything(result)
    assert fake_embedder.encoded == encoded


async def test_an_answer_record_naming_another_server_is_refused(servers: Servers) -> None:
    in_b = await servers.b.alice.slash(servers.b.channel, "ask", question=STAGE, private=True)
    assert in_b.response is not None
    key = _custom_id(in_b.response, "More passages").split(":")[-1]
    store = servers.bot.tenant(B).answers
    record = store.get(key)
    assert record is not None and record.guild_id == B
    record.guild_id = A  # a record that found its way into the wrong server's store
    forged = store.put(record)
    _forge(servers.env, in_b.response, "More passages", f"bb:more:{forged}")

    result = await servers.b.alice.click(in_b.response, label="More passages")

    assert _everything(result) == ANOTHER_SERVER


async def test_a_vote_key_of_another_server_is_not_counted_there(servers: Servers) -> None:
    in_a = await servers.a.alice.slash(servers.a.channel, "ask", question=STAGE, private=True)
    in_b = await servers.b.alice.slash(servers.b.channel, "ask", question=WILDFIRE, private=True)
    assert in_a.response is not None and in_b.response is not None
    a_vote = next(i for i in _ids(in_a.response) if i.startswith("bb:vote:") and i.endswith(":down"))
    b_vote = next(i for i in _ids(in_b.response) if i.startswith("bb:vote:") and i.endswith(":down"))
    stored = servers.env.backend.get_message(in_b.response.channel_id, in_b.response.id)
    for row in stored.components:
        for c in row.get("components", []):
            if c.get("custom_id") == b_vote:
                c["custom_id"] = a_vote

    result = await servers.b.alice.click(in_b.response, custom_id=a_vote)

    assert "too old to rate" in _everything(result)
    a_key = a_vote.split(":")[2]
    assert servers.bot.tenant(A).feedback.question(a_key) is not None  # A's record, untouched
    assert servers.bot.tenant(B).feedback.question(a_key) is None


def _ids(message: Any) -> list[str]:
    return [str(c.get("custom_id", "")) for row in message.components for c in row.get("components", [])]


# ---------------------------------------------------------------------------- moderators


async def test_gaps_shows_only_the_servers_own_questions(servers: Servers) -> None:
    await servers.a.alice.slash(servers.a.channel, "ask", question="zebra pizza saxophone", private=True)
    await servers.b.alice.slash(servers.b.channel, "ask", question="violin marmalade glacier", private=True)

    in_b = _everything(await servers.b.mod.slash(servers.b.channel, "gaps"))
    in_a = _everything(await servers.a.mod.slash(servers.a.channel, "gaps"))

    assert "violin marmalade glacier" in in_b and "zebra pizza saxophone" not in in_b
    assert "zebra pizza saxophone" in in_a and "violin marmalade glacier" not in in_a


async def test_a_reindex_in_one_server_leaves_the_other_untouched(servers: Servers) -> None:
    b_service = servers.service(B)
    b_version = b_service.layout.current_version()
    b_files = sorted((p, p.stat().st_mtime_ns) for p in servers.b.index.rglob("*") if p.is_file())
    (servers.a.corpus / "2025-02-12-farrow-schools.md").write_text(NEW_BRIEFING, encoding="utf-8")

    result = await servers.a.mod.slash(servers.a.channel, "reindex")

    assert "1 added" in _everything(result)
    assert b_service.layout.current_version() == b_version
    assert sorted((p, p.stat().st_mtime_ns) for p in servers.b.index.rglob("*") if p.is_file()) == b_files
    assert not any(m.title == "Farrow reopens its schools" for m in b_service.briefings())


async def test_reports_go_to_the_servers_own_modlog_only(servers: Servers) -> None:
    result = await servers.b.mod.slash(
        servers.b.channel, "briefing add", file=("2025-02-12-farrow-schools.md", NEW_BRIEFING.encode())
    )

    assert "1 added" in _everything(result)
    logged = servers.b.modlog.last_message
    assert logged is not None and "farrow-schools" in _text(logged)
    assert servers.a.modlog.last_message is None
    assert (servers.b.corpus / "2025-02-12-farrow-schools.md").is_file()
    assert not (servers.a.corpus / "2025-02-12-farrow-schools.md").exists()


async def test_a_server_without_a_modlog_of_its_own_never_posts_in_anothers(servers: Servers) -> None:
    servers.bot.settings.modlog_channel_ids = [servers.a.modlog.id]  # only A has one

    await servers.b.mod.slash(
        servers.b.channel, "briefing add", file=("2025-02-12-farrow-schools.md", NEW_BRIEFING.encode())
    )
    status = _everything(await servers.b.mod.slash(servers.b.channel, "status"))

    assert servers.a.modlog.last_message is None
    assert "Mod-log: none in this server" in status


async def test_status_describes_the_servers_own_corpus(servers: Servers) -> None:
    text = _everything(await servers.b.mod.slash(servers.b.channel, "status"))

    assert "2 briefings" in text and str(servers.b.corpus) in text
    assert "Corpus: this server's own" in text and "Mod-log: #mod-log, reachable." in text


async def test_removed_briefings_go_to_the_servers_own_trash(servers: Servers) -> None:
    ask = await servers.b.mod.slash(
        servers.b.channel, "briefing remove", briefing="2025-02-10-orlen-valley-wildfire"
    )
    assert ask.response is not None
    await servers.b.mod.click(ask.response, label="Remove")

    b_trash = [e.path for e in servers.bot.tenant(B).handlers.trash.entries()]  # type: ignore[union-attr]
    a_trash = servers.bot.tenant(A).handlers.trash.entries()  # type: ignore[union-attr]
    removed = await servers.a.mod.autocomplete(servers.a.channel, "briefing restore", "removed", "")
    assert b_trash == ["2025-02-10-orlen-valley-wildfire.md"] and a_trash == [] and removed == []


# ---------------------------------------------------------------------------- listeners


@pytest.mark.bot_settings(mention_replies=True)
async def test_a_mention_is_answered_from_the_servers_own_briefings(servers: Servers) -> None:
    me = servers.bot.user
    assert me is not None

    await servers.b.alice.send(servers.b.channel, f"<@{me.id}> {STAGE}")

    reply = servers.b.channel.last_message
    assert reply is not None and reply.author.id == me.id
    assert "Stage 2" in _text(reply) and "Stage 3" not in _text(reply)


@pytest.mark.bot_settings(thread_channels=[1])
async def test_a_follow_up_in_an_answer_thread_is_answered_from_the_servers_own_briefings(
    servers: Servers,
) -> None:
    servers.bot.settings.thread_channels = [servers.b.channel.id]
    await servers.b.alice.slash(servers.b.channel, "ask", question=WILDFIRE)
    (thread,) = servers.b.channel.threads

    await servers.b.alice.send(thread, "When was the evacuation order lifted for Farrow residents?")

    reply = thread.last_message
    assert reply is not None and f"Follow-up to: {WILDFIRE}" in _text(reply)
    assert "10 February" in _text(reply) and not _titles_in(_text(reply), servers.a_titles)


@pytest.mark.bot_settings(briefing_channel_ids=[1])
async def test_a_briefing_channel_post_joins_its_servers_corpus_only(servers: Servers) -> None:
    servers.bot.settings.briefing_channel_ids = [servers.b.channel.id]

    await servers.b.mod.send(
        servers.b.channel, "Farrow schools reopen\n\n" + NEW_BRIEFING.split("## Schools")[1]
    )
    await servers.env.settle()

    assert (servers.b.corpus / "discord").is_dir() and not (servers.a.corpus / "discord").exists()
    assert any("Farrow" in m.title for m in servers.service(B).briefings())
    assert not any("Farrow" in m.title for m in servers.service(A).briefings())


@pytest.mark.bot_settings(watch=True, watch_debounce_seconds=2)
async def test_the_watcher_reindexes_the_changed_servers_corpus_only(servers: Servers) -> None:
    a_version = servers.service(A).layout.current_version()
    await servers.env.advance_time(1)
    (servers.b.corpus / "2025-02-12-farrow-schools.md").write_text(NEW_BRIEFING, encoding="utf-8")

    for _ in range(5):
        await servers.env.advance_time(1)

    logged = servers.b.modlog.last_message
    assert logged is not None and "corpus watcher" in _text(logged) and "1 added" in _text(logged)
    assert servers.a.modlog.last_message is None
    assert servers.service(A).layout.current_version() == a_version


@pytest.mark.bot_settings(gaps_weekly=True)
async def test_the_weekly_report_of_each_server_goes_to_its_own_modlog(servers: Servers) -> None:
    await servers.env.advance_time(60)  # the first start only notes the time
    await servers.a.alice.slash(servers.a.channel, "ask", question="zebra pizza saxophone")
    await servers.b.alice.slash(servers.b.channel, "ask", question="violin marmalade glacier")

    await servers.env.advance_time(7 * 86400 + 3600)

    a_log, b_log = servers.a.modlog.last_message, servers.b.modlog.last_message
    assert a_log is not None and b_log is not None
    assert "zebra" in _text(a_log) and "violin" not in _text(a_log)
    assert "violin" in _text(b_log) and "zebra" not in _text(b_log)


# ---------------------------------------------------------------------------- direct messages


@pytest.mark.bot_settings(allow_dms=True)
async def test_direct_messages_have_no_corpus_and_are_refused_privately(
    servers: Servers, fake_embedder: FakeEmbedder
) -> None:
    assert servers.env.backend.commands.get(None) == {}  # no /ask registered for DMs
    guild_commands = servers.bot.tree.get_commands(guild=discord.Object(id=A))
    ask = next(c for c in guild_commands if c.name == "ask")
    stale = {k: v for k, v in ask.to_dict(servers.bot.tree).items() if k in COMMAND_FIELDS}
    servers.env.backend.register_commands(None, [stale])  # what an older version left
    encoded = fake_embedder.encoded

    result = await servers.a.alice.user.slash("ask", question=STAGE)  # type: ignore[attr-defined]

    assert result.response is not None and result.response.ephemeral
    assert result.response.content == NO_CORPUS_IN_DMS and NO_CORPUS_IN_DMS != DMS_OFF
    assert fake_embedder.encoded == encoded


# ---------------------------------------------------------------------------- one shared corpus


@pytest.mark.bot_settings(discord_guild_ids=[A, B])
async def test_with_a_shared_corpus_an_answer_given_in_one_server_is_refused_in_another(
    simcord_env: simcord.Env,
) -> None:
    users = []
    for guild_id, name in ((A, "Newsroom"), (B, "Farrow desk")):
        guild = simcord_env.create_guild(name, id=guild_id)
        users.append((guild.create_text_channel("general"), guild.add_member(simcord_env.create_user(name))))
    (channel_a, alice_a), (channel_b, alice_b) = users
    in_a = await alice_a.slash(channel_a, "ask", question=IRAN, private=True)
    in_b = await alice_b.slash(channel_b, "ask", question=IRAN, private=True)
    assert in_a.response is not None and in_b.response is not None
    _forge(simcord_env, in_b.response, "More passages", _custom_id(in_a.response, "More passages"))

    result = await alice_b.click(in_b.response, label="More passages")

    assert _everything(result) == ANOTHER_SERVER


async def test_a_new_server_starts_with_an_empty_corpus_and_says_how_to_fill_it(
    per_server_settings: Settings, folders: None, fake_embedder: FakeEmbedder
) -> None:
    new = 1_444_444_444_444_444_444
    per_server_settings.discord_guild_ids = [A, B, new]
    env = simcord.Env(BriefBot(per_server_settings, _tenants(per_server_settings, fake_embedder)))
    bot = env.bot
    assert isinstance(bot, BriefBot)
    await bot.prepare()
    await env.start()
    try:
        server = populate(env, new, "Newcomers")

        result = await server.alice.slash(server.channel, "ask", question=STAGE)

        assert per_server_settings.paths(new).corpus_dir.is_dir()
        assert "`/briefing add`" in _everything(result) and "Stage" not in _everything(result)
    finally:
        await env.shutdown()


@pytest.mark.bot_settings(allow_dms=True, mention_replies=True)
async def test_a_mention_in_a_direct_message_is_told_there_is_no_corpus_there(servers: Servers) -> None:
    me = servers.bot.user
    assert me is not None

    await servers.a.alice.send_dm(f"<@{me.id}> {STAGE}")

    reply = servers.a.alice.user.dm_channel.last_message  # type: ignore[attr-defined]
    assert reply is not None and reply.author.id == me.id and reply.content == NO_CORPUS_IN_DMS
