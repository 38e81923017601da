"""A local chat with the briefings: the Discord bot's commands, in a terminal, with no token.

Type a question, or one of the commands below. It runs the same handlers as the bot.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot import render
from bot.errors import UserFacingError
from bot.handlers import Handlers
from bot.progress import TerminalProgress
from index.controls import visible
from index.models import Answer
from index.search import LOCAL_USER

HELP = """Commands (the same as the Discord bot's):
  /ask <question> [since: YYYY-MM-DD] [briefing: ID]   quote the passages that answer (or just type the question;
                         "what's new?" lists the newest briefings with their key takeaways)
  /more                  more passages for the last question
  /context <n>           the paragraphs around quote n of the last answer
  /status                what is indexed, and the last reindex
  /reindex [full|rollback]  update the index from the corpus folder, rebuild it all, or roll back to the previous version
  /briefings             list the indexed briefings
  /help, /quit"""

_OPTION = re.compile(r"\b(since|briefing):\s*(\S+)", re.I)


@dataclass
class ConsoleState:
    last_question: str | None = None
    last_options: dict[str, str] = field(default_factory=dict)
    last_answer: Answer | None = None
    shown: int = 0


class Console:
    """Reads commands from a stream, answers through ``Handlers``, writes plain text."""

    def __init__(
        self,
        handlers: Handlers,
        out: TextIO = sys.stdout,
        *,
        emphasis: bool | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.handlers = handlers
        self.out = out
        self.emphasis = out.isatty() if emphasis is None else emphasis
        self.progress = progress
        self.state = ConsoleState()

    def say(self, text: str) -> None:
        """Print ``text`` with control characters shown visibly, never executed."""
        print(visible(text), file=self.out, flush=True)

    def say_answer(self, answer: Answer) -> None:
        """Print an answer (``render.to_text`` makes it safe and adds its own emphasis)."""
        print(render.to_text(answer, emphasis=self.emphasis), file=self.out, flush=True)

    async def handle(self, line: str) -> bool:
        """Run one line; returns False when the user asked to quit."""
        line = line.strip()
        if not line:
            return True
        command, _, rest = line.partition(" ") if line.startswith("/") else ("/ask", "", line)
        command = command.lower()
        try:
            if command in ("/quit", "/exit", "/q"):
                return False
            if command == "/help":
                self.say(HELP)
            elif command == "/ask":
                await self._ask(rest)
            elif command == "/more":
                await self._more()
            elif command == "/context":
                await self._context(rest)
            elif command == "/status":
                self.say(render.status_text(await self.handlers.status()))
            elif command == "/reindex":
                await self._reindex(rest)
            elif command == "/briefings":
                self.say(render.briefings_text(await self.handlers.briefings()))
            else:
                self.say(f"Unknown command {command}. Type /help for the list.")
        except UserFacingError as exc:
            self.say(f"✗ {exc.message}")
        return True

    async def _ask(self, rest: str) -> None:
        options = {m.group(1).lower(): m.group(2) for m in _OPTION.finditer(rest)}
        question = _OPTION.sub("", rest).strip()
        if not options:
            digest = await self.handlers.whats_new(question, viewer=LOCAL_USER)
            if digest is not None:
                self.say(render.digest_text(digest))
                return
        answer = await self.handlers.ask(
            question, viewer=LOCAL_USER, since=options.get("since"), briefing_id=options.get("briefing")
        )
        self.state = ConsoleState(question, options, answer, len(answer.quotes))
        self.say_answer(answer)

    async def _more(self) -> None:
        st = self.state
        if st.last_question is None:
            raise UserFacingError("Ask a question first.")
        answer = await self.handlers.more(
            st.last_question,
            shown=st.shown,
            since=st.last_options.get("since"),
            briefing_id=st.last_options.get("briefing"),
        )
        if not answer.quotes:
            self.say("No more passages.")
            return
        st.shown += len(answer.quotes)
        st.last_answer = answer
        self.say_answer(answer)

    async def _context(self, rest: str) -> None:
        answer = self.state.last_answer
        if answer is None or not answer.quotes:
            raise UserFacingError("Ask a question first.")
        try:
            n = int(rest.strip() or "1")
            quote = answer.quotes[n - 1]
        except (ValueError, IndexError):
            raise UserFacingError(f"Give a quote number from 1 to {len(answer.quotes)}.") from None
        passages = await self.handlers.context(quote.passage_id)
        for p in passages:
            marker = "▶" if p.passage_id == quote.passage_id else " "
            self.say(f"{marker} {render.paragraph_ref(p.paragraph_label, p.page)}: {p.text}\n")
        self.say(f"— {render.attribution_line(quote.attribution)}")

    async def _reindex(self, rest: str) -> None:
        words = rest.lower().split()
        progress = self.progress or TerminalProgress()
        try:
            report = await self.handlers.reindex(
                progress=progress, who="console", full="full" in words, rollback="rollback" in words
            )
        finally:
            if isinstance(progress, TerminalProgress):
                progress.close()
        self.say(render.report_text(report))


async def run_console(handlers: Handlers, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    """The interactive loop; with piped input it answers each line and exits."""
    console = Console(handlers, out)
    interactive = stdin.isatty()
    if interactive:
        console.say("Briefbot console: ask about the briefings, or type /help. Loading the model…")
    await asyncio.to_thread(handlers.service.embedder.encode_query, "warm up")
    if interactive:
        console.say("Ready.")
    while True:
        if interactive:
            line = await asyncio.to_thread(_prompt)
        else:
            line = await asyncio.to_thread(stdin.readline)
            if line == "":
                break
        if line is None:
            break
        if not await console.handle(line):
            break


def _prompt() -> str | None:
    try:
        return input("› ")
    except EOFError:
        return None
