"""Huge and unicode passages: every message stays within Discord's limits, and nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.embeds import TRIMMED
from index.service import BriefingService
from tests.conftest import FAKE_CALIBRATION
from tests.discord.helpers import World, limit_problems, message_payloads, shown_text, without_marks
from tests.fakes import FakeEmbedder

QUESTION = "How many containers did the harbour crane move on the pier?"
LONG_TITLE = "Überlänge 🚢 " + "港口起重机报告 " * 40


def _huge_paragraph() -> str:
    sentences = []
    i = 0
    while sum(len(s) for s in sentences) < 20_000:
        sentences.append(
            f"Sentence {i}: the harbour crane 🚢 moved *{i}* containers_{i} on pier `P{i}` "
            f"(港口起重机移动了集装箱 {i} 次) ~ | > # 😀👍🏽 on the pier."
        )
        i += 1
    return " ".join(sentences)


def _run_on_paragraph() -> str:
    words = " ".join(f"harbour crane containers pier 港口{i}" for i in range(450))
    return words + " " + "集装箱" * 1500


@pytest.fixture
def huge_text() -> str:
    return _huge_paragraph()


@pytest.fixture
def service(corpus: Path, tmp_path: Path, huge_text: str) -> Iterator[BriefingService]:
    """The sample corpus plus two 20,000-character paragraphs, each kept as one passage."""
    front = (
        f'---\ntitle: "{LONG_TITLE}"\ndate: 2025-02-25\nsource: "{"Desk " * 80}"\nurl: "not a url"\n---\n\n'
    )
    (corpus / "2025-02-25-harbour-overflow.md").write_text(
        front + "## Pier 🌊 operations\n\n" + huge_text + "\n\nA short closing paragraph about the pier.\n",
        encoding="utf-8",
    )
    (corpus / "2025-02-26-run-on.md").write_text(
        "---\ntitle: Run-on\ndate: 2025-02-26\n---\n\n" + _run_on_paragraph() + "\n", encoding="utf-8"
    )
    from index.build import BuildOptions
    from index.service import ServiceConfig

    config = ServiceConfig(corpus_dir=corpus, index_dir=tmp_path / "index", build=BuildOptions())
    embedder = FakeEmbedder(max_tokens=100_000)  # no splitting: the passages stay huge
    svc = BriefingService(config, embedder, FAKE_CALIBRATION, today=lambda: date(2025, 3, 1))  # type: ignore[arg-type]
    svc.reindex()
    yield svc


def _assert_all_within_limits(world: World) -> None:
    payloads = message_payloads(world.env)
    assert payloads
    for body in payloads:
        assert limit_problems(body) == []


async def test_answer_messages_stay_within_limits_for_huge_unicode_passages(
    world: World, corpus: Path
) -> None:
    public = await world.alice.slash(world.channel, "ask", question=QUESTION)
    private = await world.alice.slash(world.channel, "ask", question=QUESTION, private=True)

    _assert_all_within_limits(world)
    for result in (public, private):
        assert result.response is not None
        first = result.response.embeds[0].description or ""
        assert TRIMMED in first
        files = "".join(p.read_text(encoding="utf-8") for p in corpus.rglob("*.*"))
        for embed in result.response.embeds:
            for piece in without_marks(shown_text(embed.description or "")):
                assert piece in files


async def test_a_trimmed_quote_offers_its_full_passage_verbatim(world: World, huge_text: str) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=QUESTION)
    assert answer.response is not None
    labels = [c.get("label") or "" for row in answer.response.components for c in row["components"]]
    full_label = next(label for label in labels if label.startswith("Full passage"))

    result = await world.alice.click(answer.response, label=full_label)

    _assert_all_within_limits(world)
    parts = [result.response, *result.followups] if result.response else result.followups
    assert all(p.ephemeral for p in parts)
    attachments = [a for p in parts for a in p.attachments]
    if attachments:
        whole = (await attachments[0].read()).decode("utf-8")
    else:
        whole = "".join(shown_text(e.description or "") for p in parts for e in p.embeds)
    assert whole.strip() in {huge_text, _run_on_paragraph()}


async def test_context_of_a_huge_passage_stays_within_limits(world: World) -> None:
    answer = await world.alice.slash(world.channel, "ask", question=QUESTION)

    result = await world.alice.click(answer.response, label="Show context 1")

    _assert_all_within_limits(world)
    assert result.response is not None and result.response.embeds
