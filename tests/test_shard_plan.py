"""Splitting servers between bot processes: which shard a server is on, what a process owns,
the settings that say so, and the shared record of where commands are registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.client import _read_sync_state, _record_sync_state
from bot.errors import UserFacingError
from bot.settings import Settings, load_settings
from bot.sharding import ShardPlan, shard_of
from bot.tenants import Tenants
from tests.fakes import FakeEmbedder

# (id >> 22) % 2: 1 and 0; (id >> 22) % 3: 0 and 0.
ON_1_OF_2, ON_0_OF_2 = 1_111_111_111_111_111_111, 1_333_333_333_333_333_333


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        DISCORD_TOKEN=None,
        DISCORD_GUILD_ID=None,
        **{"discord_guild_ids": [ON_1_OF_2, ON_0_OF_2], **values},
    )


def test_a_server_is_on_the_shard_discord_computes_from_its_id() -> None:
    assert shard_of(ON_1_OF_2, 2) == (ON_1_OF_2 >> 22) % 2 == 1
    assert shard_of(ON_0_OF_2, 2) == 0
    assert shard_of(ON_1_OF_2, 1) == 0


def test_a_process_owns_the_servers_on_its_shards_only() -> None:
    plan = ShardPlan(2, (1,))

    assert plan.owns(ON_1_OF_2) and not plan.owns(ON_0_OF_2)
    assert plan.servers([ON_0_OF_2, ON_1_OF_2]) == [ON_1_OF_2]
    assert not plan.owns_direct_messages


def test_without_a_shard_count_one_process_owns_everything(tmp_path: Path) -> None:
    plan = ShardPlan.of(_settings(tmp_path))

    assert not plan.sharded and plan.owns(ON_0_OF_2) and plan.owns(ON_1_OF_2) and plan.owns_direct_messages


def test_a_shard_count_without_shard_ids_means_every_shard(tmp_path: Path) -> None:
    plan = ShardPlan.of(_settings(tmp_path, shard_count=3))

    assert plan.ids == (0, 1, 2) and plan.describe() == "shards 0, 1, 2 of 3"


def test_shard_ids_take_commas_and_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFBOT_SHARD_COUNT", "8")
    monkeypatch.setenv("BRIEFBOT_SHARD_IDS", "0-2, 5")

    assert load_settings(_env_file=None).shard_ids == [0, 1, 2, 5]


@pytest.mark.parametrize(
    ("count", "ids"),
    [(None, "0,1"), ("2", "2"), ("2", "0,0"), ("2", "one")],
    ids=["no count", "out of range", "twice", "not a number"],
)
def test_bad_shard_ids_stop_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str
) -> None:
    if count is not None:
        monkeypatch.setenv("BRIEFBOT_SHARD_COUNT", count)
    monkeypatch.setenv("BRIEFBOT_SHARD_IDS", ids)

    with pytest.raises(UserFacingError) as caught:
        load_settings(_env_file=None)

    assert caught.value.message.startswith("BRIEFBOT_SHARD_IDS should be")
    assert "BRIEFBOT_SHARD_COUNT" in caught.value.message


def test_each_process_keeps_the_others_servers_in_the_record_of_registered_commands(tmp_path: Path) -> None:
    path = tmp_path / "commands_synced.json"
    path.write_text(json.dumps({"guild_ids": [ON_1_OF_2]}), encoding="utf-8")  # by the shard-1 process

    _record_sync_state(path, ShardPlan(2, (0,)), {ON_0_OF_2, ON_1_OF_2})  # the shard-0 process starts

    assert _read_sync_state(path) == {ON_0_OF_2, ON_1_OF_2}


def test_a_process_forgets_only_its_own_servers_taken_off_the_list(tmp_path: Path) -> None:
    path = tmp_path / "commands_synced.json"
    path.write_text(json.dumps({"guild_ids": [ON_0_OF_2, ON_1_OF_2]}), encoding="utf-8")

    _record_sync_state(path, ShardPlan(2, (1,)), {ON_0_OF_2})  # ON_1_OF_2 left DISCORD_GUILD_IDS

    assert _read_sync_state(path) == {ON_0_OF_2}


def test_background_jobs_of_a_server_run_in_the_process_owning_it(tmp_path: Path) -> None:
    tenants = Tenants(
        _settings(tmp_path, corpus_per_server=True, shard_count=2, shard_ids=[1]), FakeEmbedder()
    )

    assert [t.guild_id for t in tenants.here()] == [ON_1_OF_2]


def test_a_shared_corpus_has_its_background_jobs_in_the_process_holding_shard_0(tmp_path: Path) -> None:
    holds_0 = Tenants(_settings(tmp_path, shard_count=2, shard_ids=[0]), FakeEmbedder())
    holds_1 = Tenants(_settings(tmp_path, shard_count=2, shard_ids=[1]), FakeEmbedder())

    assert [t.guild_id for t in holds_0.here()] == [None]
    assert holds_1.here() == []
