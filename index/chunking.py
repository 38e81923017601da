"""Blocks -> passages: long paragraphs split at sentences to fit the model, tiny ones folded in.

A passage is always one contiguous span of the briefing text, so merging and splitting never
change a character of what is quoted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import blingfire

from index.models import Block, Passage

# Bump when passage boundaries or ids change: the manifest records it and a mismatch forces
# a full rebuild.
CHUNKER_VERSION = "3"

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkOptions:
    max_tokens: int = 256  # the model's window, special tokens included
    context_tokens: int = 40  # reserved for the title and section embedded with each passage
    min_words: int = 5  # paragraphs shorter than this are folded into a neighbour
    group_words: int = 50  # consecutive short paragraphs are grouped until a group has this many words

    @property
    def budget(self) -> int:
        return max(32, self.max_tokens - 2 - self.context_tokens)

    def signature(self) -> str:
        return (
            f"{CHUNKER_VERSION}:{self.max_tokens}:{self.context_tokens}:{self.min_words}:{self.group_words}"
        )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence offsets within ``text`` (blingfire), checked to be exact slices."""
    if not text.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    spans: list[tuple[int, int]] = []
    for s, e in offsets:
        s, e = int(s), int(e)
        if 0 <= s < e <= len(text):
            spans.append((s, e))
    if not spans:
        return [(0, len(text))]
    return spans


def passage_ids(briefing_id: str, ordinal: int, text: str) -> tuple[str, int, str]:
    """Deterministic (passage_id, vid, content_hash) from briefing, position and content."""
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    pid = hashlib.sha256(f"{briefing_id}\x1f{ordinal}\x1f{content_hash}".encode()).hexdigest()[:16]
    return pid, int(pid[:15], 16), content_hash


def make_passages(
    briefing_id: str,
    text: str,
    blocks: Sequence[Block],
    count_tokens: TokenCounter,
    options: ChunkOptions = ChunkOptions(),
) -> list[Passage]:
    """Cut a parsed briefing into passages ready to embed and quote."""
    merged = _fold_tiny(text, list(blocks), options.min_words, count_tokens, options.budget)
    if options.group_words:
        merged = _group_short(text, merged, options.group_words, count_tokens, options.budget)
    spans: list[tuple[int, int, Block, int, str]] = []  # start, end, block, paragraph_end, part
    for block, paragraph_end in merged:
        pieces = _split_to_fit(text, block.start, block.end, count_tokens, options.budget)
        if len(pieces) == 1:
            spans.append((pieces[0][0], pieces[0][1], block, paragraph_end, ""))
        else:
            for i, (s, e) in enumerate(pieces):
                spans.append((s, e, block, paragraph_end, _part_label(i)))
    passages: list[Passage] = []
    for ordinal, (s, e, block, paragraph_end, part) in enumerate(spans):
        body = text[s:e]
        pid, vid, chash = passage_ids(briefing_id, ordinal, body)
        passages.append(
            Passage(
                passage_id=pid,
                vid=vid,
                briefing_id=briefing_id,
                ordinal=ordinal,
                paragraph=block.paragraph,
                paragraph_end=paragraph_end,
                part=part,
                section=block.section,
                start=s,
                end=e,
                text=body,
                content_hash=chash,
                kind=block.kind,
                sentences=tuple(sentence_spans(body)),
            )
        )
    return passages


def _part_label(i: int) -> str:
    label = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        label = chr(ord("a") + rem) + label
    return label


def _words(text: str) -> int:
    return len(text.split())


def _fold_tiny(
    text: str, blocks: list[Block], min_words: int, count_tokens: TokenCounter, budget: int
) -> list[tuple[Block, int]]:
    """Fold very short paragraphs ("Yes, sir.") into the paragraph before them, or after.

    Returns (block, last paragraph number covered). Bullets, tables and quotes stay as they
    are: a short bullet is still a takeaway of its own.
    """
    out: list[tuple[Block, int]] = []
    pending: Block | None = None  # a tiny paragraph waiting for a following neighbour
    for block in blocks:
        body = text[block.start : block.end]
        tiny = block.kind == "paragraph" and _words(body) < min_words
        if pending is not None:
            if block.kind == "paragraph" and block.section == pending.section:
                joined = Block(pending.start, block.end, block.section, block.kind, pending.paragraph)
                if count_tokens(text[joined.start : joined.end]) <= budget:
                    out.append((joined, block.paragraph))
                    pending = None
                    continue
            out.append((pending, pending.paragraph))
            pending = None
        if tiny:
            if out:
                prev, _ = out[-1]
                if prev.kind == "paragraph" and prev.section == block.section:
                    joined = Block(prev.start, block.end, prev.section, prev.kind, prev.paragraph)
                    if count_tokens(text[joined.start : joined.end]) <= budget:
                        out[-1] = (joined, block.paragraph)
                        continue
            pending = block
            continue
        out.append((block, block.paragraph))
    if pending is not None:
        out.append((pending, pending.paragraph))
    return out


def _group_short(
    text: str, items: list[tuple[Block, int]], group_words: int, count_tokens: TokenCounter, budget: int
) -> list[tuple[Block, int]]:
    """Group runs of short paragraphs (one-sentence news paragraphs) in the same section into
    one passage of about ``group_words`` words, so a quote carries its immediate context."""
    out: list[tuple[Block, int]] = []
    for block, last in items:
        if out and block.kind == "paragraph":
            prev, _ = out[-1]
            if (
                prev.kind == "paragraph"
                and prev.section == block.section
                and _words(text[prev.start : prev.end]) < group_words
                and _words(text[block.start : block.end]) < group_words
            ):
                joined = Block(prev.start, block.end, prev.section, prev.kind, prev.paragraph)
                if count_tokens(text[joined.start : joined.end]) <= budget:
                    out[-1] = (joined, last)
                    continue
        out.append((block, last))
    return out


def _split_to_fit(
    text: str, start: int, end: int, count_tokens: TokenCounter, budget: int
) -> list[tuple[int, int]]:
    """Split [start, end) at sentence boundaries into spans of at most ``budget`` tokens."""
    body = text[start:end]
    # A word piece covers at least one character, so short text always fits.
    if len(body) <= budget or count_tokens(body) <= budget:
        return [(start, end)]
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(body):
        if count_tokens(body[s:e]) <= budget:
            units.append((s, e))
        else:
            units.extend(_split_words(body, s, e, count_tokens, budget))
    pieces: list[tuple[int, int]] = []
    cur_s, cur_e = units[0]
    for s, e in units[1:]:
        if count_tokens(body[cur_s:e]) <= budget:
            cur_e = e
        else:
            pieces.append((cur_s, cur_e))
            cur_s, cur_e = s, e
    pieces.append((cur_s, cur_e))
    return [(start + s, start + e) for s, e in pieces]


def _split_words(body: str, s: int, e: int, count_tokens: TokenCounter, budget: int) -> list[tuple[int, int]]:
    """A sentence too long for the model is cut between words."""
    out: list[tuple[int, int]] = []
    words: list[tuple[int, int]] = []
    i = s
    while i < e:
        while i < e and body[i].isspace():
            i += 1
        j = i
        while j < e and not body[j].isspace():
            j += 1
        if j > i:
            words.append((i, j))
        i = j
    cur_s = words[0][0]
    cur_e = words[0][1]
    for ws, we in words[1:]:
        if count_tokens(body[cur_s:we]) <= budget:
            cur_e = we
        else:
            out.append((cur_s, cur_e))
            cur_s, cur_e = ws, we
    out.append((cur_s, cur_e))
    return out
