"""A member's and a moderator's session with the real bot, the real model and the sample corpus,
in simcord's in-process Discord: what each person sees, as text, for the README.

Run: ``.venv/bin/python bench/session_demo.py`` (about a minute: it loads the model and
indexes the sample corpus in a temporary folder).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import discord
import simcord

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.client import BriefBot  # noqa: E402
from bot.handlers import Handlers  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.trash import Trash  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from index.service import BriefingService, ServiceConfig  # noqa: E402

WIDTH = 100
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
NEW_BRIEFING = b"""---
title: "Port of Saltmere reopens berth 7"
date: 2024-10-04
source: "Briefbot City Desk"
---

## Key Takeaways

- Berth 7 at Saltmere's North Quay reopened on 3 October, three weeks after the crane collapse.
- Two replacement cranes on hire from Halvern Stevedoring handle the terminal's feeder ships.
"""


def plain(text: str) -> str:
    return _ESCAPE.sub(r"\1", text).replace("**", "")


def show(who: str, action: str, result: Any) -> None:
    """Print what ``who`` sees after ``action``: every message the interaction produced."""
    print(f"\n{who} › {action}")
    messages = [
        m for m in [getattr(result, "response", None), *getattr(result, "followups", [])] if m is not None
    ]
    if not messages and isinstance(result, discord.Message):
        messages = [result]
    for m in messages:
        show_message(m)


def show_message(m: Any) -> None:
    where = "only you can see this" if getattr(m, "ephemeral", False) else "in #general"
    print(f"  briefbot ({where}):")
    for line in plain(m.content or "").splitlines():
        print(textwrap.indent(textwrap.fill(line, WIDTH - 4), "    "))
    for e in m.embeds:
        if e.title:
            print(f"    ┃ {plain(e.title)}")
        body = plain(e.description or "")
        limit = 300 if "match" in (e.title or "") else 1200
        if len(body) > limit:
            body = body[:limit].rsplit(" ", 1)[0] + " …"
        for line in body.splitlines():
            print(textwrap.indent(textwrap.fill(line, WIDTH - 6) or "", "    ┃ "))
        for f in e.fields:
            print(textwrap.indent(textwrap.fill(f"{f.name}: {plain(f.value or '')}", WIDTH - 6), "    ┃ "))
        if e.footer.text:
            print(f"    ┃ ({plain(e.footer.text)})")
    buttons = []
    for row in m.components if isinstance(m.components, list) else []:
        for c in row.get("components", []):
            label = c.get("label") or (c.get("emoji") or {}).get("name") or c.get("placeholder", "menu")
            if c.get("type") == 3:
                label = f"▾ {c.get('placeholder')}"
            buttons.append(
                f"[{label}{' (link)' if c.get('style') == 5 else ''}{' (disabled)' if c.get('disabled') else ''}]"
            )
    if buttons:
        print(textwrap.indent(textwrap.fill(" ".join(buttons), WIDTH - 4), "    "))
    for a in getattr(m, "attachments", []):
        print(f"    📎 {a.filename}")


def last(result: Any) -> Any:
    return result.followups[-1] if result.followups else result.response


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "corpus", root / "corpus")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            corpus_dir=root / "corpus",
            index_dir=root / "state" / "index",
            DISCORD_TOKEN=None,
            DISCORD_GUILD_ID=None,
            moderator_roles=["Editors"],
        )
        service = BriefingService(
            ServiceConfig(root / "corpus", root / "state" / "index"), SentenceTransformerEmbedder()
        )
        service.reindex()
        handlers = Handlers(service, Trash(settings.trash_folder, settings.trash_days))
        env = simcord.Env(BriefBot(settings, handlers))
        guild = env.create_guild("Newsroom")
        general = guild.create_text_channel("general")
        modlog = guild.create_text_channel("mod-log")
        alice = guild.add_member(env.create_user("alice"))
        editors = guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
        mo = guild.add_member(env.create_user("mo"), roles=[editors])
        await env.start()
        env.bot.settings.modlog_channel_id = modlog.id  # type: ignore[attr-defined]
        try:
            with env.time_context():
                print("=" * 30, "A member's session", "=" * 30)
                r = await alice.slash(general, "ask", question="What did Iran supply to Russia?")
                show("alice", "/ask question: What did Iran supply to Russia?", r)
                answer = r.response
                show("alice", "clicks [More passages]", await alice.click(answer, label="More passages"))
                show("alice", "/ask question: hi", await alice.slash(general, "ask", question="hi"))
                show(
                    "alice",
                    "/ask question: What's new?",
                    await alice.slash(general, "ask", question="What's new?"),
                )
                page = await alice.slash(general, "briefings")
                show("alice", "/briefings", page)
                down = await alice.click(answer, custom_id=_ends(answer, ":down"))
                show("alice", "clicks [👎] under the answer", down)
                show("alice", "clicks [Wrong passage]", await alice.click(last(down), label="Wrong passage"))
                show("alice", "clicks [Open briefing]", await alice.click(answer, label="Open briefing"))
                await alice.click(answer, label="Delete")
                print("\nalice › clicks [Delete]: the answer is gone from #general")

                print("\n" + "=" * 30, "A moderator's session", "=" * 30)
                show("mo", "/status", await mo.slash(general, "status"))
                show("mo", "/reindex", await mo.slash(general, "reindex"))
                add = await mo.slash(
                    general, "briefing add", file=("2024-10-04-saltmere-berth-7.md", NEW_BRIEFING)
                )
                show("mo", "/briefing add file: 2024-10-04-saltmere-berth-7.md", add)
                asked = await mo.slash(general, "briefing remove", briefing="2024-10-04-saltmere-berth-7")
                show("mo", "/briefing remove briefing: 2024-10-04-saltmere-berth-7", asked)
                show("mo", "clicks [Remove]", await mo.click(last(asked), label="Remove"))
                (choice,) = await mo.autocomplete(general, "briefing restore", "removed", "berth")
                show(
                    "mo",
                    f"/briefing restore removed: {choice['name']}",
                    await mo.slash(general, "briefing restore", removed=choice["value"]),
                )
                offer = await mo.slash(general, "reindex", mode="rollback")
                show("mo", "/reindex mode: rollback", offer)
                menu = next(c for row in last(offer).components for c in row["components"] if c["type"] == 3)
                # the version without the new briefing: the folder has it again, so the report warns
                option = next(o for o in menu["options"] if o["description"].startswith("12 "))
                show("mo", f"picks “{option['label']}”", await mo.select(last(offer), [option["value"]]))
                show("mo", "/gaps", await mo.slash(general, "gaps"))
                print("\n#mod-log:")
                for message in modlog.history():
                    show_message(message)
        finally:
            await env.shutdown()


def _ends(message: Any, ending: str) -> str:
    return next(
        c["custom_id"]
        for row in message.components
        for c in row["components"]
        if c.get("custom_id", "").endswith(ending)
    )


if __name__ == "__main__":
    asyncio.run(main())
