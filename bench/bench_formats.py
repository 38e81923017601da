"""Which library reads each format best, and how fast the shipped readers are.

    .venv/bin/python bench/bench_formats.py [--samples DIR] [--big] [--json FILE]

Text quality is measured against ``truth/wh-*.json`` of the real sample files
(``../shared/corpus-samples/formats``, see bench/format_metrics.py): share of the true words
recovered in order, extra words, and true paragraphs split, merged or kept whole. Candidate
libraries are read the plain way their documentation shows; "shipped" is this project's
reader (index/formats). ``--big`` also generates a 200-page PDF and a 50 MB Word file with
images in a temporary folder and reads them through the extraction sandbox, reporting time
and the child's peak memory. Timings are wall-clock on a shared 2-core machine: noisy.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.format_metrics import compare
from index.parsing import ParsedDocument, parse_file

_REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository (a worktree may sit one folder deeper)
DEFAULT_SAMPLES = next(
    (
        p / "shared/corpus-samples/formats"
        for p in (_REPO.parent, _REPO.parent.parent)
        if (p / "shared").is_dir()
    ),
    _REPO.parent / "shared/corpus-samples/formats",
)
Extractor = Callable[[bytes], list[str]]  # file bytes -> paragraphs


def _split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _shipped(suffix: str) -> Extractor:
    def run(data: bytes) -> list[str]:
        doc: ParsedDocument = parse_file(f"sample{suffix}", data, 1 << 30)[0]
        return [doc.text[b.start : b.end] for b in doc.blocks]

    return run


# ---------------------------------------------------------------------------- PDF candidates


def pdf_candidates() -> dict[str, Extractor]:
    import pdfminer.high_level
    import pdfplumber
    import pypdf
    import pypdfium2 as pdfium
    from pdfminer.layout import LAParams, LTTextBox

    def with_pypdf(data: bytes) -> list[str]:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return _split_paragraphs("\n\n".join(p.extract_text() or "" for p in reader.pages))

    def with_pdfminer(data: bytes) -> list[str]:
        return _split_paragraphs(pdfminer.high_level.extract_text(io.BytesIO(data)))

    def with_pdfminer_boxes(data: bytes) -> list[str]:
        out: list[str] = []
        for page in pdfminer.high_level.extract_pages(io.BytesIO(data), laparams=LAParams()):
            out.extend(" ".join(el.get_text().split()) for el in page if isinstance(el, LTTextBox))
        return [p for p in out if p]

    def with_pdfplumber(data: bytes) -> list[str]:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return _split_paragraphs("\n\n".join(p.extract_text() or "" for p in pdf.pages))

    def with_pdfium(data: bytes) -> list[str]:
        pdf = pdfium.PdfDocument(data)
        try:
            return _split_paragraphs(
                "\n\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
            )
        finally:
            pdf.close()

    return {
        "pypdf 7 (extract_text)": with_pypdf,
        "pdfminer.six (extract_text)": with_pdfminer,
        "pdfminer.six (layout text boxes)": with_pdfminer_boxes,
        "pdfplumber (extract_text)": with_pdfplumber,
        "pypdfium2 (get_text_range)": with_pdfium,
        "shipped: pypdfium2 + layout (index/formats/pdf.py)": _shipped(".pdf"),
    }


def docx_candidates() -> dict[str, Extractor]:
    import mammoth
    from docx2python import docx2python

    def with_mammoth(data: bytes) -> list[str]:
        return _split_paragraphs(mammoth.extract_raw_text(io.BytesIO(data)).value)

    def with_docx2python(data: bytes) -> list[str]:
        with docx2python(io.BytesIO(data)) as result:
            return _split_paragraphs(result.text)

    return {
        "mammoth (extract_raw_text)": with_mammoth,
        "docx2python (text)": with_docx2python,
        "shipped: python-docx (index/formats/docx.py)": _shipped(".docx"),
    }


def html_candidates() -> dict[str, Extractor]:
    from bs4 import BeautifulSoup
    from lxml import html as lxml_html
    from readability import Document
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    blocks = ("p", "h1", "h2", "h3", "li", "td")

    def with_bs4(data: bytes) -> list[str]:
        soup = BeautifulSoup(data, "lxml")
        return [" ".join(el.get_text(" ").split()) for el in soup.find_all(blocks) if el.get_text().strip()]

    def with_selectolax(data: bytes) -> list[str]:
        tree = HTMLParser(data)
        return [
            " ".join(n.text(separator=" ").split()) for n in tree.css(",".join(blocks)) if n.text().strip()
        ]

    def with_readability(data: bytes) -> list[str]:
        summary = Document(data.decode("utf-8", "replace")).summary(html_partial=True)
        tree = lxml_html.fromstring(summary)
        return [" ".join(el.text_content().split()) for el in tree.iter(*blocks) if el.text_content().strip()]

    return {
        "BeautifulSoup 4 (every block element)": with_bs4,
        "selectolax (every block element)": with_selectolax,
        "readability-lxml (main content)": with_readability,
        "shipped: trafilatura (index/formats/html.py)": _shipped(".html"),
    }


def eml_candidates() -> dict[str, Extractor]:
    import email
    from email import policy

    from index.formats.html import parse_html
    from index.parsing import parse_briefing

    def part_text(data: bytes, subtype: str) -> str:
        message = email.message_from_bytes(data, policy=policy.default)
        part = message.get_body(preferencelist=(subtype,))  # type: ignore[attr-defined]
        return str(part.get_content()) if part is not None else ""

    def plain(data: bytes) -> list[str]:
        doc = parse_briefing("body.txt", part_text(data, "plain").encode("utf-8"))
        return [doc.text[b.start : b.end] for b in doc.blocks]

    def html(data: bytes) -> list[str]:
        doc = parse_html("body.html", part_text(data, "html").encode("utf-8"), sniff=False)
        return [doc.text[b.start : b.end] for b in doc.blocks]

    return {
        "email + plain-text body (plain-text parser)": plain,
        "email + HTML body (trafilatura)": html,
        "shipped: index/formats/eml.py (HTML body first)": _shipped(".eml"),
    }


# ---------------------------------------------------------------------------- measuring


def _pages(path: Path) -> int:
    if path.suffix.lower() != ".pdf":
        return 1
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path.read_bytes())
    try:
        return len(pdf)
    finally:
        pdf.close()


def measure(
    files: list[Path], truth_dir: Path, candidates: dict[str, Extractor], repeat: int = 3
) -> list[dict[str, Any]]:
    rows = []
    for name, extract in candidates.items():
        totals = {
            "true_words": 0,
            "matched": 0.0,
            "extra": 0.0,
            "paragraphs": 0,
            "split": 0,
            "merged": 0,
            "whole": 0,
        }
        seconds = 0.0
        pages = 0
        for path in files:
            data = path.read_bytes()
            stem = path.stem.replace("-clean", "").replace("-newsletter", "")
            truth = json.loads((truth_dir / f"{stem}.json").read_text())["paragraphs"]
            t0 = time.perf_counter()
            for _ in range(repeat):
                paras = extract(data)
            seconds += (time.perf_counter() - t0) / repeat
            pages += _pages(path)
            m = compare(truth, paras)
            totals["true_words"] += m["true_words"]
            totals["matched"] += m["recovered"] * m["true_words"]
            totals["extra"] += m["extra_words"] * m["true_words"]
            for k in ("paragraphs", "split", "merged", "whole"):
                totals[k] += m[k]
        rows.append(
            {
                "library": name,
                "files": len(files),
                "pages": pages,
                "recovered": round(totals["matched"] / totals["true_words"], 4),
                "extra_words": round(totals["extra"] / totals["true_words"], 4),
                "paragraphs": totals["paragraphs"],
                "split": totals["split"],
                "merged": totals["merged"],
                "whole": totals["whole"],
                "seconds": round(seconds, 4),
                "pages_per_s": round(pages / seconds, 1) if seconds else None,
                "files_per_s": round(len(files) / seconds, 1) if seconds else None,
            }
        )
    return rows


def boilerplate(page: Path, candidates: dict[str, Extractor]) -> dict[str, list[str]]:
    """Which navigation, cookie, sidebar and footer phrases each HTML candidate lets through."""
    phrases = ["cookies", "Subscribe now", "Related stories", "All rights reserved", "Privacy policy", "Home"]
    out = {}
    for name, extract in candidates.items():
        text = "\n".join(extract(page.read_bytes()))
        out[name] = [p for p in phrases if p in text]
    return out


def robustness(samples: Path) -> list[dict[str, Any]]:
    """Every real sample through the shipped readers in the sandbox: indexed or skipped, why."""
    from index.formats.sandbox import ExtractionSandbox

    rows = []
    with ExtractionSandbox() as sandbox:
        for path in sorted(samples.glob("*/*")):
            if path.parent.name == "truth":
                continue
            t0 = time.perf_counter()
            try:
                docs = sandbox.parse(f"{path.parent.name}/{path.name}", path.read_bytes(), 1 << 30)
                outcome = f"{len(docs)} briefing(s), {sum(len(d.blocks) for d in docs)} paragraphs, title “{docs[0].meta.title[:60]}”"
            except Exception as exc:  # BriefingError: a reason
                outcome = f"skipped: {getattr(exc, 'reason', exc)}"
            rows.append(
                {
                    "file": f"{path.parent.name}/{path.name}",
                    "outcome": outcome,
                    "ms": round((time.perf_counter() - t0) * 1000, 1),
                }
            )
    return rows


# ---------------------------------------------------------------------------- big files


def make_big_pdf(path: Path, pages: int = 200) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    words = [
        "the",
        "council",
        "said",
        "reservoir",
        "levels",
        "stay",
        "low",
        "after",
        "a",
        "dry",
        "spring",
        "and",
        "asks",
        "residents",
        "to",
        "save",
        "water",
    ]
    for n in range(pages):
        c.setFont("Helvetica", 8)
        c.drawString(72, 800, "Lindenfall Water Board - weekly report")
        c.drawString(300, 30, f"Page {n + 1} of {pages}")
        c.setFont("Helvetica", 11)
        y = 760
        for line in range(48):
            if line % 6 == 5:
                y -= 8
                continue
            c.drawString(72, y, " ".join(words[(line + n + k) % len(words)] for k in range(12)))
            y -= 14
        c.showPage()
    c.save()


def make_big_docx(path: Path, megabytes: int = 50) -> None:
    import docx
    from docx.shared import Inches
    from PIL import Image

    d = docx.Document()
    d.add_heading("Inspection photographs", level=1)
    size = 0
    n = 0
    while size < megabytes * 1024 * 1024:
        img = Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        size += buf.tell()
        buf.seek(0)
        d.add_paragraph(
            f"Photograph {n + 1}: the east embankment of the Upper Linden reservoir, seen from the dam."
        )
        d.add_picture(buf, width=Inches(3))
        n += 1
    d.save(str(path))


def big_files() -> list[dict[str, Any]]:
    from index.formats.sandbox import ExtractionSandbox

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pdf, word = Path(tmp) / "big.pdf", Path(tmp) / "big.docx"
        make_big_pdf(pdf)
        make_big_docx(word)
        for path in (pdf, word):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            with ExtractionSandbox() as sandbox:
                t0 = time.perf_counter()
                docs = sandbox.parse(path.name, path.read_bytes(), 1 << 30)
                seconds = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rows.append(
                {
                    "file": path.name,
                    "megabytes": round(path.stat().st_size / 2**20, 1),
                    "pages": _pages(path) if path.suffix == ".pdf" else None,
                    "paragraphs": len(docs[0].blocks),
                    "seconds_including_child_start": round(seconds, 2),
                    "child_peak_rss_mb": round(max(peak, before) / 1024, 0),
                }
            )
    return rows


def _table(rows: list[dict[str, Any]], unit: str) -> str:
    head = f"| library | recovered | extra words | whole / split / merged (of true) | {unit} |\n|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        speed = r["pages_per_s"] if unit == "pages/s" else r["files_per_s"]
        lines.append(
            f"| {r['library']} | {r['recovered']:.3f} | {r['extra_words']:.3f} | "
            f"{r['whole']} / {r['split']} / {r['merged']} (of {r['paragraphs']}) | {speed} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--big", action="store_true", help="also a 200-page PDF and a 50 MB Word file")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    samples: Path = args.samples
    truth = samples / "truth"
    result: dict[str, Any] = {
        "pdf": measure(sorted(samples.glob("pdf/wh-*.pdf")), truth, pdf_candidates()),
        "docx": measure(sorted(samples.glob("docx/wh-*.docx")), truth, docx_candidates(), repeat=5),
        "html": measure(sorted(samples.glob("html/wh-*.html")), truth, html_candidates(), repeat=5),
        "eml": measure(sorted(samples.glob("eml/wh-*.eml")), truth, eml_candidates(), repeat=5),
        "html_boilerplate": boilerplate(
            Path(__file__).resolve().parents[1] / "tests/fixtures/formats/transit-strike-settled.html",
            html_candidates(),
        ),
        "samples": robustness(samples),
    }
    if args.big:
        result["big"] = big_files()
    for fmt, unit in (("pdf", "pages/s"), ("docx", "files/s"), ("html", "files/s"), ("eml", "files/s")):
        print(f"\n{fmt} ({result[fmt][0]['files']} files with truth)\n" + _table(result[fmt], unit))
    print("\nboilerplate let through on a page with a cookie banner, navigation, sidebar and footer:")
    for name, leaked in result["html_boilerplate"].items():
        print(f"  {name}: {', '.join(leaked) or 'none'}")
    print("\nevery real sample through the shipped readers (sandbox):")
    for r in result["samples"]:
        print(f"  {r['file']}: {r['outcome']} ({r['ms']} ms)")
    for r in result.get("big", []):
        print(f"\nbig: {r}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
