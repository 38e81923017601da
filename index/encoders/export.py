"""The exported (ONNX) copy of a packaged sentence-transformers model, made once and cached.

The export runs offline from the packaged weights (torch is imported only here, only when no
valid export exists). Each export lives in its own folder beside the index, with a small JSON
record of what made it and the SHA-256 of the file: a changed model, a changed library version
or a damaged file means a fresh export, never a silently stale or corrupt one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from index.manifest import file_sha256, write_json_atomic

ONNX_FILE = "model.onnx"
RECORD_FILE = "encoder.json"
EXPORT_FORMAT = 1  # bump when the export recipe below changes
# Libraries whose version changes what the export holds or how it is run.
_LIBRARIES = {
    "fp32": ("torch", "transformers", "onnx"),
    "int8": ("torch", "transformers", "onnx", "onnxruntime"),
}


class ExportError(RuntimeError):
    """The model could not be exported (unsupported model, or a library missing)."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _weights(model_path: Path) -> list[Path]:
    return sorted(p for p in model_path.iterdir() if p.suffix in {".safetensors", ".bin"} and p.is_file())


def export_key(model_path: Path, precision: str) -> dict[str, Any]:
    """What an export depends on: the model's files (by size and mtime; hashing the weights on
    every start would cost more than the start itself), the recipe and the library versions."""
    files = [*_weights(model_path), model_path / "config.json", model_path / "tokenizer.json"]
    return {
        "format": EXPORT_FORMAT,
        "precision": precision,
        "model_path": str(model_path.resolve()),
        "model_files": {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files if p.exists()},
        "libraries": {name: _version(name) for name in _LIBRARIES[precision]},
    }


def exported_model(model_path: Path, cache_dir: Path, precision: str = "fp32") -> Path:
    """Path of a verified ONNX export of ``model_path`` (``fp32`` or ``int8``), exporting it
    first when there is none, it is stale, or its checksum does not match."""
    if precision not in _LIBRARIES:
        raise ValueError(f"unknown precision {precision!r}")
    key = export_key(model_path, precision)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir / f"{model_path.name}-{precision}-{digest}"
    if _valid(folder, key):
        return folder / ONNX_FILE
    cache_dir.mkdir(parents=True, exist_ok=True)
    # int8 is made from the fp32 export: get that first, outside the lock.
    source = exported_model(model_path, cache_dir, "fp32") if precision == "int8" else None
    with FileLock(str(cache_dir / ".export.lock")):
        if _valid(folder, key):  # another process exported it while we waited
            return folder / ONNX_FILE
        staging = cache_dir / f".{folder.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            if source is None:
                _export_fp32(model_path, staging / ONNX_FILE)
            else:
                _quantize_int8(source, staging / ONNX_FILE)
            record = {"key": key, "sha256": file_sha256(staging / ONNX_FILE)}
            write_json_atomic(staging / RECORD_FILE, record)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_stale(cache_dir, model_path.name, precision, keep=folder)
    return folder / ONNX_FILE


def _valid(folder: Path, key: dict[str, Any]) -> bool:
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        return bool(record["key"] == key and file_sha256(folder / ONNX_FILE) == record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _remove_stale(cache_dir: Path, model: str, precision: str, keep: Path) -> None:
    for other in cache_dir.glob(f"{model}-{precision}-*"):
        if other != keep and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def _export_fp32(model_path: Path, dest: Path) -> None:
    """Export the transformer (token embeddings out; pooling is done by the caller)."""
    pooling = _pooling_config(model_path)
    if not pooling.get("pooling_mode_mean_tokens", False):
        raise ExportError(f"{model_path.name}: only mean-pooling models can run outside torch")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - torch is a dependency of the project
        raise ExportError(f"exporting the model needs torch and transformers ({exc})") from exc

    # Eager attention traces to plain ONNX ops; the fused kernels trace with Python-side checks.
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    # The tracer warns about Python-side shape checks that are constant for this model.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(),
            sample,
            str(dest),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantize_int8(source: Path, dest: Path) -> None:
    """Dynamic int8 quantisation of the matrix products, per output channel (per tensor, or
    with the embedding table included, cosine to fp32 falls to about 0.95)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # it advises a pre-processing step on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        logging.disable(logging.NOTSET)


def _pooling_config(model_path: Path) -> dict[str, Any]:
    try:
        data = json.loads((model_path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{model_path.name}: no pooling configuration ({exc})") from exc
    return data if isinstance(data, dict) else {}
