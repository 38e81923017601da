"""Crash safety: a reindex killed at any moment leaves the last good version live and complete;
half-built versions are cleaned; corrupt or missing index files are detected at load, reported,
and the previous good version is served; one reindex at a time across processes.

The kill tests run a real reindex in a child process (``tests/reindex_child.py``) over a
generated corpus that switches between two known states, A and B, so that "the old or the new
version" can be checked exactly after every kill.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import pytest

from index.build import BuildOptions, reindex
from index.manifest import MANIFEST_NAME, verify
from index.search import IndexVersion
from index.service import BriefingService, NoIndexError
from index.versions import PARTIAL_SUFFIX, IndexLayout, ReindexBusyError
from tests.conftest import make_service
from tests.fakes import FakeEmbedder
from tests.reindex_child import CRASH_EXIT, CRASH_POINTS

REPO = Path(__file__).resolve().parents[1]
QUESTION = "Which harbor budget was cut in district 12?"

# The random kill test: how many kills, and the per-batch embedding delay that spreads the
# child's build over a few tenths of a second.
KILLS = 60
BATCH_DELAY = 0.005
SEED = 20250301

# ---------------------------------------------------------------------------- a generated corpus

_WORDS = [
    "harbor",
    "reservoir",
    "council",
    "budget",
    "tariff",
    "grid",
    "wildfire",
    "drought",
    "vaccine",
    "rail",
    "strike",
    "port",
    "election",
    "treaty",
    "border",
    "levy",
    "subsidy",
    "outage",
    "flood",
    "crane",
    "plant",
    "chip",
    "bank",
    "rate",
    "audit",
    "ferry",
    "bridge",
    "school",
    "clinic",
    "police",
    "court",
    "mine",
    "quarry",
    "wind",
    "solar",
    "turbine",
    "tunnel",
    "airport",
    "canal",
]


def _briefing(i: int, variant: str) -> str:
    rng = random.Random(f"{i}-{variant}")
    title = f"Briefing {i}: {' '.join(rng.sample(_WORDS, 3))} ({variant})"
    paragraphs = [
        " ".join(
            " ".join(rng.choices(_WORDS, k=10)).capitalize() + f" in district {rng.randint(1, 99)}."
            for _ in range(2)
        )
        for _ in range(3)
    ]
    head = f'---\ntitle: "{title}"\ndate: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n---\n\n'
    return head + "\n\n".join(paragraphs) + "\n"


def write_state(root: Path, state: str) -> Path:
    """State A: briefings 0-299. State B: 100-219 rewritten, 220-259 gone, 300-339 new."""
    root.mkdir(parents=True)
    ids = range(300) if state == "A" else [*range(220), *range(260, 340)]
    for i in ids:
        variant = "b" if state == "B" and 100 <= i < 220 else "a"
        (root / f"b{i:03d}.md").write_text(_briefing(i, variant), encoding="utf-8")
    return root


@dataclass(frozen=True)
class Expected:
    hashes: frozenset[tuple[str, str]]  # (briefing_id, sha256)
    passages: int


@dataclass(frozen=True)
class States:
    corpus: dict[str, Path]
    expected: dict[str, Expected]


def _content(index: IndexVersion) -> frozenset[tuple[str, str]]:
    return frozenset((bid, sha) for bid, (_, sha) in index.store.briefing_hashes().items())


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> States:
    root = tmp_path_factory.mktemp("states")
    corpus: dict[str, Path] = {}
    expected: dict[str, Expected] = {}
    for name in ("A", "B"):
        corpus[name] = write_state(root / name, name)
        layout = IndexLayout(root / f"ref-{name}")
        version = reindex(corpus[name], layout, FakeEmbedder()).version
        assert version is not None
        ref = IndexVersion(layout.version_dir(version))
        expected[name] = Expected(_content(ref), ref.manifest.passages)
        ref.close()
    assert expected["A"].hashes != expected["B"].hashes
    return States(corpus, expected)


def other(state: str) -> str:
    return "B" if state == "A" else "A"


# ---------------------------------------------------------------------------- the child process


@dataclass
class ChildRun:
    returncode: int
    seconds: float  # from "ready" to exit (or to the kill)
    lines: list[str]
    stderr: str

    @property
    def last_stage(self) -> str:
        """How far the child got: startup, ready, scan, parse, embed, write, published, done."""
        if not self.lines:
            return "startup"
        last = self.lines[-1].split()
        return last[-1] if last[0] == "stage" else last[0]


def run_child(
    corpus: Path,
    index_dir: Path,
    *,
    batch_delay: float = 0.0,
    keep: int = 2,
    crash_at: str | None = None,
    kill_after: float | None = None,
) -> ChildRun:
    """Run ``tests.reindex_child``; with ``kill_after``, SIGKILL it that long after it is ready."""
    cmd = [sys.executable, "-m", "tests.reindex_child", str(corpus), str(index_dir), "--keep", str(keep)]
    cmd += ["--batch-delay", str(batch_delay)]
    if crash_at:
        cmd += ["--crash-at", crash_at]
    err_path = index_dir.parent / "child-stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        t0 = time.perf_counter()
        if kill_after is not None and first == "ready":
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait(timeout=60)
        seconds = time.perf_counter() - t0
        proc.stdout.close()
    lines = [line for line in [first, *rest.splitlines()] if line]
    return ChildRun(proc.returncode, seconds, lines, err_path.read_text())


# ---------------------------------------------------------------------------- checks


def check_live(index_dir: Path, states: States) -> str:
    """Load the live version with a fresh service and check it whole; returns "A" or "B"."""
    svc = make_service(states.corpus["A"], index_dir, FakeEmbedder())
    status = svc.status()
    assert status.problems == []
    index = svc.searcher().index
    try:
        content = _content(index)
        matches = [name for name, exp in states.expected.items() if exp.hashes == content]
        assert len(matches) == 1, "the live version is neither state A nor state B"
        state = matches[0]
        stored = list(index.store.iter_passages())
        assert len(stored) == index.manifest.passages == states.expected[state].passages
        assert len(index.vectors) == len(stored)
        ids = [sp.passage.passage_id for sp in stored]
        assert len(ids) == len(set(ids)), "a passage appears twice"
        vector_ids = faiss.vector_to_array(index.vectors._index.id_map)  # type: ignore[attr-defined]
        assert sorted(vector_ids.tolist()) == sorted(sp.passage.vid for sp in stored)
        answer = svc.ask(QUESTION)
        assert answer.quotes and answer.index_version == index.version
        assert all(index.store.passage_by_id(q.passage_id) is not None for q in answer.quotes)
        # Every version that looks complete is complete (a rollback or a fallback may pick it).
        for info in svc.layout.versions():
            assert info.manifest is not None, info.problem
            verify(info.path, info.manifest)
        return state
    finally:
        index.close()


def leftovers(index_dir: Path) -> list[str]:
    """Half-built or half-deleted things in an index folder."""
    versions = index_dir / "versions"
    out = [p.name for p in versions.iterdir() if p.name.endswith(PARTIAL_SUFFIX)]
    out += [p.name for p in versions.iterdir() if p.is_dir() and not (p / MANIFEST_NAME).exists()]
    out += [p.name for p in index_dir.glob("*.tmp")]
    return out


# ---------------------------------------------------------------------------- kills


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_the_old_or_the_new_version(states: States, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    reindex(states.corpus["A"], IndexLayout(index_dir), FakeEmbedder(), BuildOptions(keep_versions=2))
    live = "A"
    # Two uncut runs (A -> B -> A) measure how long a reindex takes once the child is ready.
    durations = []
    for _ in range(2):
        run = run_child(states.corpus[other(live)], index_dir, batch_delay=BATCH_DELAY)
        assert run.returncode == 0, run.stderr
        assert check_live(index_dir, states) == other(live)
        live = other(live)
        durations.append(run.seconds)
    duration = max(durations)

    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    killed_runs = 0
    for _ in range(2 * KILLS):  # a run that finishes before its kill time does not count
        if killed_runs == KILLS:
            break
        target = other(live)
        run = run_child(
            states.corpus[target], index_dir, batch_delay=BATCH_DELAY, kill_after=rng.uniform(0, duration)
        )
        killed = run.returncode == -signal.SIGKILL
        killed_runs += killed
        assert killed or run.returncode == 0, run.stderr
        state = check_live(index_dir, states)
        outcome = "new" if state == target else "old"
        outcomes[f"{outcome} ({'killed' if killed else 'finished first'})"] += 1
        if killed:
            stages[f"{run.last_stage}->{outcome}"] += 1
        live = state
    print(f"\n{killed_runs} kills over {duration:.2f}s builds: {dict(outcomes)}; last stage: {dict(stages)}")
    assert killed_runs == KILLS
    # The kills were spread over the whole build (the last stage each reached), not bunched.
    reached = {key.split("->")[0] for key in stages}
    assert {"parse", "embed"} <= reached and reached & {"write", "published", "done"}, reached

    # An uncut reindex after all that completes, goes live and leaves nothing half-built.
    run = run_child(states.corpus[other(live)], index_dir)
    assert run.returncode == 0, run.stderr
    assert check_live(index_dir, states) == other(live)
    assert leftovers(index_dir) == []


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_each_step_of_a_reindex_is_recovered(point: str, states: States, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    reindex(states.corpus["A"], IndexLayout(index_dir), FakeEmbedder())
    run = run_child(states.corpus["B"], index_dir, keep=1, crash_at=point)
    assert run.returncode == CRASH_EXIT, run.stderr  # it did reach that point
    live = "B" if point in ("switched", "cleanup") else "A"
    assert check_live(index_dir, states) == live

    # The next start finds and cleans what the crash left half-built.
    svc = make_service(states.corpus[live], index_dir, FakeEmbedder())
    assert svc.ensure_index() is None
    assert leftovers(index_dir) == []
    assert check_live(index_dir, states) == live

    # And a normal reindex goes through.
    run = run_child(states.corpus[other(live)], index_dir)
    assert run.returncode == 0, run.stderr
    assert check_live(index_dir, states) == other(live)
    assert leftovers(index_dir) == []


# ---------------------------------------------------------------------------- one at a time

_HOLD_LOCK = """
import sys
from pathlib import Path
from index.versions import IndexLayout
with IndexLayout(Path(sys.argv[1])).reindex_lock(who="cli test"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the reindex lock of ``tmp_path / "index"`` until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "index")],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_reindex_in_another_process_blocks_this_one_and_is_named(
    service: BriefingService, corpus: Path, lock_holder: subprocess.Popen[str]
) -> None:
    before = service.status().version
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    with pytest.raises(ReindexBusyError) as err:
        service.reindex()
    message = str(err.value)
    assert "cli test" in message and "since" in message
    assert err.value.holder["pid"] == str(lock_holder.pid)
    with pytest.raises(ReindexBusyError):
        service.rollback()
    status = service.status()
    assert status.reindex_running and status.reindex_holder["who"] == "cli test"
    assert status.version == before

    assert lock_holder.stdin is not None
    lock_holder.stdin.close()
    lock_holder.wait(timeout=10)
    assert service.reindex().version != before
    assert not service.status().reindex_running


