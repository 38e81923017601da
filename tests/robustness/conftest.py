"""Shared pieces of the hostile-input suite: a small corpus, a service over it, viewers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.audience import Viewer
from index.service import BriefingService
from tests.conftest import make_service
from tests.fakes import FakeEmbedder

PUBLIC = Viewer(public=True)
MEMBER = Viewer(roles=frozenset({"Newsroom"}))
MODERATOR = Viewer(is_moderator=True)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

HARBOUR = """---
title: "Harbour reopens after the storm"
date: 2025-01-10
---

## What happened

The Saltmere harbour reopened on Friday after the storm closed it for three days.

## What comes next

Ferries will run a reduced timetable until the damaged pier is repaired next month.
"""

RESERVOIR = """---
title: "Reservoir levels fall"
date: 2025-01-12
---

Lindenfall's reservoirs are at forty percent of capacity, the water board said on Sunday.

Stage 3 restrictions start on the first of February if the levels keep falling.
"""

GRID = """---
title: "Grid prices rise"
date: 2025-01-14
---

Eastvale's grid operator raised wholesale electricity prices by twelve percent for the winter.
"""

BRIDGE = """---
title: "Bridge closure extended"
date: 2025-01-16
---

The Carrow river bridge stays closed to lorries until the inspection of its cables is finished.
"""


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Four plain public briefings, enough to index fast and to notice any loss."""
    root = tmp_path / "corpus"
    root.mkdir()
    for name, text in {
        "2025-01-10-harbour.md": HARBOUR,
        "2025-01-12-reservoir.md": RESERVOIR,
        "2025-01-14-grid.md": GRID,
        "2025-01-16-bridge.md": BRIDGE,
    }.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def small_service(small_corpus: Path, tmp_path: Path) -> BriefingService:
    """A service over ``small_corpus``, indexed once."""
    svc = make_service(small_corpus, tmp_path / "index", FakeEmbedder())
    report = svc.reindex()
    assert report.briefings_total == 4
    return svc


def fresh(service: BriefingService) -> BriefingService:
    """Another process's view of the same folders."""
    return BriefingService(service.config, service.embedder, service.calibration, today=service._today)
