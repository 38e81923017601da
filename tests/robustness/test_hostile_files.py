"""Hostile and careless briefing files: each is refused or read correctly, with a reason, and
nothing freezes, floods a report, leaks outside the corpus folder or loses a briefing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from index.audience import Viewer
from index.chunking import ChunkOptions, make_passages
from index.models import ReindexReport
from index.parsing import BriefingError, parse_briefing
from index.service import BriefingService
from tests.fakes import FakeEmbedder
from tests.robustness.conftest import HARBOUR, MEMBER, MODERATOR, PUBLIC

ALIAS_BOMB = (
    "---\n"
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "date: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "---\n\nThe harbour reopened on Friday after the storm.\n"
)
# A member holding roles named like the malformed values: none of them may match.
ROLE_HOARDER = Viewer(roles=frozenset({"moderators", "true", "5", "None", "null", "x", "[x]", ""}))
BODY = "\n\nThe harbour reopened on Friday after the storm closed it for three days.\n"


def _reindex(service: BriefingService) -> ReindexReport:
    """A reindex that must finish (a hang fails the test instead of blocking the suite)."""
    result: list[ReindexReport] = []
    worker = threading.Thread(target=lambda: result.append(service.reindex()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert result, "the reindex did not finish"
    return result[0]


def _reasons(report: ReindexReport) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}


# ---------------------------------------------------------------------------- front matter


@pytest.mark.parametrize(
    ("front", "says"),
    [
        (ALIAS_BOMB.split("\n\n")[0] + "\n", "alias"),
        ("---\ntitle: " + "[" * 5000 + "]" * 5000 + "\n---\n", "nested"),
        ("---\ntags: " + "{a: " * 30 + "1" + "}" * 30 + "\n---\n", "nested"),
        ("---\ntitle: x\nnote: " + "y" * 70_000 + "\n---\n", "over 64 KB"),
        ("---\naudience: moderators\naudience: all\n---\n", "twice"),
        ("---\nAudience: moderators\naudience: all\n---\n", "twice"),
        ("---\ntitle: !!python/object:os.system echo\n---\n", "not valid YAML"),
        ("---\n? [a, b]\n: c\n---\n", "front matter"),
    ],
    ids=[
        "alias bomb",
        "deep flow nesting",
        "deep mapping nesting",
        "huge",
        "repeated key",
        "repeated key in another case",
        "python tag",
        "unhashable key",
    ],
)
def test_hostile_front_matter_is_refused_with_a_reason(front: str, says: str) -> None:
    with pytest.raises(BriefingError) as err:
        parse_briefing("hostile.md", (front + BODY).encode())

    assert says in err.value.reason
    assert len(err.value.reason) < 300


def test_an_alias_bomb_in_the_corpus_is_skipped_and_the_report_stays_small(
    small_service: BriefingService, small_corpus: Path
) -> None:
    (small_corpus / "bomb.md").write_text(ALIAS_BOMB, encoding="utf-8")

    report = _reindex(small_service)

    assert "alias" in _reasons(report)["bomb.md"]
    assert report.briefings_total == 4
    assert len(json.dumps(report.to_json())) < 10_000


@pytest.mark.parametrize("value", ["2024-02-30", "2023-13-01", "0000-01-01", "2024-2-31 10:00"])
def test_an_impossible_date_is_a_warning_and_the_briefing_undated(value: str) -> None:
    doc = parse_briefing("d.md", f"---\ndate: {value}\n---{BODY}".encode())

    assert doc.meta.date is None
    assert any("not understood" in w and value[:7] in w for w in doc.meta.warnings)


def test_a_date_at_the_end_of_the_calendar_is_read() -> None:
    doc = parse_briefing("d.md", f"---\ndate: 9999-12-31\n---{BODY}".encode())

    assert doc.meta.date is not None and doc.meta.date.year == 9999


@pytest.mark.parametrize(
    "head",
    [f'---\ntitle: "{"Harbour " * 7_000}"\n---', "# " + "Harbour " * 50_000],
    ids=["56 KB front matter title", "400 KB heading"],
)
def test_a_huge_title_is_shortened_and_not_copied_into_every_passage(
    small_service: BriefingService, small_corpus: Path, head: str
) -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} about the harbour crane and the pier." for i in range(300))
    (small_corpus / "long-title.md").write_text(f"{head}\n\n{paragraphs}\n", encoding="utf-8")

    _reindex(small_service)

    meta = next(m for m in small_service.briefings() if m.briefing_id == "long-title")
    assert len(meta.title) <= 300
    live = small_service.layout.version_dir(small_service.status().version or "")
    assert (live / "store.sqlite3").stat().st_size < 5 * 1024 * 1024  # not 300 copies of the title
    live = small_service.layout.version_dir(small_service.status().version or "")
    assert (live / "store.sqlite3").stat().st_size < 3 * 1024 * 1024


# ---------------------------------------------------------------------------- audience


@pytest.mark.parametrize(
    "value",
    ["{moderators: true}", "[]", "null", '""', "[null]", "[moderators, null]", "true", "5", "'   '", "[[x]]"],
)
def test_an_unreadable_audience_hides_the_briefing_from_all_but_moderators(value: str) -> None:
    doc = parse_briefing("a.md", f"---\naudience: {value}\n---{BODY}".encode())

    assert not PUBLIC.may_see(doc.meta.audience)
    assert not MEMBER.may_see(doc.meta.audience)
    assert not ROLE_HOARDER.may_see(doc.meta.audience)
    assert MODERATOR.may_see(doc.meta.audience)
    assert any("audience" in w and "only moderators" in w for w in doc.meta.warnings)


@pytest.mark.parametrize("value", ["ALL", " All ", "all ", "[All]", "'all'"])
def test_all_in_any_case_or_spacing_is_public(value: str) -> None:
    doc = parse_briefing("a.md", f"---\naudience: {value}\n---{BODY}".encode())

    assert PUBLIC.may_see(doc.meta.audience)
    assert doc.meta.is_public


def test_role_names_match_without_regard_to_case_or_repeated_spaces() -> None:
    doc = parse_briefing("a.md", f"---\naudience: 'Night  shift, editors'\n---{BODY}".encode())

    assert Viewer(roles=frozenset({"night shift"})).may_see(doc.meta.audience)
    assert Viewer(roles=frozenset({"EDITORS"})).may_see(doc.meta.audience)
    assert not Viewer(roles=frozenset({"night"})).may_see(doc.meta.audience)
    assert not Viewer(roles=frozenset({"EDITORS"}), public=True).may_see(doc.meta.audience)


def test_a_briefing_with_a_broken_audience_never_reaches_a_public_answer(
    small_service: BriefingService, small_corpus: Path
) -> None:
    text = HARBOUR.replace("date: 2025-01-10\n", "date: 2025-01-10\naudience: {moderators: true}\n")
    (small_corpus / "2025-01-10-harbour.md").write_text(text, encoding="utf-8")

    report = _reindex(small_service)

    question = "When did the Saltmere harbour reopen after the storm?"
    public = small_service.ask(question, viewer=PUBLIC)
    assert all(q.briefing_id != "2025-01-10-harbour" for q in public.quotes)
    assert small_service.ask(question, viewer=MODERATOR).quotes[0].briefing_id == "2025-01-10-harbour"
    assert any("2025-01-10-harbour.md" in w and "audience" in w for w in report.warnings)


# ---------------------------------------------------------------------------- text and encodings


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n", "mixed"], ids=["lone CR", "CRLF", "LF", "mixed"])
@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_every_paragraph_is_read_verbatim_whatever_the_line_endings(newline: str, suffix: str) -> None:
    paragraphs = [f"Paragraph {i} says the harbour crane moved {i} containers on the pier." for i in range(6)]
    if newline == "mixed":
        body = paragraphs[0] + "\r\n\r\n" + paragraphs[1] + "\r\r" + paragraphs[2] + "\n\n"
        body += "\n\n".join(paragraphs[3:]) + "\r"
    else:
        body = (newline * 2).join(paragraphs) + newline
    nl = "\n" if newline == "mixed" else newline
    text = f"---{nl}title: Crane{nl}---{nl}{nl}" + body

    doc = parse_briefing("crane" + suffix, text.encode())

    quoted = [doc.text[b.start : b.end] for b in doc.blocks]
    assert quoted == paragraphs
    assert doc.meta.title == "Crane"


def test_a_lone_carriage_return_inside_a_paragraph_loses_nothing() -> None:
    text = "# Title\n\nFirst line of the first paragraph\rwraps here.\n\nSecond paragraph.\n\n- a bullet\n"

    doc = parse_briefing("cr.md", text.encode())

    assert [doc.text[b.start : b.end] for b in doc.blocks] == [
        "First line of the first paragraph\rwraps here.",
        "Second paragraph.",
        "a bullet",
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_are_read(encoding: str) -> None:
    text = "---\ntitle: Café ☕\n---\n\nThe café on the pier reopened — 港口 — after the storm.\n"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + text).encode(encoding)

    doc = parse_briefing("cafe.md", data)

    assert doc.meta.title == "Café ☕"
    assert doc.text[doc.blocks[0].start : doc.blocks[0].end] == (
        "The café on the pier reopened — 港口 — after the storm."
    )


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xff\xfe" + "abc".encode("utf-16-le")[:-1], "UTF-16"),
        ("no mark".encode("utf-16-le"), "binary"),
        (b"\x00\x00\x00\x00", "binary"),
    ],
)
def test_broken_unicode_is_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(BriefingError) as err:
        parse_briefing("u.md", data)

    assert says in err.value.reason


def test_escape_sequences_and_noncharacters_are_kept_verbatim_in_passages() -> None:
    para = "The pier \x1b[31mred\x1b[0m notice and \ufdd0marked\ufdd1 text stayed up."
    rest = "\n\n".join(f"Ordinary paragraph {i} about the harbour and its ferries." for i in range(10))
    doc = parse_briefing("esc.md", f"# Notice\n\n{para}\n\n{rest}\n".encode())

    assert doc.text[doc.blocks[0].start : doc.blocks[0].end] == para


# ---------------------------------------------------------------------------- the corpus folder


def test_a_symlink_to_a_file_outside_the_corpus_is_never_read(
    small_service: BriefingService, small_corpus: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "passwd.md"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash DISCORD_TOKEN=abc.def.ghi\n", encoding="utf-8")
    (small_corpus / "passwd.md").symlink_to(secret)
    (small_corpus / "env.txt").symlink_to(tmp_path / "outside")
    (small_corpus / "elsewhere").symlink_to(tmp_path / "outside", target_is_directory=True)

    report = _reindex(small_service)

    reasons = _reasons(report)
    assert "outside the corpus folder" in reasons["passwd.md"]
    assert "outside the corpus folder" in reasons["elsewhere"]
    assert report.briefings_total == 4
    answer = small_service.ask("root DISCORD_TOKEN bash", viewer=MODERATOR)
    assert all("DISCORD_TOKEN" not in q.text for q in answer.quotes)


def test_a_symlink_inside_the_corpus_is_reported_and_its_target_indexed_once(
    small_service: BriefingService, small_corpus: Path
) -> None:
    (small_corpus / "again.md").symlink_to(small_corpus / "2025-01-10-harbour.md")

    report = _reindex(small_service)

    assert "not followed" in _reasons(report)["again.md"]
    assert {m.briefing_id for m in small_service.briefings()} >= {"2025-01-10-harbour"}
    assert "again" not in {m.briefing_id for m in small_service.briefings()}


def test_a_file_swapped_for_a_link_after_the_scan_is_refused(small_corpus: Path, tmp_path: Path) -> None:
    from index.corpus import read_bytes

    target = small_corpus / "swap.md"
    target.symlink_to(small_corpus / "2025-01-10-harbour.md")

    with pytest.raises(BriefingError) as err:
        read_bytes(target)

    assert "symbolic link" in err.value.reason


def test_a_named_pipe_is_skipped_not_read(small_service: BriefingService, small_corpus: Path) -> None:
    os.mkfifo(small_corpus / "pipe.md")

    report = _reindex(small_service)

    assert "not a regular file" in _reasons(report)["pipe.md"]
    assert report.briefings_total == 4


@pytest.mark.parametrize("name", ["evil\x1b[2J.md", "two\nlines.md", "tab\there.txt", "rtl\u202edm.txt"])
def test_a_file_name_with_control_characters_is_skipped_and_shown_visibly(
    small_service: BriefingService, small_corpus: Path, name: str
) -> None:
    (small_corpus / name).write_text(HARBOUR, encoding="utf-8")

    report = _reindex(small_service)

    (skipped,) = [s for s in report.skipped if "control characters" in s.reason]
    assert not any(ch in skipped.path for ch in "\x1b\n\t\u202e")
    assert report.briefings_total == 4


def _unreadable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder`` unlistable: by permissions, or (as root, who ignores them) by refusing it."""
    folder.chmod(0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        real = os.scandir

        def scandir(path: object = ".") -> object:
            if Path(str(path)) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)  # type: ignore[arg-type]

        monkeypatch.setattr("index.corpus.os.scandir", scandir)


