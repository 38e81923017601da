"""Encoder backends: exported models reproduce torch's vectors, are cached and checked, and
answer questions without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bot.settings import Settings
from index.embedder import SentenceTransformerEmbedder, resolve_model_path
from index.encoders import make_embedder
from index.encoders.export import RECORD_FILE, exported_model
from index.manifest import file_sha256
from index.service import BriefingService, ServiceConfig

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "What did the ministry say about the reservoir levels in August?",
    "The harbour authority inspected every crane on the eastern quay after the collapse. " * 4,
    "Yes.",
]

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEmbedder().encode(TEXTS)


def test_onnx_reproduces_torchs_vectors(cache_dir: Path, torch_vectors: np.ndarray) -> None:
    vectors = make_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=cache_dir).encode(TEXTS)
    assert np.allclose((vectors * torch_vectors).sum(axis=1), 1.0, atol=1e-5)


def test_onnx_int8_stays_close_to_torchs_vectors(cache_dir: Path, torch_vectors: np.ndarray) -> None:
    vectors = make_embedder("all-MiniLM-L6-v2", "onnx-int8", cache_dir=cache_dir).encode(TEXTS)
    assert (vectors * torch_vectors).sum(axis=1).min() > 0.95


def test_openvino_stays_close_to_torchs_vectors(cache_dir: Path, torch_vectors: np.ndarray) -> None:
    vectors = make_embedder("all-MiniLM-L6-v2", "openvino", cache_dir=cache_dir).encode(TEXTS)
    assert (vectors * torch_vectors).sum(axis=1).min() > 0.999


def test_a_question_vector_equals_the_bulk_vector_of_the_same_text(cache_dir: Path) -> None:
    emb = make_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=cache_dir)
    assert np.allclose(emb.encode_query(TEXTS[1]), emb.encode(TEXTS)[1], atol=1e-5)


def test_bulk_vectors_come_back_in_input_order(cache_dir: Path) -> None:
    emb = make_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=cache_dir)
    forward = emb.encode(TEXTS)
    backward = emb.encode(TEXTS[::-1])
    assert np.allclose(forward, backward[::-1], atol=1e-5)


def test_the_encoder_name_records_backend_and_precision(cache_dir: Path) -> None:
    assert make_embedder("all-MiniLM-L6-v2", "onnx-int8", cache_dir=cache_dir).name == (
        "all-MiniLM-L6-v2+onnx-int8"
    )
    assert make_embedder("all-MiniLM-L6-v2", "openvino", cache_dir=cache_dir).name.startswith(
        "all-MiniLM-L6-v2+openvino-"
    )


def test_an_existing_export_is_reused(cache_dir: Path) -> None:
    path = exported_model(resolve_model_path("all-MiniLM-L6-v2"), cache_dir, "fp32")
    before = path.stat().st_mtime_ns
    again = exported_model(resolve_model_path("all-MiniLM-L6-v2"), cache_dir, "fp32")
    assert again == path and again.stat().st_mtime_ns == before


def test_an_int8_export_is_made_from_an_empty_cache(tmp_path: Path) -> None:
    path = exported_model(resolve_model_path("all-MiniLM-L6-v2"), tmp_path, "int8")
    assert path.exists() and len(list(tmp_path.glob("*-fp32-*"))) == 1


def test_a_damaged_export_is_made_again(tmp_path: Path) -> None:
    model = resolve_model_path("all-MiniLM-L6-v2")
    path = exported_model(model, tmp_path, "fp32")
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 64)
    again = exported_model(model, tmp_path, "fp32")
    record = json.loads((again.parent / RECORD_FILE).read_text())
    assert file_sha256(again) == record["sha256"]


def test_an_export_made_with_another_library_version_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = resolve_model_path("all-MiniLM-L6-v2")
    first = exported_model(model, tmp_path, "fp32")
    from index.encoders import export

    monkeypatch.setattr(export, "_version", lambda package: "0.0-other")
    second = exported_model(model, tmp_path, "fp32")
    assert second != first and second.exists()
    assert not first.parent.exists()  # the stale export is removed


def test_a_question_is_answered_without_importing_torch(cache_dir: Path) -> None:
    make_embedder("all-MiniLM-L6-v2", "onnx-int8", cache_dir=cache_dir).encode_query("warm")
    code = (
        "import sys; from pathlib import Path; from index.encoders import make_embedder; "
        f"e = make_embedder('all-MiniLM-L6-v2', 'onnx-int8', cache_dir=Path({str(cache_dir)!r})); "
        "e.encode_query('What happened?'); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_the_export_lives_beside_the_index(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    assert settings.encoder_cache_dir == tmp_path / "index" / "encoders"


def test_a_change_of_encoder_rebuilds_the_index(cache_dir: Path, corpus: Path, tmp_path: Path) -> None:
    config = ServiceConfig(corpus, tmp_path / "index")
    BriefingService(config, make_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=cache_dir)).reindex()
    other = BriefingService(config, make_embedder("all-MiniLM-L6-v2", "onnx-int8", cache_dir=cache_dir))
    report = other.reindex()
    assert report.full_rebuild and "onnx-int8" in (report.rebuild_reason or "")
    assert other.status().model == "all-MiniLM-L6-v2+onnx-int8"


def test_an_unknown_encoder_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFBOT_ENCODER", "cuda")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
