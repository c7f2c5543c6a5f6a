"""The official reference models: where they live in a model directory and what they hash to.

A model directory is laid out like the MLPerf Tiny reference data (`<id>/<file>.tflite`); it is
named by --model-dir or the environment variable TINY_RUNNER_MODEL_DIR. Every model taken from
it is hash-checked. `--model FILE` runs a model of the user's own (hash recorded, not checked).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

MODEL_DIR_ENV = "TINY_RUNNER_MODEL_DIR"


@dataclass(frozen=True)
class ReferenceModel:
    benchmark_id: str
    relative_path: str
    size: int
    sha256: str


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    m.benchmark_id: m
    for m in (
        ReferenceModel("kws01", "kws01/kws_ref_model.tflite", 53_936,
                       "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae"),
        ReferenceModel("vww01", "vww01/vww_96_int8.tflite", 333_288,
                       "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b"),
        ReferenceModel("ic01", "ic01/pretrainedResnet_quant.tflite", 98_496,
                       "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415"),
        ReferenceModel("ic02", "ic02/pretrainedResnet_large_int8.tflite", 512_024,
                       "dc27dcd823f5665533352f7da516b0c9bc6f089914b8283782e55961b3423fcf"),
        ReferenceModel("ad01", "ad01/ad01_int8.tflite", 276_976,
                       "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24"),
    )
}


# Input and output tensor elements of each benchmark's model (tiny_protocol.md §3.6-3.7).
MODEL_IO_ELEMENTS = {"kws01": (490, 12), "vww01": (27_648, 2), "ic01": (3_072, 10), "ic02": (3_072, 10),
                     "ad01": (640, 640)}


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
    from .modelinfo import model_info

    want_in, want_out = MODEL_IO_ELEMENTS[benchmark_id]
    info = model_info(path)
    # the protocol carries int8 tensors (ad01's float windows are quantised by the firmware)
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