def test_a_killed_lock_holder_does_not_block_the_next_reindex(
    service: BriefingService, corpus: Path, lock_holder: subprocess.Popen[str]
) -> None:
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    with pytest.raises(ReindexBusyError):
        service.reindex()
    os.kill(lock_holder.pid, signal.SIGKILL)
    lock_holder.wait(timeout=10)
    report = service.reindex()
    assert report.briefings_removed == ["2024-05-30-carrow-wildfire-season-outlook"]


# ---------------------------------------------------------------------------- corrupt files


@pytest.fixture
def two_versions(service: BriefingService, corpus: Path) -> tuple[str, str]:
    """The service with two versions: all sample briefings, then one removed (live)."""
    first = service.status().version
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    second = service.reindex().version
    assert first is not None and second is not None and first != second
    return first, second


def fresh(service: BriefingService) -> BriefingService:
    """Another service over the same folders, as after a restart."""
    return BriefingService(service.config, service.embedder, service.calibration, today=service._today)


def _truncate_store(d: Path) -> None:
    path = d / "store.sqlite3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete_vectors(d: Path) -> None:
    (d / "vectors.base.faiss").unlink()  # a link: the previous version keeps the same file


def _flip_store_bytes(d: Path) -> None:
    path = d / "store.sqlite3"
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    # Inverted, not zeroed: the middle of the file may be a free page that is zeros already.
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    path.write_bytes(bytes(data))


