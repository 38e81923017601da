"""The real bot against simcord's in-process Discord: a guild, a channel, a member, a moderator.

Settings per test come from ``@pytest.mark.bot_settings(name=value, ...)``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import simcord

from bot.client import BriefBot
from bot.handlers import Handlers
from bot.settings import Settings
from index.service import BriefingService
from tests.conftest import SAMPLE_CORPUS, make_service
from tests.discord.helpers import World, populate
from tests.fakes import FakeEmbedder

GUILD_ID = 1_111_111_111_111_111_111  # the team's server: the one in DISCORD_GUILD_IDS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bot_settings(**values): Settings overrides for the simcord bot")


@pytest.fixture
def bot_settings(request: pytest.FixtureRequest, corpus: Path, tmp_path: Path) -> Settings:
    marker = request.node.get_closest_marker("bot_settings")
    overrides: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        trash_dir=tmp_path / "trash",
        DISCORD_TOKEN=None,
        DISCORD_GUILD_ID=None,
        **{"discord_guild_ids": [GUILD_ID], **overrides},
    )


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus indexed once with the fake embedder; each test gets a copy."""
    root = tmp_path_factory.mktemp("built")
    shutil.copytree(SAMPLE_CORPUS, root / "corpus")
    make_service(root / "corpus", root / "index", FakeEmbedder()).reindex()
    return root / "index"


@pytest.fixture
def service(corpus: Path, tmp_path: Path, fake_embedder: FakeEmbedder, built_index: Path) -> BriefingService:
    """As the shared fixture (the sample corpus, indexed), from a copy of a prebuilt index."""
    shutil.copytree(built_index, tmp_path / "index")
    return make_service(corpus, tmp_path / "index", fake_embedder)


@pytest.fixture
def simcord_bot(bot_settings: Settings, handlers: Handlers) -> BriefBot:
    return BriefBot(bot_settings, handlers)


@pytest.fixture
def world(simcord_env: simcord.Env) -> World:
    return populate(simcord_env, GUILD_ID, "Newsroom")
