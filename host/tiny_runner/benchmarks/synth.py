"""Deterministic synthetic stimuli, and whole synthetic datasets in the EEMBC layout.

The official stimulus files are not redistributable, so the virtual lab and the tests run on
synthetic ones. They have the right formats and plausible statistics, nothing more; each
benchmark's module says how its are made (kws01: MFCC-like frames, the image benchmarks:
smooth random RGB images, ad01: log-mel-like spectrograms whose anomaly label is true by
construction).
A label a stimulus does not carry by construction cannot be true: a synthetic dataset labels
such a stimulus with the reference model's own top-1 (dataset.json says so), so top-1 on it
measures agreement with the reference TFLM run, not model accuracy. An accuracy run on a
synthetic dataset is therefore never valid for submission (modes/accuracy.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..model.tflm import TflmWorker
from . import Benchmark
from .ad01 import FILE_FRAMES as AD_FILE_FRAMES
from .ad01 import MEL_BINS as AD_MEL_BINS
from .datasets import LABELS_FILE, META_FILE

__all__ = ["AD_FILE_FRAMES", "AD_MEL_BINS", "performance_stimuli", "stimulus", "write_dataset"]


def _rng(seed: int, index: int) -> np.random.Generator:
    # MT19937 as the MLPerf Tiny rules ask for seeds; one stream per stimulus so that any
    # subset of a dataset is reproducible on its own.
    return np.random.Generator(np.random.MT19937([seed, index]))


def stimulus(benchmark: Benchmark, seed: int, index: int, ad_frames: int | None = None) -> tuple[bytes, int | None]:
    """One synthetic stimulus file and its label by construction (None when it has none);
    ad_frames: frames per file of a windowed benchmark (default: the benchmark's own)."""
    return benchmark.synthetic_file(_rng(seed, index), index, ad_frames)


def performance_stimuli(benchmark: Benchmark, seed: int = 0, count: int = 5) -> list[tuple[str, bytes]]:
    """The stimuli of a performance run without a dataset (ad01: window 0 of each file)."""
    return [(f"synthetic-{i:03d}", benchmark.synthetic_input(_rng(seed, i), i)) for i in range(count)]


def write_dataset(
    benchmark: Benchmark, out_dir: Path, count: int, model_path: Path, seed: int = 0, ad_frames: int | None = None
) -> Path:
    """Write `count` stimuli, y_labels.csv and dataset.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    windows = benchmark.windows
    with TflmWorker(model_path) as worker:
        for i in range(count):
            data, label = stimulus(benchmark, seed, i, ad_frames)
            name = f"synth_{benchmark.id}_{i:05d}.bin"
            (out_dir / name).write_bytes(data)
            if label is None:
                tensor, _ = benchmark.convert_input(data, worker.input_quant)
                label = int(np.argmax(worker.run(tensor)))
            layout = f",{windows.window_bytes},{windows.stride_bytes}" if windows else ""
            rows.append(f"{name},{len(benchmark.classes)},{label}{layout}")
    (out_dir / LABELS_FILE).write_text("\n".join(rows) + "\n")
    meta = {
        "synthetic": True,
        "benchmark": benchmark.id,
        "count": count,
        "seed": seed,
        "labels": benchmark.synthetic_labels,
        "model": model_path.name,
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir
