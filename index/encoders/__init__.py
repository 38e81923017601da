"""Encoder backends behind the ``Embedder`` protocol, chosen by ``BRIEFBOT_ENCODER``.

``torch`` is sentence-transformers itself (the reference); ``onnx``, ``onnx-int8`` and
``openvino`` run an ONNX export of the same packaged weights, made once and cached beside
the index, and never import torch to answer a question. ``auto`` picks the fastest one whose
answer quality matched torch's on every eval set (README, "Speed and size").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from index.embedder import Embedder, SentenceTransformerEmbedder, resolve_model_path

ENCODERS = ("auto", "torch", "onnx", "onnx-int8", "openvino")


def has_runtime(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def auto_encoder() -> str:
    """OpenVINO where the CPU computes in bfloat16 (about 3x torch), else ONNX Runtime int8."""
    if has_runtime("openvino"):
        from index.encoders.openvino_runtime import default_precision

        if default_precision() == "bf16":
            return "openvino"
    if has_runtime("onnxruntime"):
        return "onnx-int8"
    return "torch"


def make_embedder(
    model: str,
    encoder: str = "auto",
    *,
    cache_dir: Path,
    query_threads: int = 1,
    bulk_threads: int | None = None,
) -> Embedder:
    """The embedder for ``model`` run by ``encoder``; exports go to ``cache_dir``."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}: one of {', '.join(ENCODERS)}")
    if encoder == "auto":
        encoder = auto_encoder()
    if encoder == "torch":
        return SentenceTransformerEmbedder(model, threads=bulk_threads)
    path = resolve_model_path(model)
    if encoder == "openvino":
        from index.encoders.openvino_runtime import OpenVinoEncoder

        return OpenVinoEncoder(model, path, cache_dir, query_threads=query_threads, bulk_threads=bulk_threads)
    from index.encoders.onnx_runtime import OnnxEncoder, OnnxInt8Encoder

    kind = OnnxInt8Encoder if encoder == "onnx-int8" else OnnxEncoder
    return kind(model, path, cache_dir, query_threads=query_threads, bulk_threads=bulk_threads)
