"""Reindex: corpus folder -> a new, complete index version built beside the live one.

Only new or changed briefings (by content hash) are parsed and embedded; vectors of passages
whose embedded text did not change are reused. A change of model or chunker rebuilds all.
The new version is sealed (checksums, fsync) and made live by one atomic switch; a crash at
any point leaves the previous version live and complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index.backend import (
    BuildingBackend,
    IndexBackend,
    VersionBuilder,
    VersionMeta,
    VersionReader,
    VersionUnavailable,
    VersionWriter,
)
from index.chunking import ChunkOptions, make_passages
from index.corpus import CorpusUnavailableError, read_bytes, scan_corpus
from index.embedder import Embedder
from index.formats import EXTRACTED_SUFFIXES, READERS_VERSION, format_label
from index.formats.memo import UnreadableMemo
from index.formats.sandbox import ExtractionSandbox, ExtractLimits
from index.manifest import (
    Manifest,
    ManifestError,
    link_or_copy,
    read_manifest,
    seal,
    verify,
    write_json_atomic,
)
from index.models import BriefingMeta, Passage, ReindexReport, Skipped
from index.packs import MAX_GARBAGE, MAX_PACKS, PACK_SUFFIX, PACKS_DIR, pack_rows
from index.parsing import (
    DEFAULT_MAX_BYTES,
    PARSER_VERSION,
    BriefingError,
    ParsedDocument,
    briefing_id_for,
)
from index.search import StoredVectors, reusable_vectors
from index.store import ADDED_KEY, Store
from index.terms import VersionTerms
from index.vectors import EXACT_LIMIT
from index.version_vectors import VersionVectors
from index.versions import IndexLayout, utc_now

STORE_FILE = "store.sqlite3"
REPORT_FILE = "report.json"

# progress(stage, done, total); stages: scan, parse, embed, write
Progress = Callable[[str, int, int], None]
# embed hashes -> (vector, sentence vectors) already computed for them, to skip encoding again
Reuse = Callable[[Sequence[str]], dict[str, tuple[np.ndarray, np.ndarray | None]]]


@dataclass(frozen=True)
class BuildOptions:
    chunk: ChunkOptions = field(default_factory=ChunkOptions)
    max_bytes: int = DEFAULT_MAX_BYTES
    batch_size: int = 32
    keep_versions: int = 3
    sentence_vectors: bool = True
    max_shrink: float = 0.25  # refuse to publish a version that lost more than this share of briefings
    extract: ExtractLimits = field(default_factory=ExtractLimits)  # PDF, Word, HTML, e-mail
    exact_limit: int = EXACT_LIMIT  # passages searched exactly; an IVF index beyond


def signature(opts: BuildOptions, embedder: Embedder) -> str:
    """What decides passage boundaries and vectors besides the model: chunking, sentence
    vectors, format readers, parser. A live version built under another signature is rebuilt
    in full."""
    chunk_opts = dataclasses.replace(opts.chunk, max_tokens=embedder.max_tokens)
    return (
        chunk_opts.signature()
        + (":s2" if opts.sentence_vectors else "")
        + f":r{READERS_VERSION}:p{PARSER_VERSION}"
    )


def embed_text(meta: BriefingMeta, passage: Passage) -> str:
    """What the model reads for a passage: its briefing title and section, then the passage.

    Only the passage itself is ever quoted.
    """
    context = " — ".join(x for x in (meta.title, passage.section_label) if x)
    return f"{context}\n{passage.text}" if context else passage.text


def embed_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()[:24]


@dataclass
class _Scanned:
    """A briefing file seen by the scan; its bytes are read again only if it is to be parsed,
    so memory holds one file at a time, however large the corpus."""

    rel: str
    briefing_id: str
    path: Path
    sha256: str
    identity: tuple[int, int] | None


def reindex(
    corpus_dir: Path,
    layout: IndexLayout,
    embedder: Embedder,
    options: BuildOptions | None = None,
    *,
    full: bool = False,
    progress: Progress | None = None,
    who: str = "",
    allow_shrink: bool = False,
    deliberate: Collection[str] = (),
    confirmed_loss: int | None = None,
) -> ReindexReport:
    """Bring the index in line with the corpus folder; returns what changed.

    Nothing is published (the report says why, in ``refused``) when the corpus folder cannot be
    read, when no briefing at all would be left, or when more than ``max_shrink`` of the indexed
    briefings would go, unless ``allow_shrink`` (or, for a confirmation given after seeing a refusal,
    unless no more than ``confirmed_loss`` would go); briefings in ``deliberate`` (a moderator removed
    them) do not count as lost. Raises ``ReindexBusyError`` if another reindex holds the lock.
    """
    opts = options or BuildOptions()
    with layout.reindex_lock(who):
        report = _reindex_locked(
            corpus_dir,
            layout,
            embedder,
            opts,
            full,
            progress,
            _Guard(allow_shrink, frozenset(deliberate), confirmed_loss),
        )
    report.cap()
    return report


@dataclass(frozen=True)
class _Guard:
    """What a reindex may lose without refusing to publish."""

    allow_shrink: bool
    deliberate: frozenset[str]
    confirmed_loss: int | None

    def allows(self, lost: int, total: int, max_shrink: float) -> bool:
        if not total or lost / total <= max_shrink or self.allow_shrink:
            return True
        return self.confirmed_loss is not None and lost <= self.confirmed_loss


class _Laps:
    """Seconds per build phase, into ``report.phases``: ``lap(name)`` ends phase ``name``,
    which began where the previous lap ended."""

    def __init__(self, report: ReindexReport) -> None:
        self.seconds = report.phases
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._last, 4)
        self._last = now


def _reindex_locked(
    corpus_dir: Path,
    layout: IndexLayout,
    embedder: Embedder,
    opts: BuildOptions,
    full: bool,
    progress: Progress | None,
    guard: _Guard,
) -> ReindexReport:
    t0 = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    layout.ensure()
    layout.clean_partials()
    chunk_opts = dataclasses.replace(opts.chunk, max_tokens=embedder.max_tokens)
    wanted = signature(opts, embedder)

    base_version = layout.live_version()
    base_dir: Path | None = layout.version_dir(base_version) if base_version else None
    base_manifest: Manifest | None = None
    report = ReindexReport(version=None, previous_version=base_version)
    lap = _Laps(report)
    damaged_current = layout.current_problem()
    if damaged_current:
        report.warnings.append(f"{damaged_current}; repaired")
    if base_dir is not None:
        try:
            base_manifest = read_manifest(base_dir)
            # Checksums too: a damaged file of the same size must not be reused, nor its
            # damage sealed into the new version under fresh checksums.
            verify(base_dir, base_manifest)
        except ManifestError as exc:
            report.warnings.append(f"live version unusable, rebuilding from scratch: {exc}")
            base_manifest, base_dir = None, None
    lap("verify")
    reason = _rebuild_reason(base_manifest, full, embedder, wanted)
    if reason is not None:
        report.full_rebuild, report.rebuild_reason = True, reason

    base_store = (
        Store(base_dir / STORE_FILE, readonly=True, dim=base_manifest.dim)
        if base_dir is not None and base_manifest is not None
        else None
    )
    try:
        indexed = base_store.briefing_hashes() if base_store is not None else {}
        plan = _plan(
            corpus_dir,
            indexed,
            report,
            opts,
            embedder,
            chunk_opts,
            full,
            layout.root,
            tick,
            guard,
            _compatible(base_manifest, embedder, wanted),
        )
        lap("plan")
        if plan.outcome != "build":
            if plan.outcome == "unchanged" and damaged_current and base_version is not None:
                layout.switch(base_version)  # CURRENT was damaged: point it at the version in use
            counts = base_store.counts() if base_store is not None else (0, 0)
            return _unpublished(report, plan, counts, t0)
        files, parsed, removed, replaced, carry = (
            plan.files,
            plan.parsed,
            plan.removed,
            plan.replaced,
            plan.carry,
        )
        rebuild = report.full_rebuild

        # 3. build the new version beside the live one
        version = layout.new_version_id()
        staging = layout.staging_dir(version)
        try:
            start_from = base_dir if not rebuild else None
            store, vectors = _start_version(staging, start_from, embedder.dim, version)
            terms = VersionTerms(start_from)
            lap("copy")
            # A full rebuild someone asked for re-embeds everything (that is what it is for:
            # a suspect vector file, a changed model package under the same name).
            reuse_store = (
                base_store
                if base_manifest is not None and base_manifest.model == embedder.name and not full
                else None
            )
            reuse_vectors = (
                VersionVectors(embedder.dim, base_dir) if reuse_store is not None and base_dir else None
            )
            lap("load")
            if not rebuild:
                # One delete for all of them: a few statements, and one removal from the shared
                # vector base when a version is loaded, however many briefings changed.
                gone = [
                    bid
                    for bid in dict.fromkeys([*removed, *replaced, *(d.meta.briefing_id for d, _ in parsed)])
                    if bid in indexed
                ]
                vids = store.delete_briefings(gone)
                vectors.remove(vids)
                terms.remove(vids)
                report.passages_removed += len(vids)
            elif carry and base_dir is not None:
                vids = store.copy_briefings(base_dir / STORE_FILE, carry)
                vectors.add(vids, VersionVectors(embedder.dim, base_dir).get(vids))
            lap("delete")

            flat = [(doc.meta, passage) for doc, passages in parsed for passage in passages]
            hashes, all_vecs, sent_vecs, embedded = _embed(
                flat,
                embedder,
                opts,
                _file_reuse(reuse_store, reuse_vectors),
                lambda done, total: tick("embed", done, total),
            )
            report.passages_embedded = embedded
            lap("embed")

            tick("write", 0, 1)
            now = utc_now()
            offset = 0
            for doc, passages in parsed:
                n = len(passages)
                store.put_briefing(doc.meta, now, n)
                store.put_passages(
                    doc.meta, passages, hashes[offset : offset + n], sent_vecs[offset : offset + n]
                )
                store.put_text(doc.meta.briefing_id, doc.text, doc.pages)
                offset += n
                report.passages_added += n
            vectors.add([p.vid for _, p in flat], all_vecs)
            terms.add(p.vid for _, p in flat)
            prior_added = base_store.added_dates() if base_store is not None else {}
            today = now[:10]
            store.set_info(
                ADDED_KEY,
                json.dumps(
                    {bid: prior_added.get(bid, today) for bid in store.briefing_hashes()}, sort_keys=True
                ),
            )
            b_count, p_count = store.counts()
            if p_count != len(vectors):
                raise RuntimeError(f"index out of step: {p_count} passages but {len(vectors)} vectors")
            store.set_info("version", version)
            report.formats = _format_counts(files, report.skipped, store.briefing_hashes())
            store.commit()
            lap("write")
            pack_files = _finish_packs(store, staging, base_dir, version)
            store.close()
            lap("packs")
            vector_files, new_base = vectors.save(staging, opts.exact_limit)
            lap("vectors")
            # The vectors write a new base when their delta has outgrown it: so does the terms'.
            term_files = terms.save(staging, staging / STORE_FILE, new_base=new_base)
            lap("terms")
            report.version = version
            report.briefings_total, report.passages_total = b_count, p_count
            report.seconds = time.perf_counter() - t0
            report.finished_at = utc_now()
            report.cap()
            write_json_atomic(staging / REPORT_FILE, report.to_json())
            manifest = Manifest(
                version=version,
                created_at=now,
                model=embedder.name,
                dim=embedder.dim,
                chunker=wanted,
                faiss_version=faiss.__version__,
                briefings=b_count,
                passages=p_count,
                build_seconds=round(report.seconds, 3),
                parent=base_version if base_manifest is not None else None,
            )
            # Files linked from the base version keep the checksums it verified.
            seal(
                staging,
                manifest,
                [*vector_files, *term_files, STORE_FILE, REPORT_FILE, *pack_files],
                linked_from=base_dir,
            )
            lap("seal")
            layout.publish(staging, version)
            lap("publish")
            tick("write", 1, 1)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        layout.cleanup(opts.keep_versions)
        lap("cleanup")
        return report
    finally:
        if base_store is not None:
            base_store.close()


@dataclass
class _Plan:
    """What a reindex will do, decided the same way for both backends: ``build`` (with what to
    add, remove and carry over), or publish nothing (``unchanged``, ``refused``)."""

    outcome: str
    files: list[tuple[Path, str]]
    parsed: list[tuple[ParsedDocument, list[Passage]]]
    removed: list[str]
    replaced: list[str]
    carry: list[str]
    indexed: dict[str, tuple[str, str]]
    gone_all: bool = False  # a full rebuild: nothing of the base stays but ``carry``

    def gone(self) -> list[str]:
        """Indexed briefings an incremental build takes out (removed, or replaced by a new parse)."""
        ids = [*self.removed, *self.replaced, *(d.meta.briefing_id for d, _ in self.parsed)]
        return [bid for bid in dict.fromkeys(ids) if bid in self.indexed]

    def hashes_after(self) -> dict[str, tuple[str, str]]:
        """(path, sha256) of every briefing of the version it builds."""
        if self.outcome != "build":
            return dict(self.indexed)
        kept = self.carry if self.gone_all else [b for b in self.indexed if b not in set(self.gone())]
        out = {bid: self.indexed[bid] for bid in kept}
        out.update({d.meta.briefing_id: (d.meta.path, d.meta.sha256) for d, _ in self.parsed})
        return out


def _plan(
    corpus_dir: Path,
    indexed: dict[str, tuple[str, str]],
    report: ReindexReport,
    opts: BuildOptions,
    embedder: Embedder,
    chunk_opts: ChunkOptions,
    full: bool,
    memo_dir: Path,
    tick: Progress,
    guard: _Guard,
    base_compatible: bool | None,
) -> _Plan:
    """Scan the corpus folder, parse what is new or changed, and decide what the new version
    holds (``base_compatible``: None without a usable base, else whether it has the same model
    and passage rules, so that briefings unreadable now can be carried over a full rebuild)."""
    # One file may hold several briefings (an e-mail and its attachments): files are
    # compared and replaced by path.
    indexed_paths: dict[str, set[str]] = {}
    bids_of: dict[str, list[str]] = {}
    for bid, (rel_path, sha) in indexed.items():
        indexed_paths.setdefault(rel_path, set()).add(sha)
        bids_of.setdefault(rel_path, []).append(bid)

    # 1. scan: list the corpus folder, read and hash every briefing file
    try:
        scan = scan_corpus(corpus_dir)
    except CorpusUnavailableError as exc:
        return _refused(report, "corpus", f"{exc}; the index was left as it is", indexed)
    files = scan.files
    report.skipped.extend(scan.skipped)
    scanned: dict[str, _Scanned] = {}
    unreadable: set[str] = set()  # paths
    for i, (path, rel) in enumerate(files):
        bid = briefing_id_for(rel)
        identity = scan.identity.get(rel)
        try:
            sha = hashlib.sha256(read_bytes(path, opts.max_bytes, identity)).hexdigest()
        except BriefingError as exc:
            report.skipped.append(Skipped(rel, exc.reason))
            unreadable.add(rel)
            continue
        if bid in scanned:
            report.skipped.append(Skipped(rel, f"same briefing id as {scanned[bid].rel}; rename one"))
            continue
        scanned[bid] = _Scanned(rel, bid, path, sha, identity)
        tick("scan", i + 1, len(files))
    # Files in a subfolder that cannot be listed now are unreadable, not removed.
    unreadable.update(rel for rel in indexed_paths if scan.under_unreadable(rel))

    rebuild = report.full_rebuild
    to_parse = [s for s in scanned.values() if rebuild or indexed_paths.get(s.rel) != {s.sha256}]
    scanned_paths = {s.rel for s in scanned.values()}
    # A briefing that became unreadable keeps its last good version (and is reported).
    removed = [bid for bid, (rel, _) in indexed.items() if rel not in scanned_paths and rel not in unreadable]
    lost_in_rebuild = list(removed) if rebuild else []
    if rebuild:
        removed = []
    for stale in sorted((unreadable - scanned_paths) & indexed_paths.keys()):
        report.warnings.append(f"{stale}: unreadable now; the previously indexed version is kept")

    # 2. parse the new and changed files (PDF, Word, HTML, e-mail in a limited child process)
    parsed: list[tuple[ParsedDocument, list[Passage]]] = []
    parsed_paths: set[str] = set()
    failed_paths: set[str] = set()  # indexed files that no longer parse: their old version stays
    seen: set[str] = set()
    memo = UnreadableMemo(memo_dir)
    with ExtractionSandbox(opts.extract) as sandbox:
        for i, s in enumerate(to_parse):
            extracted = Path(s.rel).suffix.lower() in EXTRACTED_SUFFIXES
            known = memo.known(s.rel, s.sha256) if extracted and not full else None
            try:
                if known is not None:  # refused before and unchanged since: not again
                    raise BriefingError(known)
                data = read_bytes(s.path, opts.max_bytes, s.identity)
                docs = sandbox.parse(s.rel, data, opts.max_bytes)
                items = [(doc, _passages(doc, embedder, chunk_opts)) for doc in docs]
            except Exception as exc:  # a parser bug must not stop the other files either
                bad = isinstance(exc, BriefingError)
                reason = (
                    exc.reason
                    if isinstance(exc, BriefingError)
                    else f"could not be parsed ({type(exc).__name__}: {exc})"
                )
                if extracted and bad:
                    memo.refused(s.rel, s.sha256, reason)
                report.skipped.append(Skipped(s.rel, reason))
                if s.rel in indexed_paths:
                    failed_paths.add(s.rel)
                    if not rebuild:
                        report.warnings.append(f"{s.rel}: kept the previously indexed version")
                continue
            parsed_paths.add(s.rel)
            for doc, passages in items:
                bid = doc.meta.briefing_id
                if bid in seen:
                    report.skipped.append(Skipped(s.rel, f"briefing {bid} appears twice; rename one"))
                    continue
                seen.add(bid)
                for w in doc.meta.warnings:
                    report.warnings.append(f"{s.rel}: {w}")
                parsed.append((doc, passages))
            tick("parse", i + 1, len(to_parse))
    memo.save()

    new_ids = {doc.meta.briefing_id for doc, _ in parsed}
    for doc, _ in parsed:
        if doc.meta.briefing_id in indexed and not rebuild:
            report.briefings_changed.append(doc.meta.briefing_id)
        else:
            report.briefings_added.append(doc.meta.briefing_id)
    # Briefings of a replaced file that it no longer holds (an attachment taken out).
    replaced = [bid for rel in sorted(parsed_paths) for bid in bids_of.get(rel, [])]
    dropped = [bid for bid in replaced if bid not in new_ids]
    if rebuild:
        dropped = replaced = []
    removed = [bid for bid in removed if bid not in new_ids]
    report.briefings_removed = sorted({*removed, *dropped})

    # What a full rebuild cannot re-read comes over from the live version when it can
    # (same model and passage rules): an unreadable briefing is kept, not lost.
    carry: list[str] = []
    if rebuild and base_compatible is not None:
        keep = sorted({bid for rel in (unreadable | failed_paths) for bid in bids_of.get(rel, [])} - new_ids)
        if base_compatible:
            carry = keep
        else:
            for bid in keep:
                report.warnings.append(
                    f"{indexed[bid][0]}: unreadable, and its previous version cannot be kept across "
                    f"this rebuild ({report.rebuild_reason}): it is not in the new index"
                )

    if not rebuild and not parsed and not removed:
        return _Plan("unchanged", files, parsed, removed, replaced, carry, indexed)

    # The briefings of the new version, to refuse losing many of them by accident.
    after = (new_ids | set(carry)) if rebuild else ((set(indexed) - {*removed, *dropped}) | new_ids)
    lost = sorted(set(indexed) - after - guard.deliberate)
    if not after:
        why = (
            f"no briefing would be left in the index ({len(report.skipped)} file(s) skipped); "
            "an empty index is never published"
        )
        return _refused(report, "empty", why, indexed)
    if not guard.allows(len(lost), len(indexed), opts.max_shrink):
        report.would_lose = len(lost)
        report.briefings_removed = sorted({*report.briefings_removed, *lost_in_rebuild, *lost})
        why = (
            f"{len(lost)} of the {len(indexed)} indexed briefings would be removed "
            f"(more than {opts.max_shrink:.0%}); if that is intended, run `briefbot index --allow-shrink` "
            "or confirm in Discord"
        )
        return _refused(report, "shrink", why, indexed)
    return _Plan("build", files, parsed, removed, replaced, carry, indexed, gone_all=rebuild)


def _refused(report: ReindexReport, kind: str, why: str, indexed: dict[str, tuple[str, str]]) -> _Plan:
    """Publish nothing, and say why (the report still lists what would have changed)."""
    report.refused, report.refused_kind = why, kind
    return _Plan("refused", [], [], [], [], [], indexed)


def _unpublished(report: ReindexReport, plan: _Plan, counts: tuple[int, int], t0: float) -> ReindexReport:
    """The report of a reindex that published nothing: the live version stays."""
    report.changed = False
    report.version = report.previous_version
    report.briefings_total, report.passages_total = counts
    if plan.outcome == "unchanged":
        report.formats = _format_counts(plan.files, report.skipped, plan.indexed)
    report.seconds = time.perf_counter() - t0
    report.finished_at = utc_now()
    return report


def _rebuild_reason(
    base: VersionMeta | Manifest | None, full: bool, embedder: Embedder, wanted: str
) -> str | None:
    """Why a reindex must rebuild every briefing rather than update the live version, or None."""
    if base is None:
        return "no usable index yet"
    if full:
        return "full rebuild requested"
    if base.model != embedder.name or base.dim != embedder.dim:
        return f"model changed ({base.model} -> {embedder.name})"
    if base.chunker != wanted:
        return "the index was built by another version of briefbot (other passage rules)"
    return None


def _compatible(base: VersionMeta | Manifest | None, embedder: Embedder, wanted: str) -> bool | None:
    """None without a base; else whether its passages and vectors could be kept as they are."""
    if base is None:
        return None
    return base.model == embedder.name and base.dim == embedder.dim and base.chunker == wanted


def _passages(doc: ParsedDocument, embedder: Embedder, chunk_opts: ChunkOptions) -> list[Passage]:
    """A parsed briefing cut into passages, each with the page it starts on (PDF)."""
    passages = make_passages(doc.meta.briefing_id, doc.text, doc.blocks, embedder.count_tokens, chunk_opts)
    if not doc.pages:
        return passages
    return [dataclasses.replace(p, page=doc.page_at(p.start)) for p in passages]


def format_of(rel_path: str) -> str:
    """The format a briefing file is reported under: pdf, docx, html, eml, markdown, text."""
    suffix = Path(rel_path).suffix.lower()
    return format_label(suffix) or ("text" if suffix == ".txt" else "markdown")


def _format_counts(
    files: list[tuple[Path, str]], skipped: list[Skipped], hashes: dict[str, tuple[str, str]] | None
) -> dict[str, dict[str, int]]:
    """Per format: files in the corpus, briefings in the index, files skipped by this run."""
    out: dict[str, dict[str, int]] = {}

    def row(fmt: str) -> dict[str, int]:
        return out.setdefault(fmt, {"files": 0, "briefings": 0, "skipped": 0})

    for _, rel in files:
        row(format_of(rel))["files"] += 1
    for s in skipped:
        row(format_of(s.path))["skipped"] += 1
    if hashes is not None:
        for path, _ in hashes.values():
            row(format_of(path))["briefings"] += 1
    return dict(sorted(out.items()))


def _embed(
    flat: list[tuple[BriefingMeta, Passage]],
    embedder: Embedder,
    opts: BuildOptions,
    reuse: Reuse | None,
    progress: Callable[[int, int], None],
) -> tuple[list[str], np.ndarray, list[np.ndarray | None], int]:
    """Vectors for new passages (and their sentences), reusing those of the previous version
    whose embedded text did not change. Returns (embed hashes, vectors, sentence vectors,
    passages encoded)."""
    texts = [embed_text(meta, p) for meta, p in flat]
    hashes = [embed_hash(embedder.name, t) for t in texts]
    vecs = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    sent_vecs: list[np.ndarray | None] = [None] * len(texts)
    reusable = reuse(hashes) if reuse is not None else {}
    need = [i for i, h in enumerate(hashes) if h not in reusable]
    for i, h in enumerate(hashes):
        if h in reusable:
            vecs[i], sent_vecs[i] = reusable[h]
    # Every sentence is embedded on its own too (no title or section context, so one-sentence
    # passages are not favoured): a question usually matches one sentence, and the best one is
    # scored and highlighted.
    jobs: list[tuple[int, int, int]] = []  # passage index, first row, count
    sentence_texts: list[str] = []
    if opts.sentence_vectors:
        for i in need:
            p = flat[i][1]
            if p.sentences:
                jobs.append((i, len(sentence_texts), len(p.sentences)))
                sentence_texts.extend(p.text[a:b] for a, b in p.sentences)
    # A sentence repeated across a corpus ("Yes, sir.", "(Laughter.)", a standing disclaimer)
    # is encoded once: about a quarter of a transcript archive's sentences are repeats.
    unique = list(dict.fromkeys(sentence_texts))
    total = len(need) + len(unique)
    done = 0
    progress(0, total)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    if need:
        vecs[need] = embedder.encode([texts[i] for i in need], batch_size=opts.batch_size, progress=advance)
    if sentence_texts:
        encoded = embedder.encode(unique, batch_size=opts.batch_size, progress=advance)
        row = {text: k for k, text in enumerate(unique)}
        sv = encoded[[row[text] for text in sentence_texts]]
        for i, first, count in jobs:
            sent_vecs[i] = sv[first : first + count]
    return hashes, vecs, sent_vecs, len(need)


def _file_reuse(store: Store | None, vectors: StoredVectors | None) -> Reuse | None:
    """Reuse from a version folder's store and vector file."""
    if store is None or vectors is None:
        return None
    return lambda hashes: reusable_vectors(store, vectors, hashes)


