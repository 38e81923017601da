"""Fixtures for the format readers: the small real files in tests/fixtures/formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.parsing import ParsedDocument, parse_file
from tests.conftest import FIXTURES

FORMATS = FIXTURES / "formats"


def read_fixture(name: str) -> list[ParsedDocument]:
    """Every briefing the readers find in one fixture file (in this process)."""
    return parse_file(name, (FORMATS / name).read_bytes())


def block_texts(doc: ParsedDocument) -> list[str]:
    return [doc.text[b.start : b.end] for b in doc.blocks]


@pytest.fixture
def formats_dir() -> Path:
    return FORMATS
