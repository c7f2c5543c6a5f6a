"""Where the reference data keeps each benchmark's model."""

from __future__ import annotations

from pathlib import Path

from tiny_runner.model.reference import REFERENCE_MODELS


def model_path(reference: Path, benchmark_id: str) -> Path:
    return reference / REFERENCE_MODELS[benchmark_id].relative_path
