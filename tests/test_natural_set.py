"""The natural-question set: assembled from a shared folder and briefing folders, judged by
gold paragraph and answer string, reported per kind and split. Tiny synthetic sets only:
tests never read ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from index.evaluation import EvalQuery, QueryResult, is_hit, load_any, summarise
from index.models import Answer
from index.natural_set import NaturalSetError, find_shared, load_natural

ARTICLE = (
    "Lead paragraph about the harbour.\n\nThe crane was built in 1997 and had passed its checks.\n\nEnd."
)
BRIEFING = "---\ntitle: Water\n---\n\n## Key Takeaways\n\n- Reservoirs are at 38%.\n\nThe board wants use cut to 120 litres.\n"


def _write_set(tmp_path: Path, questions: list[dict[str, Any]]) -> Path:
    shared = tmp_path / "shared"
    (shared / "eval" / "news").mkdir(parents=True)
    rows = [
        {"id": "a-1", "title": "", "text": ARTICLE, "published_at": "2022-06-01"},
        {"id": "a-2", "title": "", "text": "Too late.", "published_at": "2023-01-01"},
    ]
    (shared / "eval" / "news" / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    team = tmp_path / "repo" / "corpus"
    team.mkdir(parents=True)
    (team / "water.md").write_text(BRIEFING)
    natural = tmp_path / "repo" / "bench" / "natural"
    natural.mkdir(parents=True)
    sources = {
        "name": "natural",
        "sources": [
            {
                "name": "news",
                "kind": "jsonl",
                "root": "shared",
                "path": "eval/news/corpus.jsonl",
                "paragraphs": "blank-line",
                "published_to": "2022-12-31",
            },
            {"name": "team", "kind": "folder", "root": "set", "path": "../../corpus", "paragraphs": "line"},
        ],
    }
    (natural / "sources.json").write_text(json.dumps(sources))
    (natural / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    return natural


QUESTIONS = [
    {"id": "q1", "text": "how old was the crane?", "kind": "answerable", "source": "news", "doc": "a-1",
     "paragraph": 1, "answer": "1997", "split": "tune"},
    {"id": "q2", "text": "daily water target?", "kind": "answerable", "source": "team", "doc": "water.md",
     "paragraph": 2, "answer": "120 litres", "split": "heldout"},
    {"id": "q3", "text": "who owns the crane?", "kind": "near_miss", "source": "news", "doc": "a-1",
     "split": "tune"},
    {"id": "q4", "text": "guest wifi password?", "kind": "off_topic", "split": "heldout"},
]  # fmt: skip


def test_gold_paragraphs_resolve_from_the_shared_folder_and_from_briefing_files(tmp_path: Path) -> None:
    natural = load_natural(_write_set(tmp_path, QUESTIONS))
    gold = {q.id: q.gold for q in natural.questions}
    assert gold["q1"] == "The crane was built in 1997 and had passed its checks."
    assert gold["q2"] == "The board wants use cut to 120 litres."
    assert gold["q3"] is None


def test_documents_outside_the_date_window_are_left_out(tmp_path: Path) -> None:
    natural = load_natural(_write_set(tmp_path, QUESTIONS))
    assert [r["id"] for r in natural.rows] == ["a-1"]
    assert list(natural.files) == ["team/water.md"]


def test_a_gold_paragraph_that_lacks_its_answer_is_refused(tmp_path: Path) -> None:
    broken = [{**QUESTIONS[0], "paragraph": 0}]
    with pytest.raises(NaturalSetError, match="not in paragraph 0"):
        load_natural(_write_set(tmp_path, broken))


def test_the_shared_folder_is_found_above_the_set(tmp_path: Path) -> None:
    natural = _write_set(tmp_path, QUESTIONS)
    assert find_shared(natural) == tmp_path / "shared"


def test_eval_queries_carry_kind_split_and_the_answer_requirement(tmp_path: Path) -> None:
    eval_set = load_any(_write_set(tmp_path, QUESTIONS))
    kinds = [(q.kind, q.split, q.answerable, q.require_answer) for q in eval_set.queries]
    assert kinds == [
        ("answerable", "tune", True, True),
        ("answerable", "heldout", True, True),
        ("near_miss", "tune", False, True),
        ("off_topic", "heldout", False, True),
    ]


def test_a_natural_hit_needs_both_the_gold_paragraph_and_the_answer() -> None:
    q = EvalQuery("q", "how old?", True, gold_passages=["The crane was built in 1997."], answers=["1997"],
                  require_answer=True)  # fmt: skip
    assert is_hit("Intro. The crane was built in 1997. More text after it.", q)  # grouped with neighbours
    assert not is_hit("A different paragraph that also says 1997.", q)
    other = EvalQuery("q", "how old?", True, gold_passages=["It was built in 1997. It had passed checks."],
                      answers=["1997"], require_answer=True)  # fmt: skip
    assert not is_hit("It had passed checks.", other)  # the split-off half without the answer


def _result(query: EvalQuery, abstained: bool, first_hit: int | None) -> QueryResult:
    return QueryResult(query, Answer(query.text, abstained, [], "v1"), 10.0, first_hit)


def test_the_summary_reports_near_miss_and_off_topic_abstention_per_split() -> None:
    results = [
        _result(EvalQuery("1", "a", True, answers=["x"], split="tune"), False, 1),
        _result(EvalQuery("2", "b", True, answers=["x"], split="heldout"), True, None),
        _result(EvalQuery("3", "c", False, kind="near_miss", split="tune"), True, None),
        _result(EvalQuery("4", "d", False, kind="off_topic", split="heldout"), False, None),
    ]
    data = summarise(results)
    assert (data["hit@1"], data["false_abstain"]) == (0.5, 0.5)
    assert (data["abstain_near_miss"], data["abstain_offtopic"]) == (1.0, 0.0)
    assert data["splits"]["tune"]["hit@1"] == 1.0
    assert data["splits"]["heldout"]["false_abstain"] == 1.0
