"""Blocks -> passages: long paragraphs split at sentences to fit the model, tiny ones folded in.

A passage is always one contiguous span of the briefing text, so merging and splitting never
change a character of what is quoted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

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


_WORD = re.compile(r"\S+")


def _more_words_than(text: str, start: int, end: int, limit: int) -> bool:
    """Whether ``text[start:end]`` has more than ``limit`` words; reads no further than needed."""
    return sum(1 for _ in islice(_WORD.finditer(text, start, end), limit + 1)) > limit


def _fits(text: str, start: int, end: int, count_tokens: TokenCounter, budget: int) -> bool:
    """Whether ``text[start:end]`` fits the budget. Every word is at least one word piece, so a
    span with more words than the budget is refused without tokenizing it (a huge paragraph
    next to many tiny ones must not be tokenized again for each of them)."""
    return not _more_words_than(text, start, end, budget) and count_tokens(text[start:end]) <= budget


def _furthest(ends: Sequence[int], first: int, fits: Callable[[int], bool]) -> int:
    """The last index ``i >= first`` of ``ends`` with ``fits(ends[i])``, or ``first - 1``
    (``fits`` is monotone: a longer span never has fewer word pieces). The same cut as adding
    one unit at a time, in a logarithmic number of tokenizer calls, so a paragraph with no
    sentence end stays linear."""
    lo, hi, best = first, len(ends) - 1, first - 1
    step = 1
    # Gallop first: a piece usually ends close to where it starts.
    while lo <= hi:
        probe = min(lo + step - 1, hi)
        if fits(ends[probe]):
            best, lo = probe, probe + 1
            step *= 2
        else:
            hi = probe - 1
            break
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(ends[mid]):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def _pack(
    body: str, units: Sequence[tuple[int, int]], count_tokens: TokenCounter, budget: int
) -> list[tuple[int, int]]:
    """Join consecutive units greedily into spans of at most ``budget`` tokens (a unit alone is
    kept even if it does not fit)."""
    pieces: list[tuple[int, int]] = []
    i = 0
    ends = [e for _, e in units]
    while i < len(units):
        start = units[i][0]

        def fits(end: int, start: int = start) -> bool:
            return _fits(body, start, end, count_tokens, budget)

        last = _furthest(ends, i + 1, fits)
        pieces.append((start, units[last][1]))
        i = last + 1
    return pieces


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
                if _fits(text, joined.start, joined.end, count_tokens, budget):
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
                    if _fits(text, joined.start, joined.end, count_tokens, budget):
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
                and not _more_words_than(text, prev.start, prev.end, group_words - 1)
                and not _more_words_than(text, block.start, block.end, group_words - 1)
            ):
                joined = Block(prev.start, block.end, prev.section, prev.kind, prev.paragraph)
                if _fits(text, joined.start, joined.end, count_tokens, budget):
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
        if _fits(body, s, e, count_tokens, budget):
            units.append((s, e))
        else:
            units.extend(_split_words(body, s, e, count_tokens, budget))
    return [(start + s, start + e) for s, e in _pack(body, units, count_tokens, budget)]


def _split_words(body: str, s: int, e: int, count_tokens: TokenCounter, budget: int) -> list[tuple[int, int]]:
    """A sentence too long for the model is cut between words."""
    words = [m.span() for m in _WORD.finditer(body, s, e)]
    return _pack(body, words, count_tokens, budget)
