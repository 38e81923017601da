"""Kill loops with hostile input (slow): the child-process reindex of ``tests/test_crash_safety``
is reused, over its two corpus states plus hostile files, and killed at named points and at
random moments. Whatever the moment, ``status`` reports on the version that is live, and
nothing outside the corpus folder ever enters the index."""

from __future__ import annotations

import random
import shutil
import signal
from pathlib import Path

import pytest

from index.build import reindex
from index.versions import IndexLayout
from tests.conftest import make_service
from tests.fakes import FakeEmbedder
from tests.reindex_child import CRASH_EXIT
from tests.robustness.test_hostile_files import ALIAS_BOMB
from tests.test_crash_safety import BATCH_DELAY, States, check_live, other, run_child, states  # noqa: F401

SECRET = "DISCORD_TOKEN=never.to.be.indexed"


def _status_report_version(corpus: Path, index_dir: Path) -> tuple[str | None, str | None]:
    status = make_service(corpus, index_dir, FakeEmbedder()).status()
    return status.version, status.last_report.version if status.last_report else None


@pytest.fixture
def hostile_states(states: States, tmp_path: Path) -> States:  # noqa: F811 (the reused fixture)
    """States A and B with hostile files beside the briefings: a link to a secret outside the
    folder, an alias bomb, a pipe."""
    secret = tmp_path / "outside" / "token.md"
    secret.parent.mkdir()
    secret.write_text(f"# Token\n\n{SECRET}\n", encoding="utf-8")
    corpus: dict[str, Path] = {}
    for name, path in states.corpus.items():
        copy = tmp_path / f"hostile-{name}"
        shutil.copytree(path, copy)
        (copy / "token.md").symlink_to(secret)
        (copy / "outside").symlink_to(secret.parent, target_is_directory=True)
        (copy / "bomb.md").write_text(ALIAS_BOMB, encoding="utf-8")
        corpus[name] = copy
    return States(corpus, states.expected)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["renamed", "switched", "cleanup"])
def test_after_a_kill_around_publishing_status_reports_on_the_live_version(
    point: str, hostile_states: States, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    service = make_service(hostile_states.corpus["A"], index_dir, FakeEmbedder())
    service.reindex()  # last_report.json now describes version A

    run = run_child(hostile_states.corpus["B"], index_dir, keep=1, crash_at=point)

    assert run.returncode == CRASH_EXIT, run.stderr
    live, reported = _status_report_version(hostile_states.corpus["B"], index_dir)
    assert live is not None and reported == live
    assert check_live(index_dir, hostile_states) == ("A" if point == "renamed" else "B")


@pytest.mark.slow
def test_random_kills_over_hostile_files_never_index_them_and_status_stays_true(
    hostile_states: States, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    reindex(hostile_states.corpus["A"], IndexLayout(index_dir), FakeEmbedder())
    live = "A"
    timed = run_child(hostile_states.corpus["B"], index_dir, batch_delay=BATCH_DELAY)
    assert timed.returncode == 0, timed.stderr
    live = check_live(index_dir, hostile_states)

    rng = random.Random(9)
    kills = 0
    for _ in range(24):
        run = run_child(
            hostile_states.corpus[other(live)],
            index_dir,
            batch_delay=BATCH_DELAY,
            kill_after=rng.uniform(0, timed.seconds),
        )
        kills += run.returncode == -signal.SIGKILL
        assert run.returncode in (0, -signal.SIGKILL), run.stderr
        live = check_live(index_dir, hostile_states)
        version, reported = _status_report_version(hostile_states.corpus[live], index_dir)
        assert reported == version
        service = make_service(hostile_states.corpus[live], index_dir, FakeEmbedder())
        assert all(SECRET not in q.text for q in service.ask("DISCORD_TOKEN never indexed").quotes)
        if kills >= 12:
            break

    assert kills >= 12
