"""Wiring: settings -> embedder -> answering service -> handlers (or every server's). No globals."""

from __future__ import annotations

from bot.errors import UserFacingError
from bot.handlers import Handlers
from bot.settings import Settings
from bot.tenants import Tenants
from bot.trash import Trash
from index.backend import IndexUnavailableError
from index.embedder import Embedder
from index.encoders import make_embedder
from index.service import BriefingService


def build_embedder(settings: Settings) -> Embedder:
    return make_embedder(
        settings.model,
        settings.encoder,
        cache_dir=settings.encoder_cache_dir,
        query_threads=settings.query_threads,
        bulk_threads=settings.bulk_threads,
    )


def build_service(
    settings: Settings, embedder: Embedder | None = None, guild_id: int | None = None
) -> BriefingService:
    """The service over the shared corpus, or (``corpus_per_server``) over server ``guild_id``'s."""
    return BriefingService(settings.service_config(guild_id), embedder or build_embedder(settings))


def build_handlers(
    settings: Settings, embedder: Embedder | None = None, guild_id: int | None = None
) -> Handlers:
    paths = settings.paths(guild_id)
    return Handlers(build_service(settings, embedder, guild_id), Trash(paths.trash_dir, settings.trash_days))


def build_tenants(settings: Settings, embedder: Embedder | None = None) -> Tenants:
    """Every server's corpus (or the shared one) over one embedder, loaded here once."""
    return Tenants(settings, embedder or build_embedder(settings))


def open_index_database(settings: Settings) -> None:
    """With ``BRIEFBOT_DATABASE_URL``, reach the database (and bring its tables up to date) now:
    an unreachable or unusable one is a one-line error at start, not at the first question."""
    if settings.database_url is None:
        return
    try:
        from index.pg.database import shared_database
    except ImportError as exc:
        raise UserFacingError(
            f"BRIEFBOT_DATABASE_URL is set but the PostgreSQL driver is not installed ({exc.name}): "
            "pip install 'briefbot[postgres]'"
        ) from None
    try:
        shared_database(settings.database_url.get_secret_value())
    except IndexUnavailableError as exc:
        raise UserFacingError(str(exc)) from None