def _start_version(
    staging: Path, base_dir: Path | None, dim: int, version: str
) -> tuple[Store, VersionVectors]:
    """A writable store and vector set for a new version: a copy of the base, or empty.

    Only the SQLite store is copied (a sealed store is never written, so a byte copy is
    consistent); vectors and sentence-vector packs are linked from the base when sealed."""
    path = staging / STORE_FILE
    if base_dir is not None:
        shutil.copyfile(base_dir / STORE_FILE, path)
    store = Store(path, dim=dim)
    store.write_packs(version + PACK_SUFFIX)
    return store, VersionVectors(dim, base_dir)


def _finish_packs(store: Store, staging: Path, base_dir: Path | None, version: str) -> list[str]:
    """Close this version's pack, link the base's packs its passages still use, merge or rewrite
    packs when there are too many or they are mostly garbage; returns the pack files to seal."""
    store.close_pack()
    packs = staging / PACKS_DIR
    packs.mkdir(exist_ok=True)
    used = store.pack_rows()
    for name in used:
        if not (packs / name).exists():
            if base_dir is None or not (base_dir / PACKS_DIR / name).is_file():
                raise RuntimeError(f"sentence vectors of this index refer to a missing pack {name}")
            link_or_copy(base_dir / PACKS_DIR / name, packs / name)
    sizes = {name: pack_rows(packs / name, store.dim) for name in used}
    total = sum(sizes.values())
    garbage = 1 - sum(used.values()) / total if total else 0.0
    rewrite: list[str] = []
    if garbage > MAX_GARBAGE:
        rewrite = list(sizes)
    elif len(sizes) > MAX_PACKS:
        rewrite = sorted(sizes, key=lambda n: sizes[n])[:-1]  # all but the largest
    in_rows = store.has_row_vectors()  # a store of index format 1
    if rewrite or in_rows:
        store.write_packs(f"{version}-merged{PACK_SUFFIX}")
        store.repack(rewrite)
        store.close_pack()
        store.commit()
        if in_rows:  # once: the rows' space is given back, so later copies are small
            store.connect().execute("VACUUM")
    used = store.pack_rows()
    for path in packs.iterdir():
        if path.name not in used:
            path.unlink()
    return [f"{PACKS_DIR}/{name}" for name in sorted(used)]


