"""Text-quality measures of an extraction against the true paragraphs of a briefing.

- word recovery: the share of the true words found by the extraction in the same order
  (the longest in-order match of the two word sequences, divided by the true word count);
- extra words: extracted words that match no true word (navigation, headers, debris);
- split: true paragraphs whose words end up in more than one extracted paragraph;
- merged: extracted paragraphs holding words of more than one true paragraph;
- whole: true paragraphs recovered as exactly one extracted paragraph of their own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def compare(truth: Sequence[str], extracted: Sequence[str]) -> dict[str, Any]:
    """Measures of ``extracted`` paragraphs against ``truth`` paragraphs (both in order)."""
    t_words: list[str] = []
    t_para: list[int] = []
    for i, p in enumerate(truth):
        for w in words(p):
            t_words.append(w)
            t_para.append(i)
    e_words: list[str] = []
    e_para: list[int] = []
    for i, p in enumerate(extracted):
        for w in words(p):
            e_words.append(w)
            e_para.append(i)
    matcher = SequenceMatcher(None, t_words, e_words, autojunk=False)
    t_to_e: dict[int, set[int]] = defaultdict(set)
    e_to_t: dict[int, set[int]] = defaultdict(set)
    matched = 0
    for a, b, n in matcher.get_matching_blocks():
        for k in range(n):
            t_to_e[t_para[a + k]].add(e_para[b + k])
            e_to_t[e_para[b + k]].add(t_para[a + k])
        matched += n
    split = sum(1 for i in range(len(truth)) if len(t_to_e.get(i, ())) > 1)
    merged = sum(1 for i in e_to_t if len(e_to_t[i]) > 1)
    whole = sum(
        1
        for i in range(len(truth))
        if len(t_to_e.get(i, ())) == 1 and len(e_to_t[next(iter(t_to_e[i]))]) == 1
    )
    return {
        "true_words": len(t_words),
        "recovered": matched / len(t_words) if t_words else 0.0,
        "extra_words": (len(e_words) - matched) / len(t_words) if t_words else 0.0,
        "paragraphs": len(truth),
        "extracted_paragraphs": len(extracted),
        "split": split,
        "merged": merged,
        "whole": whole,
    }