def test_an_unreadable_subfolder_keeps_its_briefings_and_is_reported(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_service
    from tests.fakes import FakeEmbedder

    sub = small_corpus / "transit"
    sub.mkdir()
    for i in range(3):
        (sub / f"2025-01-2{i}-strike-{i}.md").write_text(
            f"# Strike day {i}\n\nThe transit strike entered day {i} with no talks planned.\n",
            encoding="utf-8",
        )
    svc = make_service(small_corpus, tmp_path / "index", FakeEmbedder())
    svc.reindex()
    _unreadable(sub, monkeypatch)
    try:
        report = _reindex(svc)
    finally:
        sub.chmod(0o755)

    assert report.briefings_removed == []
    assert report.briefings_total == 7
    assert "transit/" in _reasons(report)
    assert sum("unreadable now" in w for w in report.warnings) == 3


def test_an_unreadable_subfolder_survives_a_full_rebuild(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_service
    from tests.fakes import FakeEmbedder

    sub = small_corpus / "transit"
    sub.mkdir()
    (sub / "strike.md").write_text(
        "# Strike\n\nThe transit strike entered its third day.\n", encoding="utf-8"
    )
    svc = make_service(small_corpus, tmp_path / "index", FakeEmbedder())
    svc.reindex()
    _unreadable(sub, monkeypatch)
    try:
        report = svc.reindex(full=True)
    finally:
        sub.chmod(0o755)

    assert report.briefings_total == 5 and report.refused is None
    assert svc.ask("transit strike third day").quotes[0].briefing_id == "transit/strike"


@pytest.mark.parametrize("fault", ["missing", "not a folder", "unreadable", "empty"])
def test_a_missing_unreadable_or_empty_corpus_never_publishes_an_empty_index(
    small_service: BriefingService, small_corpus: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    live = small_service.status().version
    if fault == "missing":
        small_corpus.rename(small_corpus.with_name("moved"))
    elif fault == "not a folder":
        small_corpus.rename(small_corpus.with_name("moved"))
        small_corpus.write_text("a file where the folder was")
    elif fault == "unreadable":
        _unreadable(small_corpus, monkeypatch)
    else:
        for f in small_corpus.iterdir():
            f.unlink()

    try:
        report = _reindex(small_service)
    finally:
        if small_corpus.is_dir():
            small_corpus.chmod(0o755)

    assert report.refused and report.version == live and not report.changed
    assert small_service.status().version == live and small_service.status().briefings == 4
    assert small_service.status().last_report is not None
    assert small_service.status().last_report.refused == report.refused  # type: ignore[union-attr]


def test_losing_many_briefings_is_refused_unless_allowed(
    small_service: BriefingService, small_corpus: Path
) -> None:
    live = small_service.status().version
    for name in ("2025-01-12-reservoir.md", "2025-01-14-grid.md"):
        (small_corpus / name).unlink()

    refused = _reindex(small_service)
    allowed = small_service.reindex(allow_shrink=True)

    assert refused.refused and "2 of the 4" in refused.refused and "--allow-shrink" in refused.refused
    assert refused.refused_kind == "shrink" and refused.version == live
    assert refused.briefings_removed == ["2025-01-12-reservoir", "2025-01-14-grid"]
    assert allowed.refused is None and allowed.briefings_total == 2


def test_removing_a_briefing_on_purpose_is_not_counted_as_a_loss(
    small_service: BriefingService, small_corpus: Path
) -> None:
    (small_corpus / "2025-01-12-reservoir.md").unlink()
    (small_corpus / "2025-01-14-grid.md").unlink()

    report = small_service.reindex(deliberate=["2025-01-12-reservoir", "2025-01-14-grid"])

    assert report.refused is None and report.briefings_total == 2


def test_many_changed_briefings_are_removed_from_faiss_in_one_call(
    small_service: BriefingService, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.vectors import FaissVectorStore

    for i in range(400):
        (small_corpus / f"note-{i:03d}.md").write_text(f"# Note {i}\n\nHarbour note number {i}.\n")
    small_service.reindex(full=True)  # every vector in the shared base: changed ones are removed from it
    for i in range(400):
        (small_corpus / f"note-{i:03d}.md").write_text(f"# Note {i}\n\nHarbour note number {i}, revised.\n")
    calls: list[int] = []
    remove = FaissVectorStore.remove

    def counted(self: FaissVectorStore, ids: object) -> int:
        calls.append(len(ids))  # type: ignore[arg-type]
        return remove(self, ids)  # type: ignore[arg-type]

    monkeypatch.setattr(FaissVectorStore, "remove", counted)

    report = small_service.reindex()

    assert len(report.briefings_changed) == 400
    assert calls == [400]
    assert small_service.status().passages == len(small_service.searcher().index.vectors)


def test_a_search_excluding_tens_of_thousands_of_restricted_briefings_works(
    small_service: BriefingService,
) -> None:
    store = small_service.searcher().index.store
    hidden = [f"restricted-{i}" for i in range(300_000)]  # beyond any SQLite parameter limit

    vids = store.vids_where(exclude_briefings=hidden, briefing_ids=[*hidden, "2025-01-14-grid"])

    assert len(vids) == 1


# ---------------------------------------------------------------------------- cost of splitting


class _CountingTokens:
    """A token counter (the fake embedder's) that records how much text it was given."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return FakeEmbedder().count_tokens(text)


@pytest.mark.parametrize(
    "body",
    [
        "word " * 100_000,  # a paragraph without a sentence end
        "A huge first paragraph. " * 20_000 + "\n\n" + "\n\n".join("Tiny." for _ in range(2000)),
        "\n\n".join(f"Short paragraph {i} here." for i in range(5000)),
    ],
    ids=["no sentence end", "huge paragraph then many tiny ones", "many short paragraphs"],
)
def test_cutting_a_hostile_briefing_into_passages_reads_its_text_a_bounded_number_of_times(body: str) -> None:
    doc = parse_briefing("long.md", ("# Long\n\n" + body + "\n").encode())
    tokens = _CountingTokens()

    passages = make_passages("long", doc.text, doc.blocks, tokens, ChunkOptions())

    assert passages and "".join(p.text for p in passages).replace(" ", "") != ""
    assert tokens.chars < 40 * len(doc.text), "the text was tokenized over and over"


@pytest.mark.parametrize(
    "body",
    ["[" * 200_000, "*a " * 100_000, "[a](" * 100_000, "<a " * 100_000],
    ids=["brackets", "stars", "links", "tags"],
)
def test_pathological_inline_markdown_is_read_as_one_verbatim_paragraph(body: str) -> None:
    doc = parse_briefing("inline.md", ("# Title\n\n" + body + "\n").encode())

    assert [doc.text[b.start : b.end] for b in doc.blocks] == [body.strip()]


def test_a_folder_swapped_for_a_link_between_scan_and_read_is_not_followed(
    small_corpus: Path, tmp_path: Path
) -> None:
    from index.corpus import read_bytes, scan_corpus

    sub = small_corpus / "desk"
    sub.mkdir()
    (sub / "notes.md").write_text(HARBOUR, encoding="utf-8")
    scan = scan_corpus(small_corpus)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.md").write_text("# Secret\n\nDISCORD_TOKEN=abc\n", encoding="utf-8")
    sub.rename(tmp_path / "moved-desk")
    sub.symlink_to(outside, target_is_directory=True)

    with pytest.raises(BriefingError) as err:
        read_bytes(sub / "notes.md", identity=scan.identity["desk/notes.md"])

    assert "changed" in err.value.reason


def test_check_questions_in_the_corpus_are_not_read_through_a_link(
    small_service: BriefingService, small_corpus: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "questions.jsonl"
    outside.write_text('{"question": "What is in /etc/shadow?", "briefing_id": "x"}\n', encoding="utf-8")
    (small_corpus / "check_questions.jsonl").symlink_to(outside)
    os.mkfifo(tmp_path / "fifo")

    assert small_service._checks() == []


@pytest.mark.parametrize("header", ["", " , ,", "   "])
def test_an_email_audience_header_that_cannot_be_read_hides_the_message(header: str) -> None:
    from index.parsing import parse_file

    raw = (
        "From: Desk <desk@example.org>\r\nSubject: Harbour notes\r\nDate: Fri, 10 Jan 2025 09:00:00 +0000\r\n"
        f"X-Briefbot-Audience:{header}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The harbour reopened on Friday after the storm closed it for three days.\r\n"
    )

    (doc,) = parse_file("notes.eml", raw.encode())

    assert not PUBLIC.may_see(doc.meta.audience) and not ROLE_HOARDER.may_see(doc.meta.audience)
    assert MODERATOR.may_see(doc.meta.audience)
    assert any("audience" in w for w in doc.meta.warnings)


def test_an_email_without_an_audience_header_is_public() -> None:
    from index.parsing import parse_file

    raw = (
        "From: Desk <desk@example.org>\r\nSubject: Harbour notes\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The harbour reopened on Friday after the storm closed it for three days.\r\n"
    )

    (doc,) = parse_file("notes.eml", raw.encode())

    assert doc.meta.is_public