def rollback(backend: IndexBackend, who: str = "", to: str | None = None) -> tuple[str, str]:
    """Make the previous version (or the kept version ``to``) live again, on either backend;
    returns (from_version, to_version)."""
    with backend.writer(who) as writer:
        current = backend.live_version()
        target = to if to is not None else writer.previous_version(current)
        if current is None or target is None:
            raise ManifestError("no older index version to roll back to")
        if target == current:
            raise ManifestError(f"{target} is already the live version")
        if target not in {v.version for v in backend.versions()}:
            raise ManifestError(f"{target} is not a kept index version")
        try:  # complete and undamaged (the file backend checks its checksums)
            backend.open_version(target).close()
        except VersionUnavailable as exc:
            raise ManifestError(str(exc)) from exc
        writer.switch(target)
        return current, target


def reindex_into(
    corpus_dir: Path,
    backend: BuildingBackend,
    embedder: Embedder,
    options: BuildOptions | None = None,
    *,
    memo_dir: Path,
    full: bool = False,
    progress: Progress | None = None,
    who: str = "",
    allow_shrink: bool = False,
    deliberate: Collection[str] = (),
    confirmed_loss: int | None = None,
) -> ReindexReport:
    """``reindex`` into a backend that builds versions through ``VersionBuilder`` (PostgreSQL):
    the same decisions (what changed, what to re-embed, what to refuse), the same report. The
    new version is built beside the live one and published in one step; ``memo_dir`` is a local
    folder remembering files that could not be read. Raises ``ReindexBusyError`` if another
    reindex (on any machine) holds the corpus's lock."""
    opts = options or BuildOptions()
    guard = _Guard(allow_shrink, frozenset(deliberate), confirmed_loss)
    with backend.writer(who) as writer:
        report = _reindex_through(
            corpus_dir, backend, writer, embedder, opts, memo_dir, full, progress, guard
        )
    report.cap()
    return report


