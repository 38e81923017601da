"""Pure rendering rules of ``bot.embeds``: verbatim escaping, trimming, sharing the space."""

from __future__ import annotations

import pytest

from bot import embeds
from tests.discord.helpers import shown_text, without_marks

TRICKY = [
    "*bold* _italic_ __under__ ~~strike~~ ||spoiler|| `code` ```block```",
    "> a quote\n>>> more\n# Heading\n## Sub\n-# subtext\n- bullet\n+ plus\n1. first\n2) second",
    "back\\slash \\*already\\* [masked](https://example.org) <@123> <@&456> <#789> <:e:1> <t:0:R>",
    "@everyone @here email@example.org 5 * 3 = 15, a_b_c, ~approx~, |pipe|",
    "東京 港口起重机 😀👍🏽 Ünïcödé",
]


@pytest.mark.parametrize("text", TRICKY)
def test_escaped_text_displays_exactly_as_written(text: str) -> None:
    assert shown_text(embeds.escape(text)) == text


def test_links_stay_clickable() -> None:
    assert "https://example.org/a_b*c" in embeds.escape("see https://example.org/a_b*c today")


def test_lengths_are_counted_as_discord_counts_them() -> None:
    assert embeds.dlen("abc") == 3
    assert embeds.dlen("😀") == 2
    assert embeds.dlen("港") == 1


def test_a_long_text_is_cut_after_a_sentence_and_marked_trimmed() -> None:
    text = " ".join(f"Sentence number {i} ends here." for i in range(200))

    body, trimmed = embeds.fit_text(text, 500)

    assert trimmed and embeds.dlen(body) <= 500
    assert body.endswith(embeds.TAIL_MARK)
    (piece,) = without_marks(shown_text(body))
    assert text.startswith(piece) and piece.endswith("ends here.")


def test_the_best_sentence_is_kept_when_it_lies_beyond_the_limit() -> None:
    text = (
        " ".join(f"Filler sentence {i} says little." for i in range(200)) + " The answer is 42. More follows."
    )
    start = text.index("The answer")
    span = (start, start + len("The answer is 42."))

    body, trimmed = embeds.fit_text(text, 400, span)

    assert trimmed and embeds.dlen(body) <= 400
    assert body.startswith(embeds.HEAD_MARK) and "**The answer is 42.**" in body
    assert all(piece in text for piece in without_marks(shown_text(body)))


def test_a_text_without_sentences_is_cut_between_words() -> None:
    text = " ".join(["word"] * 3000)

    body, trimmed = embeds.fit_text(text, 300)

    assert trimmed and embeds.dlen(body) <= 300
    assert without_marks(shown_text(body))[0].split(" ")[-1] == "word"


def test_short_texts_get_all_they_need_and_long_ones_share_the_rest() -> None:
    assert embeds.share_out([100, 5000, 5000], 2100) == [100, 1000, 1000]
    assert embeds.share_out([10, 20], 1000) == [10, 20]
    assert embeds.share_out([9000], 9000) == [embeds.DESCRIPTION_MAX]


def test_full_passage_pages_join_back_to_the_passage() -> None:
    text = " ".join(f"Line {i}: *stars* and _underscores_ 😀." for i in range(600))

    pages = embeds.full_passage_pages(text)

    assert len(pages) > 1
    assert all(embeds.dlen(p) <= embeds.DESCRIPTION_MAX for p in pages)
    assert "".join(shown_text(p) for p in pages) == text


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.org/x", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("not a url", False),
        (None, False),
    ],
)
def test_only_web_links_become_embed_links(url: str | None, kept: bool) -> None:
    assert (embeds.safe_url(url) is not None) is kept
