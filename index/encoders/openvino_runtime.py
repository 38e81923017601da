"""OpenVINO on the CPU: the exported model at the CPU's default inference precision.

On CPUs with AMX or AVX-512 bf16 units OpenVINO runs in bfloat16 (about 3x torch here, cosine
0.99996 to torch's vectors); elsewhere it runs fp32 (the same vectors, about 1.3x). The
precision is part of the encoder's name, so an index is never served with vectors of another.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from index.encoders.export import exported_model
from index.encoders.pooled import PooledEncoder, Runner


@cache
def _core() -> Any:
    import openvino as ov

    return ov.Core()


def default_precision() -> str:
    """What OpenVINO will compute in on this CPU: ``bf16`` (AMX / AVX-512 bf16) or ``fp32``."""
    hint = str(_core().get_property("CPU", "INFERENCE_PRECISION_HINT")).lower()
    return "bf16" if "bf16" in hint or "bfloat16" in hint else "fp16" if "f16" in hint else "fp32"


class OpenVinoEncoder(PooledEncoder):
    """``openvino``: the ONNX export compiled by OpenVINO for this CPU."""

    @property
    def variant(self) -> str:  # type: ignore[override]
        return f"openvino-{default_precision()}"

    def _open(self, threads: int | None) -> Runner:
        path = exported_model(self._path, self._cache_dir, "fp32")
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        # Compiled kernels are cached beside the export: a later start skips the compile.
        config["CACHE_DIR"] = str(path.parent / "openvino-cache")
        compiled = _core().compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()
        wanted = {name for port in compiled.inputs for name in port.get_names()}
        output = compiled.output(0)

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in wanted:
                feed["token_type_ids"] = np.zeros_like(ids)
            return np.asarray(request.infer(feed)[output])

        return run
