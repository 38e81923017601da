"""A Discord message as an .eml briefing file, read back by the e-mail reader."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.message_briefing import EmbedText, MessageBriefing, message_path, to_eml
from index.parsing import parse_file

WHEN = datetime(2025, 3, 4, 9, 15, tzinfo=UTC)


def _message(**kw: object) -> MessageBriefing:
    values: dict[str, object] = {
        "message_id": 22,
        "channel_id": 11,
        "content": "**Ferry update**\nThe Vellin ferry runs again from Monday after the strike.",
        "author": "Mo Editor",
        "author_id": 7,
        "created_at": WHEN,
        "url": "https://discord.com/channels/1/11/22",
    }
    values.update(kw)
    return MessageBriefing(**values)  # type: ignore[arg-type]


def _read(m: MessageBriefing) -> list:  # type: ignore[type-arg]
    return parse_file(m.rel_path, to_eml(m))


def test_the_first_line_without_markdown_marks_is_the_title() -> None:
    assert _message().title == "Ferry update"
    assert _message(content="## Harbour news\n\nBody text here.").title == "Harbour news"


def test_a_message_with_only_an_embed_is_titled_by_the_embed() -> None:
    m = _message(content="", embeds=(EmbedText(title="Port notice", description="Berth 4 reopens."),))

    assert m.title == "Port notice"
    assert "Berth 4 reopens." in m.body


def test_the_file_reads_back_with_author_date_link_and_the_verbatim_text() -> None:
    m = _message()

    (doc,) = _read(m)

    assert doc.meta.briefing_id == "discord/11/22" and m.rel_path == message_path(11, 22)
    assert (doc.meta.title, doc.meta.source, doc.meta.url) == ("Ferry update", "Mo Editor", m.url)
    assert doc.meta.date == WHEN.date()
    assert "The Vellin ferry runs again from Monday after the strike." in doc.text


def test_a_private_channels_message_keeps_its_audience() -> None:
    (doc,) = _read(_message(audience=("moderators",)))

    assert doc.meta.audience == ("moderators",)


def test_attachments_are_briefings_of_their_own_attributed_to_the_message() -> None:
    note = b"# Timetable\n\nThe first ferry leaves Vellin at six in the morning.\n"
    docs = _read(_message(attachments=(("timetable.md", note),)))

    assert [d.meta.briefing_id for d in docs] == ["discord/11/22", "discord/11/22#timetable.md"]
    assert docs[1].meta.source == "Mo Editor" and docs[1].meta.url.endswith("/22")  # type: ignore[union-attr]
