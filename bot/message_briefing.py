"""A Discord message as a briefing file: an e-mail message (``.eml``) the index reads like any
other, kept at ``discord/<channel id>/<message id>.eml`` in the corpus folder.

The message's text (and its embeds' text) is the Markdown body, its first line or heading
the subject (the title), its author the sender (the source), its date the Date header and
its jump link ``Archived-At`` (the briefing's URL); supported attachments are attached, and
the index makes each a briefing of its own. Pure: no Discord objects here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from index.formats.base import clean_inline

FOLDER = "discord"
TITLE_CHARS = 150
_MARKDOWN_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|>\s+|[-*]\s+)|[*_~`]{1,3}|\|\|")


@dataclass(frozen=True)
class EmbedText:
    """The readable parts of one embed."""

    title: str = ""
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    footer: str = ""


@dataclass(frozen=True)
class MessageBriefing:
    """What a message gives a briefing, before it is written as a file."""

    message_id: int
    channel_id: int
    content: str
    author: str
    author_id: int
    created_at: datetime
    url: str
    embeds: tuple[EmbedText, ...] = ()
    attachments: tuple[tuple[str, bytes], ...] = ()
    audience: tuple[str, ...] = ()  # empty: everyone
    edited_at: datetime | None = None
    skipped: tuple[tuple[str, str], ...] = field(default=())  # attachments left out, and why

    @property
    def rel_path(self) -> str:
        return message_path(self.channel_id, self.message_id)

    @property
    def body(self) -> str:
        """The message text, then each embed's title, description and fields."""
        parts = [self.content.strip()]
        for e in self.embeds:
            lines = [f"## {clean_inline(e.title)}" if e.title.strip() else "", e.description.strip()]
            lines += [
                f"**{clean_inline(name)}**: {value.strip()}" for name, value in e.fields if value.strip()
            ]
            lines.append(e.footer.strip())
            parts.append("\n\n".join(x for x in lines if x))
        return "\n\n".join(p for p in parts if p) + "\n"

    @property
    def title(self) -> str:
        """The first line (Markdown marks taken off), else the first embed title, else a label."""
        for text in (self.content, *(e.title for e in self.embeds), *(e.description for e in self.embeds)):
            for line in text.splitlines():
                plain = clean_inline(_MARKDOWN_MARKS.sub("", line))
                if plain:
                    return plain if len(plain) <= TITLE_CHARS else plain[: TITLE_CHARS - 1].rstrip() + "…"
        return f"Message from {self.author}"

    @property
    def has_text(self) -> bool:
        return bool(self.body.strip())


def message_path(channel_id: int, message_id: int) -> str:
    """Where a message's briefing file lives, relative to the corpus folder."""
    return f"{FOLDER}/{channel_id}/{message_id}.eml"


def to_eml(m: MessageBriefing) -> bytes:
    """The message as an e-mail file the ``.eml`` reader turns into briefings."""
    msg = EmailMessage()
    msg["Subject"] = m.title
    msg["From"] = Address(
        display_name=clean_inline(m.author) or str(m.author_id),
        username=str(m.author_id),
        domain="users.discord.invalid",
    )
    msg["Date"] = format_datetime(m.created_at)
    msg["Message-ID"] = f"<{m.message_id}@discord.invalid>"
    msg["Archived-At"] = f"<{m.url}>"
    if m.edited_at is not None:
        msg["X-Discord-Edited"] = format_datetime(m.edited_at)
    if m.audience:
        msg["X-Briefbot-Audience"] = ", ".join(m.audience)
    msg.set_content(m.body if m.has_text else "\n", subtype="markdown")
    for name, data in m.attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)
