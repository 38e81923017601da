"""Shared fixtures: a copy of the sample corpus, a fake embedder, a built service."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.handlers import Handlers
from bot.trash import Trash
from index.build import BuildOptions
from index.confidence import Calibration
from index.service import BriefingService, ServiceConfig
from tests.fakes import FakeEmbedder

pytest_plugins = ("tests.pgserver",)

try:  # the PostgreSQL tests import the backend, which needs the postgres extra
    import psycopg  # noqa: F401

    PG_MISSING = ""
except ImportError:
    PG_MISSING = "PostgreSQL backend tests not collected: psycopg is not installed (pip install -e '.[test]')"
    collect_ignore_glob = ["test_pg_*.py"]


def pytest_report_header() -> list[str]:
    return [PG_MISSING] if PG_MISSING else []


REPO = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = REPO / "corpus"
USER_BRIEFING = SAMPLE_CORPUS / "000_457032d09a867f08.txt"
FIXTURES = Path(__file__).parent / "fixtures"

# The fake embedder's cosines are lower than the real model's: a calibration for it.
FAKE_CALIBRATION = Calibration(features=("dense", "coverage"), coef=(6.0, 6.0), intercept=-6.0, answer_at=0.5)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, dest)
    for p in dest.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    return dest


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def make_service(corpus: Path, index_dir: Path, embedder: object, **build: object) -> BriefingService:
    config = ServiceConfig(
        corpus_dir=corpus,
        index_dir=index_dir,
        build=BuildOptions(**build),  # type: ignore[arg-type]
    )
    return BriefingService(config, embedder, FAKE_CALIBRATION, today=lambda: date(2025, 3, 1))  # type: ignore[arg-type]


@pytest.fixture
def service(corpus: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Iterator[BriefingService]:
    """A service over the sample corpus, indexed with the fake embedder."""
    svc = make_service(corpus, tmp_path / "index", fake_embedder)
    svc.reindex()
    yield svc


@pytest.fixture
def handlers(service: BriefingService, tmp_path: Path) -> Handlers:
    return Handlers(service, Trash(tmp_path / "trash"))
