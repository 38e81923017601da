"""The /gaps report on a realistic week, with the real model: for the README.

Indexes the bundled sample corpus, asks a week of questions a newsroom team might ask (some
the briefings answer, many they do not) through the product's own answering path, records
them as the bot does, adds a few 👎 with reasons, and prints the report and the CSV's first
rows. Run: ``.venv/bin/python bench/gaps_demo.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.feedback_store import FeedbackStore, record_answer  # noqa: E402
from bot.gaps_report import gather, report_csv, report_lines  # noqa: E402
from bot.handlers import Handlers  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from index.search import EVERYONE  # noqa: E402
from index.service import BriefingService, ServiceConfig  # noqa: E402

WEEK = [
    "When will Lindenfall lift the water restrictions?",
    "Can Lindenfall residents fill a swimming pool this summer?",
    "How much ransom did the hackers ask Meridale Health for?",
    "Did Meridale Health pay the ransom?",
    "Who is the new chief executive of Meridale Health?",
    "Is there a subsidy for heat pumps in Eastvale?",
    "How much is the Eastvale heat pump grant?",
    "Who can apply for Eastvale's heat pump support?",
    "When will the Kestrelbay night buses run again?",
    "Is there a new Kestrelbay bus timetable after the strike?",
    "What is the guest wifi password in the office?",
    "How do I connect to the office wifi?",
    "Will the Bank of Valmora cut rates again in January?",
    "What are economists forecasting for Valmora mortgage rates next year?",
    "How many measles cases does Brackwater have now?",
    "Which Brackwater schools have measles cases?",
    "What did Iran supply to Russia?",
    "How many litres a day is each Lindenfall resident asked to use?",
    "Why did the Tessly Park chip factory open late?",
    "How many jobs will the Corvane chip plant create?",
]
# (question, reason) pairs: answered, but the asker clicked 👎 and said why.
THUMBS_DOWN = {
    "What did Iran supply to Russia?": "outdated",
    "Why did the Tessly Park chip factory open late?": "wrong",
    "How many jobs will the Corvane chip plant create?": "missing",
}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "corpus", root / "corpus")
        service = BriefingService(
            ServiceConfig(root / "corpus", root / "index"), SentenceTransformerEmbedder()
        )
        service.reindex()
        handlers = Handlers(service)
        store = FeedbackStore(root / "feedback.sqlite3")
        for i, question in enumerate(WEEK):
            answer = await handlers.ask(question, viewer=EVERYONE)
            shown = [q for q in answer.quotes if q.strength == "strong"] or answer.quotes[:3]
            record_answer(store, f"k{i:04d}", question, answer, shown, True)
            if "-v" in sys.argv:
                print(
                    ("answered " if not answer.abstained else "abstained") + " " + question, file=sys.stderr
                )
            if question in THUMBS_DOWN:
                store.vote(f"k{i:04d}", 1000 + i, "down", THUMBS_DOWN[question])
        report = gather(store, service.embedder, 7, include_private=False, may_see=EVERYONE.may_see)
        print("\n".join(report_lines(report)))
        print()
        print("\n".join(report_csv(report).splitlines()[:6]))


if __name__ == "__main__":
    asyncio.run(main())
