"""Wiring: settings -> embedder -> answering service -> handlers. No globals."""

from __future__ import annotations

from bot.handlers import Handlers
from bot.settings import Settings
from bot.trash import Trash
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


def build_service(settings: Settings, embedder: Embedder | None = None) -> BriefingService:
    return BriefingService(settings.service_config(), embedder or build_embedder(settings))


def build_handlers(settings: Settings, embedder: Embedder | None = None) -> Handlers:
    return Handlers(build_service(settings, embedder), Trash(settings.trash_folder, settings.trash_days))
