"""One typed settings object, read from the environment and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.build import BuildOptions
from index.chunking import ChunkOptions
from index.search import SearchOptions
from index.service import ServiceConfig


class Settings(BaseSettings):
    """Every setting is ``BRIEFBOT_<NAME>`` in the environment (Discord ones also plain names)."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # where things are
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path(".briefbot/index")
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
    verify_checksums: bool = True

    # answering
    top_k: int = Field(5, ge=1, le=10)
    candidates: int = Field(60, ge=10, le=1000)

    # Discord
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "BRIEFBOT_DISCORD_TOKEN")
    )
    discord_guild_id: int | None = Field(
        None, validation_alias=AliasChoices("DISCORD_GUILD_ID", "BRIEFBOT_DISCORD_GUILD_ID")
    )
    moderator_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)
    modlog_channel_id: int | None = None
    ask_rate_limit: int = Field(5, ge=1)  # questions per user ...
    ask_rate_window: float = Field(60.0, gt=0)  # ... per this many seconds
    mention_replies: bool = False  # needs the privileged message-content intent
    max_upload_kb: int = Field(1024, ge=1, le=25 * 1024)

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

    @property
    def encoder_cache_dir(self) -> Path:
        """Exported models live beside the index (made once, never committed)."""
        return self.index_dir / "encoders"

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
            ),
            search=SearchOptions(k=self.top_k, candidates=self.candidates),
            verify_checksums=self.verify_checksums,
            checks_file=self.checks_file,
        )
