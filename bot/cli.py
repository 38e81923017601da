"""The ``briefbot`` command line: index, ask, status, console, run, commands, eval."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import render
from bot.errors import UserFacingError
from bot.settings import Settings, load_settings, server_id
from index.controls import visible

log = logging.getLogger("briefbot")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    return load_settings(**overrides)


def _add_paths(p: argparse.ArgumentParser, *, guild: bool = True) -> None:
    p.add_argument("--corpus", metavar="DIR", help="corpus folder (default: BRIEFBOT_CORPUS_DIR or ./corpus)")
    p.add_argument(
        "--index-dir", metavar="DIR", help="index folder (default: BRIEFBOT_INDEX_DIR or ./.briefbot/index)"
    )
    if guild:
        p.add_argument(
            "--guild",
            metavar="ID",
            help="with BRIEFBOT_CORPUS_PER_SERVER: the server whose corpus to use (an id of "
            "DISCORD_GUILD_IDS, or a link to one of its channels); --corpus and --index-dir "
            "then name the folders that hold every server's",
        )


def _guild(args: argparse.Namespace, settings: Settings) -> int | None:
    """The server ``--guild`` names, checked against the settings (None: the shared corpus)."""
    given = getattr(args, "guild", None)
    if given is None:
        if settings.corpus_per_server:
            raise UserFacingError(
                "BRIEFBOT_CORPUS_PER_SERVER is on, so each server has its own corpus: "
                "pick one with --guild ID (one of DISCORD_GUILD_IDS)."
            )
        return None
    if not settings.corpus_per_server:
        raise UserFacingError(
            "--guild picks a server's own corpus, which needs BRIEFBOT_CORPUS_PER_SERVER=true; "
            "without it every server shares one corpus (leave --guild out)."
        )
    try:
        guild_id = int(server_id(given))
    except (ValueError, TypeError):
        raise UserFacingError(
            f"--guild should be a server id or a link to one of its channels; got “{given[:60]}”."
        ) from None
    if guild_id not in settings.guild_ids:
        raise UserFacingError(f"server {guild_id} is not in DISCORD_GUILD_IDS: it has no corpus here.")
    return guild_id


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefbot", description="Answer questions over briefings by quoting them, with attribution."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    _add_paths(p)
    p.add_argument("--full", action="store_true", help="re-embed everything")
    p.add_argument("--rollback", action="store_true", help="make the previous index version live again")
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if many indexed briefings would be removed (otherwise refused, exit code 3)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")

    p = sub.add_parser("ask", help="answer one question (builds the index first if there is none)")
    p.add_argument("question")
    _add_paths(p)
    p.add_argument("-k", type=int, default=None, help="number of passages (default: BRIEFBOT_TOP_K or 5)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only briefings dated on or after this day")
    p.add_argument("--briefing", metavar="ID", help="only this briefing")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object")

    p = sub.add_parser("status", help="what is indexed")
    _add_paths(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("console", help="a local chat running the Discord bot's commands, no token needed")
    _add_paths(p)

    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    _add_paths(p, guild=False)

    p = sub.add_parser("commands", help="print the application commands the bot registers")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="measure retrieval and abstention on an evaluation set")
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--offtopic", metavar="QUERIES.jsonl", help="off-topic questions (from another set)")
    p.add_argument("--dump", metavar="FILE.jsonl", help="write each question's quotes, in rank order")
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question (default 10)")
    p.add_argument(
        "--shared", metavar="DIR", help="the shared data folder (default: ../shared, found upwards)"
    )
    p.add_argument("--workdir", metavar="DIR", help="keep the eval index here and update it on later runs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        return int(_dispatch(args) or 0)
    except UserFacingError as exc:
        print(f"briefbot: {visible(exc.message)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "commands":
        from bot.client import command_payloads

        payloads = command_payloads(load_settings())
        if args.json:
            print(json.dumps(payloads, indent=2, ensure_ascii=False))
        else:
            for cmd in payloads:
                print(f"/{cmd['name']}: {cmd.get('description') or '(context menu)'}")
        return 0
    if args.command == "eval":
        from bot.app import build_embedder, open_index_database
        from bot.progress import TerminalProgress
        from index.evaluation import run_eval

        settings = load_settings()
        open_index_database(settings)  # with a database URL, the eval builds a corpus of its own there
        bars = TerminalProgress(enabled=None if not args.json else False)
        result = run_eval(
            Path(args.dataset),
            model=settings.model,
            limit=args.limit,
            offtopic=Path(args.offtopic) if args.offtopic else None,
            dump=Path(args.dump) if args.dump else None,
            k=args.k,
            progress=not args.json and sys.stderr.isatty(),
            index_progress=bars,
            shared=Path(args.shared) if args.shared else None,
            workdir=Path(args.workdir) if args.workdir else None,
            embedder=build_embedder(settings),
            database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        )
        bars.close()
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            from index.evaluation import format_result

            print(format_result(result))
        return 0

    settings = _settings(args)
    from bot.app import open_index_database

    open_index_database(settings)
    if args.command == "run":
        from bot.client import run_bot

        return run_bot(settings)

    from bot.app import build_handlers
    from bot.progress import TerminalProgress

    handlers = build_handlers(settings, guild_id=_guild(args, settings))
    service = handlers.service
    if args.command == "status":
        status = service.status()
        print(
            render.terminal_json(status.to_json(), indent=2)
            if args.json
            else visible(render.status_text(status))
        )
        return 0
    if args.command == "index":
        progress = TerminalProgress()
        try:
            report = asyncio.run(
                handlers.reindex(
                    progress=progress,
                    who="briefbot index",
                    full=args.full,
                    rollback=args.rollback,
                    allow_shrink=args.allow_shrink,
                )
            )
        finally:
            progress.close()
        print(render.terminal_json(report.to_json()) if args.json else visible(render.report_text(report)))
        return 3 if report.refused else 0
    if args.command == "ask":
        _ensure_index(handlers, quiet=args.json)
        answer = asyncio.run(
            handlers.ask(args.question, since=args.since, briefing_id=args.briefing, k=args.k)
        )
        if args.json:
            print(render.terminal_json(answer.to_json()))
        else:
            print(render.to_text(answer, emphasis=sys.stdout.isatty()))
        return 0
    if args.command == "console":
        from bot.console import run_console

        _ensure_index(handlers, quiet=False)
        asyncio.run(run_console(handlers))
        return 0
    raise UserFacingError(f"unknown command {args.command}")


def _ensure_index(handlers: Any, *, quiet: bool) -> None:
    """Build the index first when there is none, reporting to stderr."""
    from bot.progress import TerminalProgress

    service = handlers.service
    if service.has_index():
        return
    if not quiet:
        print(f"No index yet: indexing {service.config.corpus_dir} …", file=sys.stderr)
    progress = TerminalProgress(enabled=None if not quiet else False)
    try:
        report = asyncio.run(handlers.reindex(progress=progress, who="first run"))
    finally:
        progress.close()
    if not quiet:
        print(visible(render.report_text(report)), file=sys.stderr)
