"""Token counting with the real model's tokenizer (``tokenizers`` only: no torch, fast)."""

from __future__ import annotations

import pytest

from index.chunking import ChunkOptions, make_passages
from index.embedder import SentenceTransformerEmbedder
from index.models import Block


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_a_short_text_counts_its_own_word_pieces(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.count_tokens("Hello world") == 2


def test_a_long_text_is_counted_past_the_packaged_tokenizers_128_limit(
    embedder: SentenceTransformerEmbedder,
) -> None:
    assert embedder.count_tokens("word " * 500) == 500


def test_a_paragraph_longer_than_the_window_is_split_into_parts(
    embedder: SentenceTransformerEmbedder,
) -> None:
    sentence = "The harbour authority inspected every crane on the eastern quay after the collapse. "
    text = sentence * 40  # about 600 word pieces
    block = Block(0, len(text.rstrip()), ("Findings",), "paragraph", 4)
    passages = make_passages("b", text, [block], embedder.count_tokens, ChunkOptions())
    assert len(passages) >= 3
    assert [p.part for p in passages][:2] == ["a", "b"]
    budget = ChunkOptions().budget
    assert all(embedder.count_tokens(p.text) <= budget for p in passages)
    assert all(text[p.start : p.end] == p.text for p in passages)
