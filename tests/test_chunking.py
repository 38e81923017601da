"""Blocks -> passages: long paragraphs split to fit the model, tiny ones folded, stable ids."""

from __future__ import annotations

from index.chunking import ChunkOptions, make_passages
from index.parsing import parse_briefing
from tests.conftest import USER_BRIEFING
from tests.fakes import FakeEmbedder

COUNT = FakeEmbedder().count_tokens


def passages_of(name: str, text: str, options: ChunkOptions | None = None):  # type: ignore[no-untyped-def]
    doc = parse_briefing(name, text.encode())
    return doc, make_passages(doc.meta.briefing_id, doc.text, doc.blocks, COUNT, options or ChunkOptions())


LONG = " ".join(f"Sentence number {i} talks about the harbour budget and its many cranes." for i in range(60))


def test_a_paragraph_longer_than_the_window_is_split_into_parts_that_fit() -> None:
    options = ChunkOptions(max_tokens=128, context_tokens=20)
    _, passages = passages_of(
        "long.txt", "Intro line that is long enough to be a paragraph.\n\n" + LONG + "\n", options
    )
    parts = [p for p in passages if p.paragraph == 2]
    assert len(parts) > 1
    assert all(COUNT(p.text) <= options.budget for p in parts)
    assert [p.part for p in parts] == [chr(ord("a") + i) for i in range(len(parts))]
    assert parts[0].paragraph_label == "2a"


def test_split_parts_end_at_sentence_boundaries_and_cover_the_paragraph() -> None:
    _, passages = passages_of("long.txt", LONG + "\n", ChunkOptions(max_tokens=128, context_tokens=20))
    assert all(p.text.endswith(".") for p in passages)
    joined = " ".join(p.text for p in passages)
    assert joined == LONG


def test_a_sentence_longer_than_the_window_is_cut_between_words() -> None:
    words = " ".join(f"word{i}" for i in range(1000))
    _, passages = passages_of("w.txt", words + "\n", ChunkOptions(max_tokens=100, context_tokens=10))
    assert len(passages) > 5
    assert all(COUNT(p.text) <= 88 for p in passages)
    assert " ".join(p.text for p in passages) == words


def test_every_passage_is_verbatim_at_its_offsets() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    passages = make_passages(doc.meta.briefing_id, doc.text, doc.blocks, COUNT)
    raw = USER_BRIEFING.read_text(encoding="utf-8")
    assert len(passages) == 12
    for p in passages:
        assert raw[p.start : p.end] == p.text


def test_tiny_fragments_are_folded_into_the_previous_paragraph() -> None:
    text = "Q Will the president travel to the summit next week?\n\nYes, sir.\n\nQ And the budget?\n"
    _, passages = passages_of("qa.txt", text)
    assert (
        passages[0].text
        == "Q Will the president travel to the summit next week?\n\nYes, sir.\n\nQ And the budget?"
    )
    assert passages[0].paragraph_label == "1–3"


def test_a_tiny_opening_fragment_joins_the_paragraph_after_it() -> None:
    text = "Thank you.\n\nThe minister then described the new rail timetable in detail.\n"
    _, passages = passages_of("t.txt", text)
    assert len(passages) == 1
    assert passages[0].text.startswith("Thank you.")


def test_passage_ids_are_the_same_when_the_same_file_is_indexed_again() -> None:
    _, first = passages_of("a.txt", LONG + "\n")
    _, again = passages_of("a.txt", LONG + "\n")
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    assert [p.vid for p in first] == [p.vid for p in again]


def test_passage_ids_change_when_the_text_changes() -> None:
    _, first = passages_of("a.txt", "The harbour reopened on Monday after the storm.\n")
    _, edited = passages_of("a.txt", "The harbour reopened on Tuesday after the storm.\n")
    assert first[0].passage_id != edited[0].passage_id


def test_sentences_are_recorded_as_offsets_inside_each_passage() -> None:
    _, passages = passages_of("s.txt", "First sentence here. Second one follows. Third ends it.\n")
    p = passages[0]
    assert [p.text[s:e] for s, e in p.sentences] == [
        "First sentence here.",
        "Second one follows.",
        "Third ends it.",
    ]