def _garbage_manifest(d: Path) -> None:
    (d / MANIFEST_NAME).write_bytes(b"\x00\xffnot json at all")


def _manifest_not_an_object(d: Path) -> None:
    (d / MANIFEST_NAME).write_text('["a", "list"]')


def _manifest_missing_fields(d: Path) -> None:
    (d / MANIFEST_NAME).write_text('{"version": "v1", "format": 1}')


def _manifest_wrong_types(d: Path) -> None:
    path = d / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["files"] = list(data["files"])
    path.write_text(json.dumps(data))


CORRUPTIONS = {
    "truncated store": (_truncate_store, "store.sqlite3"),
    "deleted vectors": (_delete_vectors, "vectors.base.faiss is missing"),
    "flipped store bytes": (_flip_store_bytes, "checksum"),
    "garbage manifest": (_garbage_manifest, "manifest"),
    "manifest not an object": (_manifest_not_an_object, "manifest"),
    "manifest missing fields": (_manifest_missing_fields, "manifest"),
    "manifest wrong types": (_manifest_wrong_types, "manifest"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corrupt_live_version_is_reported_and_the_previous_one_served(
    kind: str, service: BriefingService, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    damage, said = CORRUPTIONS[kind]
    damage(service.layout.version_dir(second))
    svc = fresh(service)
    status = svc.status()
    assert status.version == first
    assert any(second in p and said in p for p in status.problems), status.problems
    assert any(f"serving the previous version {first}" in p for p in status.problems)
    answer = svc.ask("How many North Korean troops are in Russia?")
    assert answer.index_version == first and answer.quotes

    # The next reindex does not build on the damaged version; its result is clean.
    report = svc.reindex()
    assert report.version not in (first, second)
    assert any("unusable" in w for w in report.warnings), report.warnings
    assert svc.status().problems == []
    assert fresh(service).status().problems == []
    assert svc.status().briefings == 11


def test_current_pointing_at_a_missing_version_serves_the_newest_good_one(
    service: BriefingService, two_versions: tuple[str, str]
) -> None:
    _, second = two_versions
    service.layout.switch("v20990101T000000000000-dead")
    status = fresh(service).status()
    assert status.version == second
    assert any("v20990101T000000000000-dead" in p for p in status.problems)


def test_the_fallback_is_the_version_the_live_one_was_built_from(
    service: BriefingService, corpus: Path, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    (corpus / "2024-08-19-lindenfall-water-restrictions.md").unlink()
    third = service.reindex().version
    assert third is not None
    service.rollback()  # back to the second, built from the first
    assert service.status().version == second
    _truncate_store(service.layout.version_dir(second))
    status = fresh(service).status()
    assert status.version == first, "the version rolled back from is not a fallback"
    assert any(second in p for p in status.problems)


def test_no_good_version_at_all_is_a_clear_error(
    service: BriefingService, two_versions: tuple[str, str]
) -> None:
    for version in two_versions:
        _delete_vectors(service.layout.version_dir(version))
    svc = fresh(service)
    with pytest.raises(NoIndexError, match="no usable index version"):
        svc.ask("anything?")
    status = svc.status()
    assert status.version is None
    assert all(any(v in p for p in status.problems) for v in two_versions), status.problems
    assert not svc.has_index()
    # A reindex starts over from the corpus.
    assert svc.reindex().full_rebuild
    assert svc.status().problems == [] and svc.status().briefings == 11


def test_a_damaged_store_is_caught_at_load_even_without_checksums(
    service: BriefingService, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    store = service.layout.version_dir(second) / "store.sqlite3"
    data = store.read_bytes()
    store.write_bytes(bytes(100) + data[100:])  # same size, SQLite header gone
    config = dataclasses.replace(service.config, verify_checksums=False)
    svc = BriefingService(config, service.embedder, service.calibration, today=service._today)
    status = svc.status()
    assert status.version == first
    assert any(second in p and "not a database" in p for p in status.problems), status.problems