def _reindex_through(
    corpus_dir: Path,
    backend: BuildingBackend,
    writer: VersionWriter,
    embedder: Embedder,
    opts: BuildOptions,
    memo_dir: Path,
    full: bool,
    progress: Progress | None,
    guard: _Guard,
) -> ReindexReport:
    t0 = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    abandoned = writer.clean_abandoned()
    chunk_opts = dataclasses.replace(opts.chunk, max_tokens=embedder.max_tokens)
    wanted = signature(opts, embedder)
    base_version = backend.live_version()
    report = ReindexReport(version=None, previous_version=base_version)
    if abandoned:
        report.warnings.append(f"removed what an interrupted reindex left: {', '.join(abandoned)}")
    base: VersionReader | None = None
    if base_version is not None:
        try:
            base = backend.open_version(base_version)
        except VersionUnavailable as exc:
            report.warnings.append(f"live version unusable, rebuilding from scratch: {exc}")
    try:
        reason = _rebuild_reason(base.meta if base else None, full, embedder, wanted)
        if reason is not None:
            report.full_rebuild, report.rebuild_reason = True, reason
        indexed = base.briefing_hashes() if base is not None else {}
        compatible = _compatible(base.meta if base else None, embedder, wanted)
        plan = _plan(
            corpus_dir, indexed, report, opts, embedder, chunk_opts, full, memo_dir, tick, guard, compatible
        )
        if plan.outcome != "build":
            return _unpublished(report, plan, base.counts() if base else (0, 0), t0)
        rebuild = report.full_rebuild
        builder = writer.begin(
            base_version if base is not None and not rebuild else None,
            model=embedder.name,
            dim=embedder.dim,
            chunker=wanted,
        )
        try:
            _build_version(builder, base, plan, report, embedder, opts, full, tick)
            report.version = builder.version
            report.briefings_total, report.passages_total = builder.counts()
            report.formats = _format_counts(plan.files, report.skipped, plan.hashes_after())
            report.seconds = time.perf_counter() - t0
            report.finished_at = utc_now()
            report.cap()
            builder.seal(report)
            builder.publish()
            tick("write", 1, 1)
        except BaseException:
            builder.abort()
            raise
        writer.cleanup(opts.keep_versions)
        return report
    finally:
        if base is not None:
            base.close()


