"""Calibrated confidence: candidate features -> probability the quote answers the question.

A logistic model fitted on the public tune sets (``bench/calibrate.py`` writes
``calibration.json``). People see bands ("strong", "weak"), never raw cosine numbers; the
answer abstains when no quote reaches the strong band.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Calibration:
    features: tuple[str, ...] = ("dense", "coverage")
    coef: tuple[float, ...] = (12.0, 4.0)
    intercept: float = -8.0
    answer_at: float = 0.5  # confidence from which a quote is "strong"
    notes: dict[str, Any] = field(default_factory=dict)

    def confidence(self, feats: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * feats.get(f, 0.0) for f, c in zip(self.features, self.coef, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "answer_at": self.answer_at,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            features=tuple(data["features"]),
            coef=tuple(float(c) for c in data["coef"]),
            intercept=float(data["intercept"]),
            answer_at=float(data.get("answer_at", 0.5)),
            notes=dict(data.get("notes", {})),
        )


def load_calibration(path: Path | None = None) -> Calibration:
    """The shipped calibration, or one from ``path``."""
    if path is not None:
        return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
    shipped = Path(__file__).with_name("calibration.json")
    if not shipped.exists():
        return Calibration()
    return Calibration.from_json(json.loads(shipped.read_text(encoding="utf-8")))
