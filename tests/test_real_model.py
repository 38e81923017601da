"""End to end with the real sentence-transformers model over the bundled sample corpus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from index.embedder import SentenceTransformerEmbedder
from index.search import EVERYONE
from index.service import BriefingService, ServiceConfig
from tests.conftest import FIXTURES, SAMPLE_CORPUS

pytestmark = pytest.mark.model

QUESTIONS = [
    json.loads(line) for line in (FIXTURES / "sample_questions.jsonl").read_text().splitlines() if line
]
ANSWERABLE = [q for q in QUESTIONS if q["kind"] != "offtopic"]
OFFTOPIC = [q for q in QUESTIONS if q["kind"] == "offtopic"]


@pytest.fixture(scope="module")
def real_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BriefingService]:
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    svc = BriefingService(ServiceConfig(corpus, root / "index"), SentenceTransformerEmbedder())
    svc.reindex()
    yield svc


def test_questions_about_the_samples_put_the_right_briefing_first(real_service: BriefingService) -> None:
    top = [real_service.ask(q["question"]).quotes[0].briefing_id == q["briefing_id"] for q in ANSWERABLE]
    assert sum(top) / len(top) >= 0.9


def test_the_answering_passage_is_among_the_first_three_quotes(real_service: BriefingService) -> None:
    found = []
    for q in ANSWERABLE:
        answer = real_service.ask(q["question"], k=3)
        found.append(any(q["expect"] in quote.text for quote in answer.quotes))
    # A Key Takeaways bullet often states the same fact as the paragraph named in the fixture.
    assert sum(found) / len(found) >= 0.8


def test_answerable_questions_get_a_confident_answer(real_service: BriefingService) -> None:
    # The strong threshold (index/calibration.json) trades some answered questions for honest
    # labels on off-topic and near-miss questions; the rest still show their quotes, as weak.
    answered = [not real_service.ask(q["question"]).abstained for q in ANSWERABLE]
    assert sum(answered) / len(answered) >= 0.75


def test_off_topic_questions_abstain(real_service: BriefingService) -> None:
    abstained = [real_service.ask(q["question"]).abstained for q in OFFTOPIC]
    assert sum(abstained) / len(abstained) >= 0.8


def test_every_quote_is_verbatim_from_its_file(real_service: BriefingService) -> None:
    corpus = real_service.config.corpus_dir
    for q in QUESTIONS[:12]:
        for quote in real_service.ask(q["question"], k=5).quotes:
            raw = (corpus / quote.attribution.path).read_text(encoding="utf-8")
            assert raw[quote.start : quote.end] == quote.text


def test_the_moderators_only_briefing_stays_out_of_public_answers(real_service: BriefingService) -> None:
    answer = real_service.ask(
        "Was patient data stolen in the Meridale ransomware attack?", viewer=EVERYONE, k=10
    )
    assert all(q.briefing_id != "2025-02-06-meridale-health-ransomware" for q in answer.quotes)


def test_a_how_many_question_highlights_the_sentence_with_the_number(real_service: BriefingService) -> None:
    answer = real_service.ask("How many North Korean troops are in Russia?")
    quote = next(q for q in answer.quotes if "10,000" in q.text)
    assert quote.highlight is not None
    assert "10,000" in quote.text[quote.highlight[0] : quote.highlight[1]]


def test_team_chat_questions_about_other_things_abstain(real_service: BriefingService) -> None:
    for question in ("what's the guest wifi password?", "What is the weather forecast for tomorrow?"):
        assert real_service.ask(question).abstained, question
