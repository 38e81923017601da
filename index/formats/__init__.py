"""Readers for briefings that are not plain text: PDF, Word, HTML and e-mail.

Each format lives in its own module exposing ``read(rel_path, data, max_bytes)`` that returns
one or more ``ParsedDocument``s whose text is the extracted text (quotes are spans of it).
This registry only names them: a reader's libraries are imported when a file of its kind is
read, normally inside the extraction sandbox (``index.formats.sandbox``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.parsing import ParsedDocument

    Reader = Callable[[str, bytes, int], list[ParsedDocument]]

# Bump when any reader's output changes: unchanged files are then extracted again.
READERS_VERSION = "1"

# suffix -> (module, format label used in reports)
_MODULES: dict[str, tuple[str, str]] = {
    ".pdf": ("index.formats.pdf", "pdf"),
    ".docx": ("index.formats.docx", "docx"),
    ".html": ("index.formats.html", "html"),
    ".htm": ("index.formats.html", "html"),
    ".eml": ("index.formats.eml", "eml"),
}

EXTRACTED_SUFFIXES: tuple[str, ...] = tuple(_MODULES)


def format_label(suffix: str) -> str | None:
    """The report label of an extracted format (``pdf``...), or None for other suffixes."""
    entry = _MODULES.get(suffix.lower())
    return entry[1] if entry else None


def reader_for(suffix: str) -> Reader:
    """The ``read`` function of the format module for ``suffix`` (imported on first use)."""
    module, _ = _MODULES[suffix.lower()]
    read: Reader = importlib.import_module(module).read
    return read
