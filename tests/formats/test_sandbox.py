"""Extraction runs in a child process with a time and a memory limit, and survives both."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.formats.sandbox import ExtractionSandbox, ExtractLimits
from index.parsing import BriefingError
from tests.formats.conftest import FORMATS

PDF = (FORMATS / "2024-09-12-two-column.pdf").read_bytes()


def test_files_are_extracted_in_a_child_process_that_is_reused() -> None:
    with ExtractionSandbox() as sandbox:
        first = sandbox.parse("a.pdf", PDF, 10**6)
        pid = sandbox._proc.pid if sandbox._proc else None
        second = sandbox.parse("b.pdf", PDF, 10**6)

        assert pid is not None and sandbox._proc is not None and sandbox._proc.pid == pid
    assert first[0].text == second[0].text
    assert sandbox._proc is None  # stopped on leaving


def test_a_file_over_the_time_limit_is_stopped_with_a_reason_and_the_next_one_reads() -> None:
    with ExtractionSandbox(ExtractLimits(timeout=0.001)) as sandbox:
        with pytest.raises(BriefingError, match=r"took longer than 0.001 s and was stopped"):
            sandbox.parse("slow.pdf", PDF, 10**6)
        sandbox.limits = ExtractLimits(timeout=60)

        assert sandbox.parse("next.pdf", PDF, 10**6)[0].blocks


def test_a_child_out_of_memory_is_a_reason_not_a_crash() -> None:
    with ExtractionSandbox(ExtractLimits(memory_mb=1)) as sandbox, pytest.raises(BriefingError) as err:
        sandbox.parse("big.pdf", PDF, 10**6)

    assert "memory" in err.value.reason or "crashed" in err.value.reason


def test_markdown_and_text_are_parsed_without_a_child() -> None:
    with ExtractionSandbox() as sandbox:
        docs = sandbox.parse("note.md", b"# Title\n\nA paragraph of text here.\n", 10**6)

        assert docs[0].meta.title == "Title" and sandbox._proc is None


def test_the_child_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "do-not-leak")
    monkeypatch.setenv("HOME_FOR_TEST", "kept")
    with ExtractionSandbox() as sandbox:
        sandbox.parse("a.pdf", PDF, 10**6)
        pid = sandbox._proc.pid if sandbox._proc else 0
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

    assert b"HOME_FOR_TEST=kept" in environ
    assert not any(v.startswith(b"DISCORD_TOKEN=") for v in environ)
