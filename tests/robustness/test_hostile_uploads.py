"""Hostile uploads through the shared handlers: a clear refusal (nothing saved) or a clean add."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.handlers import Handlers
from index.formats.sandbox import ExtractionSandbox
from index.service import BriefingService
from tests.heartbeat import heartbeat
from tests.robustness.test_hostile_files import ALIAS_BOMB, BODY

GOOD = b"---\ntitle: Pier repairs\ndate: 2025-02-01\n---\n\nThe pier repairs start on Monday and last two weeks.\n"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (ALIAS_BOMB.encode(), "alias"),
        (("---\ntitle: " + "[" * 20_000 + "]" * 20_000 + "\n---" + BODY).encode(), "nested"),
        (("---\ntags: " + "- " * 5000 + "x\n---" + BODY).encode(), "front matter"),
        (("---\naudience: moderators\naudience: all\n---" + BODY).encode(), "twice"),
        (b"---\ntitle: x\n" + b"Body without a closing line.\n", "no closing"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
        ("Caf\xe9".encode("latin-1") + BODY.encode(), "not UTF-8"),
        (b"---\ntitle: Only front matter\n---\n", "no paragraphs"),
        (b"   \n\n", "empty"),
    ],
    ids=[
        "alias bomb",
        "deep nesting",
        "deep block nesting",
        "repeated key",
        "unclosed front matter",
        "binary",
        "latin-1",
        "no body",
        "blank",
    ],
)
async def test_a_hostile_upload_is_refused_with_a_reason_and_nothing_saved(
    small_service: BriefingService, small_corpus: Path, data: bytes, says: str
) -> None:
    before = sorted(p.name for p in small_corpus.iterdir())

    with pytest.raises(UserFacingError) as err:
        await Handlers(small_service).add_briefing("2025-02-01-upload.md", data, "test")

    assert says in err.value.message and "was not added" in err.value.message
    assert sorted(p.name for p in small_corpus.iterdir()) == before


async def test_an_impossible_date_in_an_upload_is_added_undated_with_a_warning(
    small_service: BriefingService,
) -> None:
    report = await Handlers(small_service).add_briefing(
        "2025-02-01-upload.md", b"---\ndate: 2024-02-30\n---" + BODY.encode(), "test"
    )

    assert report.briefings_added == ["2025-02-01-upload"]
    assert any("2024-02-30" in w and "not understood" in w for w in report.warnings)


async def test_a_utf16_upload_is_added(small_service: BriefingService, small_corpus: Path) -> None:
    data = GOOD.decode().encode("utf-16")

    report = await Handlers(small_service).add_briefing("2025-02-01-pier.md", data, "test")

    assert report.briefings_added == ["2025-02-01-pier"]
    assert (small_corpus / "2025-02-01-pier.md").read_bytes() == data


async def test_replacing_with_a_name_in_another_case_replaces_the_one_file(
    small_service: BriefingService, small_corpus: Path
) -> None:
    before = sorted(p.name for p in small_corpus.iterdir())

    report = await Handlers(small_service).add_briefing("2025-01-10-HARBOUR.md", GOOD, "test", replace=True)

    assert sorted(p.name for p in small_corpus.iterdir()) == before
    assert (small_corpus / "2025-01-10-harbour.md").read_bytes() == GOOD
    assert report.briefings_changed == ["2025-01-10-harbour"] and report.briefings_added == []


async def test_an_upload_is_parsed_off_the_event_loop(
    small_service: BriefingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = ExtractionSandbox.parse

    def slow_parse(self: ExtractionSandbox, *args: object, **kwargs: object) -> object:
        time.sleep(0.4)  # a big or hostile file
        return parse(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ExtractionSandbox, "parse", slow_parse)
    with heartbeat(0.01) as gaps:
        await asyncio.sleep(0.05)  # the ticker runs before the upload starts
        await Handlers(small_service).add_briefing("2025-02-01-pier.md", GOOD, "test")

    assert gaps and max(gaps) < 0.3