def _build_version(
    builder: VersionBuilder,
    base: VersionReader | None,
    plan: _Plan,
    report: ReindexReport,
    embedder: Embedder,
    opts: BuildOptions,
    full: bool,
    tick: Progress,
) -> None:
    """Fill a new version: take out what went, carry over what a rebuild cannot re-read, add
    what was parsed (with vectors reused where the embedded text is unchanged)."""
    now = utc_now()
    if not plan.gone_all:
        for bid in plan.gone():
            report.passages_removed += builder.remove_briefing(bid)
    elif plan.carry and base is not None:
        for bid in plan.carry:
            meta = base.briefing(bid)
            passages = base.briefing_passages(bid)
            stored, vecs = base.fetch([p.vid for p in passages])
            if meta is not None and len(stored) == len(passages):
                builder.add_briefing(
                    meta,
                    [sp.passage for sp in stored],
                    [sp.embed_hash for sp in stored],
                    vecs,
                    [sp.sentence_vectors for sp in stored],
                    now,
                )
    # A full rebuild someone asked for re-embeds everything (a suspect vector, a changed model
    # package under the same name).
    reuse = (
        base.reusable_vectors if base is not None and base.meta.model == embedder.name and not full else None
    )
    flat = [(doc.meta, passage) for doc, passages in plan.parsed for passage in passages]
    hashes, all_vecs, sent_vecs, embedded = _embed(
        flat, embedder, opts, reuse, lambda done, total: tick("embed", done, total)
    )
    report.passages_embedded = embedded
    tick("write", 0, 1)
    offset = 0
    for doc, passages in plan.parsed:
        n = len(passages)
        builder.add_briefing(
            doc.meta,
            passages,
            hashes[offset : offset + n],
            all_vecs[offset : offset + n],
            sent_vecs[offset : offset + n],
            now,
        )
        offset += n
        report.passages_added += n
