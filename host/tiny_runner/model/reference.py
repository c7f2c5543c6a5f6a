"""The official reference models: where they live in a model directory and what they hash to.

A model directory is laid out like the MLPerf Tiny reference data (`<id>/<file>.tflite`); it is
named by --model-dir or the environment variable TINY_RUNNER_MODEL_DIR. Every model taken from
it is hash-checked. `--model FILE` runs a model of the user's own (hash recorded, not checked).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..benchmarks import BENCHMARKS, ReferenceModel, find_benchmark
from ..errors import ModelError

MODEL_DIR_ENV = "TINY_RUNNER_MODEL_DIR"


class _ReferenceModels(Mapping):
    """Benchmark id -> its reference model, for every registered benchmark that has one (each
    benchmark's module declares its model; benchmarks/base.py)."""

    def _models(self) -> dict[str, ReferenceModel]:
        return {b.id: b.reference_model for b in BENCHMARKS.values() if b.reference_model is not None}

    def __getitem__(self, benchmark_id: str) -> ReferenceModel:
        return self._models()[benchmark_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._models())

    def __len__(self) -> int:
        return len(self._models())


REFERENCE_MODELS: Mapping[str, ReferenceModel] = _ReferenceModels()


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    sha256: str
    reference: bool  # True when it is the official model, hash verified


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir_from(option: str | None) -> Path | None:
    value = option or os.environ.get(MODEL_DIR_ENV)
    return Path(value).expanduser() if value else None


def check_fits(benchmark_id: str, path: Path) -> None:
    """A model of the user's own must take and give what the benchmark's firmware handles."""
    from .info import model_info

    benchmark = find_benchmark(benchmark_id)
    want_in, want_out = benchmark.input_elements, benchmark.output_elements
    info = model_info(path)
    # the protocol carries int8 tensors (float input windows are quantised by the firmware)
    if (info.input_type, info.output_type) != ("INT8", "INT8"):
        raise ModelError(
            f"{path}: input tensor {info.input_type}, output tensor {info.output_type}; MLPerf Tiny firmware runs "
            "int8-quantised models (INT8 input and output)"
        )
    got_in, got_out = int(np.prod(info.input_shape)), int(np.prod(info.output_shape))
    if (got_in, got_out) != (want_in, want_out):
        raise ModelError(
            f"{path} takes {got_in} input and gives {got_out} output values; "
            f"{benchmark_id} firmware feeds {want_in} and reads {want_out}"
        )


def resolve_model(benchmark_id: str, *, model_file: str | None = None, model_dir: str | None = None) -> ResolvedModel:
    """The model to run for a benchmark, checked; ModelError with the fix if it cannot be had."""
    if model_file:
        path = Path(model_file).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        check_fits(benchmark_id, path)
        return ResolvedModel(path, sha256_file(path), reference=False)

    ref = REFERENCE_MODELS.get(benchmark_id)
    if ref is None:
        raise ModelError(f"no reference model is registered for {benchmark_id}; pass --model FILE")
    directory = model_dir_from(model_dir)
    if directory is None:
        raise ModelError(
            f"no model directory: pass --model-dir DIR or set {MODEL_DIR_ENV} "
            f"(a folder laid out like the MLPerf Tiny reference data, with {ref.relative_path})"
        )
    path = directory / ref.relative_path
    if not path.is_file():
        raise ModelError(f"reference model for {benchmark_id} not found: expected {path}")
    digest = sha256_file(path)
    if digest != ref.sha256:
        raise ModelError(
            f"{path} is not the official {benchmark_id} model: sha256 {digest[:16]}... "
            f"expected {ref.sha256[:16]}...; restore the file or pass it with --model to run it as your own"
        )
    return ResolvedModel(path, digest, reference=True)
