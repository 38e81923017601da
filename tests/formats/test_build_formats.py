"""A corpus mixing every format: what is indexed, what is skipped and why, verbatim quotes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import app
from bot.cli import main
from index.formats.sandbox import ExtractionSandbox
from index.models import quote_json
from index.parsing import ParsedDocument
from index.service import BriefingService
from tests.conftest import make_service
from tests.fakes import FakeEmbedder
from tests.formats.conftest import FORMATS

FILES = [
    "2024-05-30-running-header.pdf",
    "2024-09-12-two-column.pdf",
    "scanned.pdf",
    "password.pdf",
    "lies-html.pdf",
    "water-restrictions.docx",
    "lies-text.docx",
    "transit-strike-settled.html",
    "newsletter.eml",
]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in FILES:
        shutil.copy(FORMATS / name, corpus / name)
    (corpus / "2025-01-02-note.md").write_text(
        "# Harbour note\n\nThe ferry to Vellin runs again from Monday.\n"
    )
    return corpus


@pytest.fixture
def mixed_service(mixed: Path, tmp_path: Path) -> BriefingService:
    return make_service(mixed, tmp_path / "index", FakeEmbedder())


def test_the_report_counts_every_format_and_says_why_files_were_skipped(
    mixed_service: BriefingService,
) -> None:
    report = mixed_service.reindex()

    assert report.formats == {
        "docx": {"files": 2, "briefings": 1, "skipped": 1},
        "eml": {"files": 1, "briefings": 2, "skipped": 0},
        "html": {"files": 1, "briefings": 1, "skipped": 0},
        "markdown": {"files": 1, "briefings": 1, "skipped": 0},
        "pdf": {"files": 5, "briefings": 2, "skipped": 3},
    }
    assert {s.path: s.reason for s in report.skipped} == {
        "scanned.pdf": "no text layer (scanned?)",
        "password.pdf": "password-protected PDF: save a copy without a password to index it",
        "lies-html.pdf": "not a PDF (the file is HTML), though its name ends in .pdf",
        "lies-text.docx": "not a Word .docx file (the file is not a zip package), though its name ends in .docx",
    }


def test_a_quote_from_every_format_is_verbatim_from_the_stored_text(mixed_service: BriefingService) -> None:
    mixed_service.reindex()
    store = mixed_service.searcher().index.store

    for meta in store.briefings():
        kept = store.briefing_text(meta.briefing_id)
        assert kept is not None, meta.briefing_id
        text, _ = kept
        for p in store.briefing_passages(meta.briefing_id):
            assert text[p.start : p.end] == p.text


@pytest.mark.parametrize(
    ("question", "briefing", "page"),
    [
        ("When will evacuation buses use the ring road?", "2024-05-30-running-header", 2),
        ("When does berth four expect full service?", "2024-09-12-two-column", 1),
        ("What is the level of the Upper Linden reservoir?", "water-restrictions", None),
        ("When do night buses return in Kestrelbay?", "transit-strike-settled", None),
        ("How many workers were on the Corvane plant's first shift?", "newsletter", None),
    ],
)
def test_quotes_carry_their_attribution_with_the_page_for_pdf(
    mixed_service: BriefingService, question: str, briefing: str, page: int | None
) -> None:
    mixed_service.reindex()

    answer = mixed_service.ask(question, k=3)

    quote = next(q for q in answer.quotes if q.briefing_id == briefing)
    data = quote_json(quote)
    assert data["page"] == page
    assert {
        "text",
        "briefing_id",
        "title",
        "date",
        "section",
        "paragraph",
        "path",
        "url",
        "score",
    } <= data.keys()


def test_an_unchanged_mixed_corpus_is_not_reindexed(mixed_service: BriefingService) -> None:
    mixed_service.reindex()

    again = mixed_service.reindex()

    assert not again.changed and again.briefings_changed == []


def test_an_attachment_taken_out_of_a_message_is_removed(mixed_service: BriefingService, mixed: Path) -> None:
    mixed_service.reindex()
    raw = (mixed / "newsletter.eml").read_bytes()
    cut = raw.index(b'filename="water-restrictions.docx"')
    start = raw.rindex(b"\n--", 0, cut)
    end = raw.index(b"\n--", cut)
    (mixed / "newsletter.eml").write_bytes(raw[:start] + raw[end:])

    report = mixed_service.reindex()

    assert report.briefings_removed == ["newsletter#water-restrictions.docx"]
    assert report.briefings_changed == ["newsletter"]


def test_briefbot_index_prints_what_each_format_gave_and_why_files_were_skipped(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    monkeypatch.chdir(tmp_path)

    code = main(["index", "--corpus", str(mixed), "--index-dir", str(tmp_path / "idx")])

    out = capsys.readouterr().out
    assert code == 0
    assert "By format: Word: 2 files, 1 indexed, 1 skipped; e-mail: 1 file, 2 indexed;" in out
    assert "PDF: 5 files, 2 indexed, 3 skipped." in out
    assert "  - scanned.pdf: no text layer (scanned?)" in out


def test_a_file_that_could_not_be_extracted_is_not_tried_again_while_unchanged(
    mixed_service: BriefingService, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed_service.reindex()
    tried: list[str] = []
    parse = ExtractionSandbox.parse

    def counting(self: ExtractionSandbox, rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
        tried.append(rel_path)
        return parse(self, rel_path, data, max_bytes)

    monkeypatch.setattr(ExtractionSandbox, "parse", counting)

    again = mixed_service.reindex()
    assert tried == []
    assert {s.path for s in again.skipped} == {
        "scanned.pdf",
        "password.pdf",
        "lies-html.pdf",
        "lies-text.docx",
    }

    mixed_service.reindex(full=True)
    assert set(tried) >= {"scanned.pdf", "password.pdf"}
