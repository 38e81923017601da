"""Index versions over time: first-indexed dates, full rebuilds, rollback choices, upgrades."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import build
from index.manifest import MANIFEST_NAME, ManifestError
from index.service import BriefingService
from tests.conftest import USER_BRIEFING, make_service
from tests.fakes import FakeEmbedder

USER_ID = USER_BRIEFING.stem
CARROW = "2024-05-30-carrow-wildfire-season-outlook.md"


def _added(service: BriefingService, briefing_id: str) -> str | None:
    meta = next(m for m in service.briefings() if m.briefing_id == briefing_id)
    return meta.added.isoformat() if meta.added else None


def test_an_undated_briefing_shows_the_day_it_was_first_indexed_and_keeps_it(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "utc_now", lambda: "2025-01-10T09:00:00Z")
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder())
    svc.reindex()
    monkeypatch.setattr(build, "utc_now", lambda: "2025-02-20T09:00:00Z")
    path = corpus / USER_BRIEFING.name
    path.write_text(
        path.read_text(encoding="utf-8") + "\nA new closing paragraph about talks.\n", encoding="utf-8"
    )
    (corpus / "2025-02-19-new.md").write_text(
        "# New\n\nA brand new briefing about ferries.\n", encoding="utf-8"
    )

    svc.reindex()
    svc.reindex(full=True)

    assert _added(svc, USER_ID) == "2025-01-10"
    assert _added(svc, "2025-02-19-new") == "2025-02-20"


def test_json_keeps_date_null_and_gives_the_added_day_apart(service: BriefingService) -> None:
    answer = service.ask("What did Iran supply to Russia?")
    quote = next(q for q in answer.to_json()["quotes"] if q["briefing_id"] == USER_ID)

    assert quote["date"] is None
    assert quote["added"] is not None and len(quote["added"]) == 10
    assert answer.quotes[0].attribution.when_label.startswith(("added ", "20"))


def test_a_full_rebuild_embeds_every_passage_again(service: BriefingService) -> None:
    report = service.reindex(full=True)

    assert report.full_rebuild
    assert report.passages_embedded == report.passages_total > 100


def test_rolling_back_stops_at_the_oldest_version_instead_of_cycling(
    service: BriefingService, corpus: Path
) -> None:
    first = service.status().version
    (corpus / CARROW).unlink()
    second = service.reindex().version

    assert service.rollback().version == first
    with pytest.raises(ManifestError, match="no older index version"):
        service.rollback()
    assert service.status().version == first != second


def test_rollback_can_restore_a_chosen_kept_version(service: BriefingService, corpus: Path) -> None:
    first = service.status().version
    (corpus / CARROW).unlink()
    service.reindex()
    (corpus / "2025-02-19-new.md").write_text(
        "# New\n\nA brand new briefing about ferries.\n", encoding="utf-8"
    )
    service.reindex()

    kept = service.kept_versions()
    report = service.rollback(to=first)

    assert [k.live for k in kept] == [True, False, False]
    assert kept[-1].version == first and kept[-1].briefings == 12
    assert report.version == first and service.status().version == first


def test_rollback_warns_when_the_corpus_folder_differs_from_the_restored_index(
    service: BriefingService, corpus: Path
) -> None:
    (corpus / CARROW).unlink()
    service.reindex()
    (corpus / CARROW).write_text("# Carrow\n\nSomething else entirely about the fires.\n", encoding="utf-8")
    service.reindex()

    report = service.rollback()

    assert report.warnings and "differs from the restored index" in report.warnings[0]
    assert CARROW in report.warnings[0]


def test_an_index_built_by_an_older_version_is_rebuilt_at_start(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "PARSER_VERSION", "0")
    make_service(corpus, tmp_path / "ix", FakeEmbedder()).reindex()
    monkeypatch.undo()
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder())
    assert svc.outdated() is not None

    report = svc.ensure_index()

    assert report is not None and report.full_rebuild
    assert "another version of briefbot" in (report.rebuild_reason or "")
    assert svc.outdated() is None and svc.ensure_index() is None


def test_an_index_from_a_newer_version_is_refused_with_a_clear_reason(service: BriefingService) -> None:
    version = service.status().version
    assert version is not None
    path = service.layout.version_dir(version) / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data["format"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")
    fresh = make_service(service.config.corpus_dir, service.config.index_dir, FakeEmbedder())

    assert not fresh.has_index()
    assert any("newer version of briefbot" in p for p in fresh.status().problems)
