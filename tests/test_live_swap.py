"""Live swap: questions keep being answered while reindexes and a rollback change the live
version under them, and every answer comes whole from the one version it names."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import faiss

from index.models import Answer
from index.search import IndexVersion
from index.service import BriefingService
from tests.conftest import make_service
from tests.fakes import FakeEmbedder

REMOVED = "000_457032d09a867f08"
QUESTIONS = [
    "How many North Korean troops are in Russia?",  # answered by REMOVED while it exists
    "What did Iran supply to Russia?",
    "When do Stage 3 water restrictions start in Lindenfall?",
    "How many dock workers were hurt when the harbor crane collapsed?",
    "What did the Bank of Valmora decide about interest rates?",
    "What is new about the Saltmere ferry timetable?",
]
NEW_BRIEFING = """---
title: "Saltmere ferry timetable changes for the winter season"
date: 2025-02-20
---

## Summary

The Saltmere ferry will run every forty minutes instead of every half hour from 1 March, the harbor
authority said, because two of its four boats go into dry dock for repairs.
"""


class Askers:
    """Threads asking questions without a pause, each through its own service."""

    def __init__(self, services: dict[str, BriefingService]) -> None:
        self.answers: list[tuple[str, Answer]] = []  # (thread name, answer), in order
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._ask, args=(name, svc, i), name=name, daemon=True)
            for i, (name, svc) in enumerate(services.items())
        ]

    def _ask(self, name: str, service: BriefingService, offset: int) -> None:
        i = offset
        while not self._stop.is_set():
            question = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            try:
                answer = service.ask(question, k=10)
            except Exception:
                self.errors.append(f"{name}: {question}\n{traceback.format_exc()}")
                continue
            self.answers.append((name, answer))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_until_all_answer_from(self, version: str, since: int, timeout: float = 60.0) -> None:
        """Wait until every thread has answered from ``version`` after answer number ``since``."""
        names = {t.name for t in self._threads}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.errors:
            seen = {n for n, a in self.answers[since:] if a.index_version == version}
            if seen >= names:
                return
            time.sleep(0.01)
        raise AssertionError(f"not every thread answered from {version}; errors: {self.errors[:1]}")


def test_questions_never_fail_and_stay_consistent_across_reindexes_and_a_rollback(
    corpus: Path, tmp_path: Path
) -> None:
    svc = make_service(corpus, tmp_path / "index", FakeEmbedder(), keep_versions=100)
    v1 = svc.reindex().version
    assert v1 is not None
    # A second service over the same folder stands in for another process (the CLI, the bot).
    elsewhere = BriefingService(svc.config, FakeEmbedder(), svc.calibration, today=svc._today)
    askers = Askers({"bot-1": svc, "bot-2": svc, "elsewhere": elsewhere})
    askers.start()
    try:
        askers.wait_until_all_answer_from(v1, 0)

        def swap(change: Callable[[], str | None]) -> str:
            mark = len(askers.answers)
            version = change()
            assert version is not None
            askers.wait_until_all_answer_from(version, mark)
            return version

        def remove_and_change() -> str | None:
            (corpus / f"{REMOVED}.txt").unlink()
            crane = corpus / "2024-09-12-saltmere-harbor-crane-collapse.txt"
            crane.write_text(
                crane.read_text(encoding="utf-8").replace("Two dock workers", "Three dock workers")
            )
            return svc.reindex().version

        def add() -> str | None:
            (corpus / "2025-02-20-saltmere-ferry-timetable.md").write_text(NEW_BRIEFING, encoding="utf-8")
            return svc.reindex().version

        v2 = swap(remove_and_change)
        v3 = swap(add)
        back = swap(lambda: svc.rollback().version)
        v4 = swap(lambda: svc.reindex().version)  # the corpus again, on top of v2
    finally:
        askers.stop()

    assert askers.errors == [], askers.errors[0]
    assert back == v2 and len({v1, v2, v3, v4}) == 4
    answers = askers.answers
    assert len(answers) > 100

    # Every quote belongs to the version its answer names: same passage, text and briefing.
    layout = svc.layout
    opened = {v: IndexVersion(layout.version_dir(v)) for v in {a.index_version for _, a in answers}}
    assert set(opened) == {v1, v2, v3, v4}
    try:
        for name, answer in answers:
            index = opened[answer.index_version]
            assert answer.quotes, (name, answer.question)
            for quote in answer.quotes:
                stored = index.store.passage_by_id(quote.passage_id)
                assert stored is not None, (answer.index_version, quote.passage_id)
                assert stored.passage.text == quote.text
                assert stored.passage.briefing_id == quote.briefing_id
                assert all(index.briefing(a.briefing_id) is not None for a in quote.also_in)

        # The removed briefing: quoted before the reindex that removed it, never after.
        def quoted(versions: set[str]) -> set[str]:
            return {q.briefing_id for _, a in answers if a.index_version in versions for q in a.quotes}

        assert REMOVED in quoted({v1})
        assert REMOVED not in quoted({v2, v3, v4})
        assert "2025-02-20-saltmere-ferry-timetable" in quoted({v3}) & quoted({v4})
        assert "2025-02-20-saltmere-ferry-timetable" not in quoted({v1, v2})

        # Each thread moved forward through the versions, never back to one it had left.
        for name in ("bot-1", "bot-2", "elsewhere"):
            seen = [a.index_version for n, a in answers if n == name]
            steps = [v for i, v in enumerate(seen) if i == 0 or seen[i - 1] != v]
            assert steps == [v1, v2, v3, v2, v4], (name, steps)

        # The reindex after the rollback rebuilt v3's content: nothing lost, nothing twice.
        def passages(v: str) -> list[str]:
            return [sp.passage.passage_id for sp in opened[v].store.iter_passages()]

        assert sorted(passages(v4)) == sorted(passages(v3))
        assert len(set(passages(v4))) == len(passages(v4)) == len(opened[v4].vectors)
        ids = faiss.vector_to_array(opened[v4].vectors._index.id_map).tolist()  # type: ignore[attr-defined]
        assert len(set(ids)) == len(ids)
    finally:
        for index in opened.values():
            index.close()
