"""Extraction in a child process, with a time limit and a memory limit per file.

PDF, Word, HTML and e-mail files come from anywhere: a damaged or hostile one may make a
library loop, eat memory or crash. The readers therefore run in a child Python process
(``python -m index.formats.sandbox``) limited by ``RLIMIT_AS``; the parent waits at most
``timeout`` seconds for each file, then kills the child and starts a new one for the next
file. The child is reused across files of one reindex. Markdown and plain text, which only
our own parser reads, are parsed in the calling thread.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path, PurePosixPath
from types import TracebackType

from index.formats import EXTRACTED_SUFFIXES
from index.parsing import BriefingError, ParsedDocument, parse_file

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the ``index`` package
_SECRET = re.compile(r"(?i)token|secret|password|passwd|credential|api_?key|private_?key")


@dataclass(frozen=True)
class ExtractLimits:
    timeout: float = 60.0  # seconds for one file
    memory_mb: int = 2048  # address space of the child process


class ExtractionSandbox:
    """Parses briefing files; PDF, Word, HTML and e-mail in a limited child process.

    Thread-safe (one file at a time); use as a context manager so the child is stopped.
    """

    def __init__(self, limits: ExtractLimits | None = None) -> None:
        self.limits = limits or ExtractLimits()
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ExtractionSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def parse(self, rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
        """Every briefing in one file; ``BriefingError`` with a reason when it cannot be read."""
        if PurePosixPath(rel_path).suffix.lower() not in EXTRACTED_SUFFIXES:
            return parse_file(rel_path, data, max_bytes)
        with self._lock:
            return self._remote(rel_path, data, max_bytes)

    def _remote(self, rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
        send, recv = self._start()
        try:
            send.send_bytes(pickle.dumps((rel_path, data, max_bytes), protocol=pickle.HIGHEST_PROTOCOL))
            ready = recv.poll(self.limits.timeout)
        except (BrokenPipeError, EOFError, OSError):
            ready = False
        if not ready:
            died = self._proc is not None and self._proc.poll() is not None
            code = self._kill()
            if died:
                raise BriefingError(_crash_reason(code, self.limits))
            raise BriefingError(
                f"extraction took longer than {self.limits.timeout:g} s and was stopped "
                "(a damaged or very complex file?)"
            )
        try:
            status, payload = pickle.loads(recv.recv_bytes())
        except (EOFError, OSError):
            code = self._kill()
            raise BriefingError(_crash_reason(code, self.limits)) from None
        if status == "ok":
            docs: list[ParsedDocument] = payload
            return docs
        raise BriefingError(str(payload))

    def _start(self) -> tuple[Connection, Connection]:
        if self._proc is not None and self._proc.poll() is None and self._send and self._recv:
            return self._send, self._recv
        self._kill()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # A hostile file that took over a library must not find the bot's token in its
        # environment, nor the .env file in its working folder.
        env = {k: v for k, v in os.environ.items() if not _SECRET.search(k)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "index.formats.sandbox",
                    str(to_child_r),
                    str(from_child_w),
                    str(self.limits.memory_mb),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=tempfile.gettempdir(),
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send, self._recv = Connection(to_child_w), Connection(from_child_r)
        return self._send, self._recv

    def _kill(self) -> int | None:
        """Stop the child (if any); returns its exit code."""
        proc, self._proc = self._proc, None
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        self._send = self._recv = None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("extraction process %s did not stop", proc.pid)
            return None

    def close(self) -> None:
        with self._lock:
            self._kill()


def _crash_reason(code: int | None, limits: ExtractLimits) -> str:
    if code is not None and code < 0 and -code == 9:
        return f"extraction was killed (more than {limits.memory_mb} MB of memory?)"
    return f"the extractor crashed on this file (exit code {code})"


# ---------------------------------------------------------------------------- the child


def _child(read_fd: int, write_fd: int, memory_mb: int) -> None:
    """Read requests, answer with ("ok", documents) or ("error", reason), until EOF."""
    import resource
    import warnings

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _die_with_parent()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)  # libraries' complaints about odd files are not ours
    recv, send = Connection(read_fd), Connection(write_fd)
    while True:
        try:
            request = recv.recv_bytes()
        except EOFError:
            return
        rel_path, data, max_bytes = pickle.loads(request)
        try:
            answer: tuple[str, object] = ("ok", parse_file(rel_path, data, max_bytes))
        except BriefingError as exc:
            answer = ("error", exc.reason)
        except MemoryError:
            answer = ("error", f"needs more than {memory_mb} MB of memory to extract")
        except RecursionError:
            answer = ("error", "too deeply nested to extract")
        except Exception as exc:  # a library bug on an odd file: a reason, not a crash
            answer = ("error", f"could not be extracted ({type(exc).__name__}: {str(exc)[:200]})")
        del data, request
        send.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


def _die_with_parent() -> None:
    """On Linux, be killed when the parent dies (no orphan left looping on a bad file)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    _child(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
