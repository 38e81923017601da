"""One typed settings object, read from the environment and an optional ``.env`` file.

``load_settings`` turns a bad value into one line naming the variable and the form it takes;
Discord ids may be pasted as links (``https://discord.com/channels/<guild>/<channel>``) or
mentions (``<#channel>``), as people copy them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import UserFacingError
from index.build import BuildOptions
from index.chunking import ChunkOptions
from index.formats.sandbox import ExtractLimits
from index.search import SearchOptions
from index.service import ServiceConfig

SERVERS_FOLDER = "servers"  # <data dir>/servers/<guild id>/: answers and feedback of one server
ANSWERS_FILE = "answers.sqlite3"


def corpus_key(guild_id: int | None) -> str:
    """The name of a corpus in the database: ``default`` when shared, else ``server-<id>``."""
    return "default" if guild_id is None else f"server-{guild_id}"


@dataclass(frozen=True)
class CorpusPaths:
    """Where one corpus lives and what is kept beside it (the shared one, or one server's)."""

    corpus_dir: Path
    index_dir: Path
    data_dir: Path  # answers.sqlite3 (not with a database), feedback.sqlite3
    trash_dir: Path
    checks_file: Path | None


class Settings(BaseSettings):
    """Every setting is ``BRIEFBOT_<NAME>`` in the environment (Discord ones also plain names)."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # "NAME=" as in .env.example means the default
        populate_by_name=True,
    )

    # where things are
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path(".briefbot/index")
    # PostgreSQL (with pgvector) for the index, versions, reports and answer records, shared by
    # every bot process; unset: files in index_dir.
    database_url: SecretStr | None = None
    checks_file: Path | None = None  # default: <corpus_dir>/check_questions.jsonl

    # model and index
    model: str = "all-MiniLM-L6-v2"
    encoder: Literal["auto", "torch", "onnx", "onnx-int8", "openvino"] = "auto"
    batch_size: int = Field(32, ge=1, le=512)
    # Questions get their own model instance with few threads: on a busy machine one thread
    # answers in about 5 ms where two can take 100+ ms; bulk encoding (reindex) uses the rest.
    query_threads: int = Field(1, ge=1, le=64)
    bulk_threads: int | None = Field(None, ge=1, le=64)  # default: one per core
    max_file_mb: float = Field(5.0, gt=0)
    keep_versions: int = Field(3, ge=2, le=100)
    max_shrink: float = Field(0.25, ge=0, le=1)  # a reindex losing more of the briefings is refused
    verify_checksums: bool = True

    # answering
    top_k: int = Field(5, ge=1, le=10)
    candidates: int = Field(60, ge=10, le=1000)

    # Discord
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "BRIEFBOT_DISCORD_TOKEN")
    )
    # The servers this bot serves; it answers nothing elsewhere and leaves other servers.
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("DISCORD_GUILD_IDS", "BRIEFBOT_DISCORD_GUILD_IDS", "discord_guild_ids"),
    )
    # Deprecated: one server id, added to ``discord_guild_ids``.
    discord_guild_id: int | None = Field(
        None,
        validation_alias=AliasChoices("DISCORD_GUILD_ID", "BRIEFBOT_DISCORD_GUILD_ID", "discord_guild_id"),
    )
    allow_dms: bool = False  # /ask in direct messages, public briefings only
    moderator_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)
    modlog_channel_id: int | None = None
    # More mod-log channels: with one corpus per server, each server's reports go to the one in it.
    modlog_channel_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    ask_rate_limit: int = Field(5, ge=1)  # questions per user ...
    ask_rate_window: float = Field(60.0, gt=0)  # ... per this many seconds
    mention_replies: bool = False  # needs the privileged message-content intent
    max_upload_kb: int = Field(1024, ge=1, le=25 * 1024)
    button_rate_limit: int = Field(10, ge=1)  # button clicks per user ...
    button_rate_window: float = Field(30.0, gt=0)  # ... per this many seconds
    # messages posted here by moderators become briefings (needs the message-content intent)
    briefing_channel_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    extract_timeout_seconds: float = Field(60.0, gt=0)  # one PDF, Word, HTML or e-mail file
    extract_memory_mb: int = Field(2048, ge=64)
    # Channels where a public answer opens a thread; a message typed in that thread is a
    # follow-up question (typed follow-ups need the privileged message-content intent).
    thread_channels: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # what is kept, and for how long
    keep_questions_days: int = Field(90, ge=1, le=3650)  # questions, feedback and answer buttons
    trash_dir: Path | None = None  # default: <index_dir>/../trash
    trash_days: int = Field(30, ge=1, le=3650)  # removed briefings kept for /briefing restore
    gaps_weekly: bool = False  # post the coverage-gaps report to the mod-log once a week

    # several servers, several processes
    corpus_per_server: bool = False  # each server its own corpus, index, answers, feedback and trash
    shard_count: int | None = Field(None, ge=1, le=65536)  # Discord shards across all processes
    shard_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)  # this process's (default: all)

    # keeping current without a moderator
    watch: bool = False
    watch_debounce_seconds: float = Field(5.0, ge=0.5)
    reindex_every_minutes: float | None = Field(None, gt=0)

    @field_validator("moderator_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("briefing_channel_ids", "modlog_channel_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,;\s]+", value) if part]
        if isinstance(value, int):
            return [value]
        if isinstance(value, (list, tuple)):
            return [discord_id(v, "channel") for v in value]
        return value

    @field_validator("modlog_channel_id", mode="before")
    @classmethod
    def _channel_id(cls, value: Any) -> Any:
        return discord_id(value, "channel")

    @field_validator("discord_guild_id", mode="before")
    @classmethod
    def _guild_id(cls, value: Any) -> Any:
        return server_id(value)

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _guild_ids(cls, value: Any) -> Any:
        if isinstance(value, str):  # comma-separated, or a JSON-style list: [1234…, 5678…]
            text = value.strip().removeprefix("[").removesuffix("]")
            value = [p.strip().strip("'\"") for p in re.split(r"[,;\s]+", text) if p.strip().strip("'\"")]
        if isinstance(value, int):
            value = [value]
        if isinstance(value, (list, tuple, set, frozenset)):
            return [server_id(v) for v in value]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        if isinstance(value, int):
            return [value]
        if not isinstance(value, str):
            return value
        ids: list[int] = []
        for part in (p for p in re.split(r"[,;\s]+", value.strip()) if p):
            first, dash, last = part.partition("-")  # "0-3": a range
            if not (first.isdigit() and (not dash or last.isdigit())):
                raise ValueError("not shard numbers")
            ids.extend(range(int(first), int(last) + 1) if dash else [int(first)])
        return ids

    @field_validator("shard_ids")
    @classmethod
    def _shards_exist(cls, value: list[int], info: ValidationInfo) -> list[int]:
        count = info.data.get("shard_count")
        if value and count is None:
            raise ValueError("needs BRIEFBOT_SHARD_COUNT")
        if count is not None and any(not 0 <= i < count for i in value):
            raise ValueError(f"shard numbers go from 0 to {count - 1}")
        if len(set(value)) != len(value):
            raise ValueError("a shard is named twice")
        return value

    @property
    def modlog_channels(self) -> list[int]:
        """Every mod-log channel (``BRIEFBOT_MODLOG_CHANNEL_ID`` first, then ``…_IDS``), once each."""
        first = [self.modlog_channel_id] if self.modlog_channel_id is not None else []
        return list(dict.fromkeys([*first, *self.modlog_channel_ids]))

    @property
    def guild_ids(self) -> frozenset[int]:
        """Every server this bot serves (``DISCORD_GUILD_IDS`` and the deprecated ``DISCORD_GUILD_ID``)."""
        ids = set(self.discord_guild_ids)
        if self.discord_guild_id is not None:
            ids.add(self.discord_guild_id)
        return frozenset(ids)

    @field_validator("thread_channels", mode="before")
    @classmethod
    def _thread_channels(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if isinstance(value, (list, tuple)):
            return [discord_id(v, "channel") for v in value]
        return value

    @property
    def data_dir(self) -> Path:
        """Where the bot keeps what is not the index: answers, feedback, the trash."""
        return self.index_dir.parent

    @property
    def trash_folder(self) -> Path:
        return self.trash_dir or self.data_dir / "trash"

    @property
    def encoder_cache_dir(self) -> Path:
        """Exported models live beside the index (made once, never committed)."""
        return self.index_dir / "encoders"

    def paths(self, guild_id: int | None = None) -> CorpusPaths:
        """The folders of the shared corpus, or with ``corpus_per_server`` of one server's:
        ``<corpus>/<id>/``, ``<index>/<id>/``, ``<data>/servers/<id>/``, ``<trash>/<id>/``."""
        if not self.corpus_per_server:
            return CorpusPaths(
                self.corpus_dir, self.index_dir, self.data_dir, self.trash_folder, self.checks_file
            )
        if guild_id is None:
            raise UserFacingError(
                "BRIEFBOT_CORPUS_PER_SERVER is on: each server has its own corpus; name one (--guild ID)."
            )
        name = str(guild_id)
        checks = self.checks_file
        return CorpusPaths(
            self.corpus_dir / name,
            self.index_dir / name,
            self.data_dir / SERVERS_FOLDER / name,
            self.trash_folder / name,
            checks.parent / name / checks.name if checks is not None else None,
        )

    def service_config(self, guild_id: int | None = None) -> ServiceConfig:
        """The index service's configuration, derived from these settings (for one server's
        corpus when ``corpus_per_server`` is on)."""
        paths = self.paths(guild_id)
        return ServiceConfig(
            corpus_dir=paths.corpus_dir,
            index_dir=paths.index_dir,
            build=BuildOptions(
                chunk=ChunkOptions(),
                max_bytes=int(self.max_file_mb * 1024 * 1024),
                batch_size=self.batch_size,
                keep_versions=self.keep_versions,
                max_shrink=self.max_shrink,
                extract=ExtractLimits(self.extract_timeout_seconds, self.extract_memory_mb),
            ),
            search=SearchOptions(k=self.top_k, candidates=self.candidates),
            verify_checksums=self.verify_checksums,
            checks_file=paths.checks_file,
            database_url=self.database_url.get_secret_value() if self.database_url else None,
            corpus_key=corpus_key(guild_id if self.corpus_per_server else None),
            answers_file=paths.data_dir / ANSWERS_FILE,
        )


# A channel link: https://discord.com/channels/<guild>/<channel>[/<message>]; a mention: <#channel>.
_LINK = re.compile(
    r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(?P<guild>\d+|@me)/(?P<channel>\d+)(?:/\d+)?/?"
)
_MENTION = re.compile(r"<#(?P<channel>\d+)>")

# The form each setting takes, for the one-line error (variables not listed: pydantic's words).
EXPECTED = {
    "discord_guild_ids": "server ids separated by commas (numbers like 1234567890123456789; with "
    "Developer Mode on, right-click the server → Copy Server ID) or links to one of their channels",
    "discord_guild_id": "a server id (a number like 1234567890123456789; with Developer Mode on, "
    "right-click the server → Copy Server ID) or a link to one of its channels",
    "modlog_channel_id": "a channel id (a number like 1234567890123456789; with Developer Mode on, "
    "right-click the channel → Copy Channel ID) or the channel's link",
    "thread_channels": "channel ids or channel links, separated by commas",
    "briefing_channel_ids": "channel ids or channel links, separated by commas",
    "modlog_channel_ids": "channel ids or channel links, separated by commas",
    "shard_ids": "this process's shard numbers separated by commas or as a range (such as 0,1 or 0-3), "
    "each under BRIEFBOT_SHARD_COUNT, which must be set too",
    "moderator_roles": "role names separated by commas, such as Editors,Leads",
}


def discord_id(value: Any, kind: str) -> Any:
    """A guild or channel id from an id, a channel link, or a channel mention; else unchanged
    (the type check then refuses it)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    m = _LINK.fullmatch(text)
    if m:
        if kind == "guild":
            if m["guild"] == "@me":
                raise ValueError("that is a link to a direct message, not to a server channel")
            return int(m["guild"])
        return int(m["channel"])
    m = _MENTION.fullmatch(text)
    if m and kind == "channel":
        return int(m["channel"])
    if text.isdigit():
        return int(text)
    raise ValueError(f"not a {kind} id or link")


def server_id(value: Any) -> Any:
    """A server id (17-20 digits, as Discord makes them) from an id or a link to one of the
    server's channels; anything else is refused (a short number is a typo, not a server)."""
    found = discord_id(value, "guild")
    if isinstance(found, bool) or (isinstance(found, int) and not 10**16 <= found < 10**20):
        raise ValueError("not a server id")
    return found


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"BRIEFBOT_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment and ``.env``, or a ``UserFacingError`` of one line per
    bad value: the variable, what it should look like, and what it was."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err.get("loc") else "?"
            field = next(
                (
                    name
                    for name in Settings.model_fields
                    if name == loc or env_name(name).lower() == loc.lower()
                ),
                loc,
            )
            got = err.get("input")
            shown = f"; got “{str(got)[:60]}”" if isinstance(got, (str, int, float)) else ""
            hint = EXPECTED.get(field)
            what = f"should be {hint}" if hint else err["msg"][:1].lower() + err["msg"][1:]
            lines.append(f"{env_name(field)} {what}{shown}.")
        raise UserFacingError("\n".join(lines) + " See .env.example.") from None
