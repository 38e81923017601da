"""One typed settings object, read from the environment and an optional ``.env`` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.build import BuildOptions
from index.chunking import ChunkOptions
from index.search import SearchOptions
from index.service import ServiceConfig


class Settings(BaseSettings):
    """Every setting is ``BRIEFBOT_<NAME>`` in the environment (Discord ones also plain names)."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # where things are
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path(".briefbot/index")
    checks_file: Path | None = None  # default: <corpus_dir>/check_questions.jsonl

    # model and index
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(32, ge=1, le=512)
    query_threads: int | None = Field(None, ge=1, le=64)
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
    discord_guild_id: Annotated[int | None, NoDecode] = Field(
        None,
        validation_alias=AliasChoices("DISCORD_GUILD_ID", "BRIEFBOT_DISCORD_GUILD_ID", "discord_guild_id"),
    )
    allow_dms: bool = False  # /ask in direct messages, public briefings only
    moderator_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)
    modlog_channel_id: int | None = None
    ask_rate_limit: int = Field(5, ge=1)  # questions per user ...
    ask_rate_window: float = Field(60.0, gt=0)  # ... per this many seconds
    mention_replies: bool = False  # needs the privileged message-content intent
    max_upload_kb: int = Field(1024, ge=1, le=25 * 1024)
    button_rate_limit: int = Field(10, ge=1)  # button clicks per user ...
    button_rate_window: float = Field(30.0, gt=0)  # ... per this many seconds

    # keeping current without a moderator
    watch: bool = False
    watch_debounce_seconds: float = Field(5.0, ge=0.5)
    reindex_every_minutes: float | None = Field(None, gt=0)

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _split_guild_ids(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        if isinstance(value, str):  # also as a JSON-style list: [1234…, 5678…]
            value = value.strip().removeprefix("[").removesuffix("]")
        parts = [p.strip().strip("'\"") for p in value.split(",")] if isinstance(value, str) else value
        if not isinstance(parts, (list, tuple, set, frozenset)):
            parts = [parts]
        return [server_id(part, "DISCORD_GUILD_IDS") for part in parts if str(part).strip()]

    @field_validator("discord_guild_id", mode="before")
    @classmethod
    def _one_guild_id(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return server_id(value, "DISCORD_GUILD_ID")

    @property
    def guild_ids(self) -> frozenset[int]:
        """Every server this bot serves (``DISCORD_GUILD_IDS`` and the deprecated ``DISCORD_GUILD_ID``)."""
        ids = set(self.discord_guild_ids)
        if self.discord_guild_id is not None:
            ids.add(self.discord_guild_id)
        return frozenset(ids)

    @field_validator("moderator_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def service_config(self) -> ServiceConfig:
        """The index service's configuration, derived from these settings."""
        return ServiceConfig(
            corpus_dir=self.corpus_dir,
            index_dir=self.index_dir,
            build=BuildOptions(
                chunk=ChunkOptions(),
                max_bytes=int(self.max_file_mb * 1024 * 1024),
                batch_size=self.batch_size,
                keep_versions=self.keep_versions,
                max_shrink=self.max_shrink,
            ),
            search=SearchOptions(k=self.top_k, candidates=self.candidates),
            verify_checksums=self.verify_checksums,
            checks_file=self.checks_file,
        )


_SNOWFLAKE = re.compile(r"\d{17,20}")


def server_id(value: Any, variable: str) -> int:
    """A Discord server id from a setting, or a ``ValueError`` saying how to find the right one."""
    if isinstance(value, bool):
        raise ValueError(f"{variable} must be server ids, not {value!r}")
    text = str(value).strip()
    if _SNOWFLAKE.fullmatch(text):
        return int(text)
    hint = "Discord: Settings > Advanced > Developer Mode, then right-click the server > Copy Server ID"
    if "/" in text or "discord" in text.lower():
        raise ValueError(f"{variable} must be server ids separated by commas, not a link ({hint})")
    shown = text if len(text) <= 40 else text[:39] + "…"
    raise ValueError(
        f"{variable} must be server ids (17-20 digits) separated by commas, not {shown!r} ({hint})"
    )


# Settings whose environment name is not BRIEFBOT_<FIELD>.
_ENV_NAMES = {
    "discord_token": "DISCORD_TOKEN",
    "discord_guild_ids": "DISCORD_GUILD_IDS",
    "discord_guild_id": "DISCORD_GUILD_ID",
}


def settings_error_lines(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming its environment variable."""
    lines: list[str] = []
    for err in error.errors():
        field = str(err["loc"][0]) if err.get("loc") else ""
        name = _ENV_NAMES.get(
            field.lower(), field.upper() if field.isupper() else f"BRIEFBOT_{field.upper()}"
        )
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        lines.append(message if message.startswith(name) else f"{name}: {message}")
    return lines
