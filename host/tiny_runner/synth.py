"""Deterministic synthetic stimuli, and whole synthetic datasets in the EEMBC layout.

The official stimulus files are not redistributable, so the virtual lab and the tests run on
synthetic ones. They have the right formats and plausible statistics, nothing more:
- kws01: 49x10 int8 MFCC-like frames (a noise floor plus a louder "word" segment);
- vww01 / ic01 / ic02: smooth random RGB images;
- ad01: log-mel-like float32 spectrograms; anomalies carry extra tonal lines and a level
  shift, so the anomaly label is true by construction. The reference model tells them apart
  only roughly (AUC about 0.8 over 20 files; even its normal ones score about twice the MSE
  of the real normal file), so AUC on them shows the pipeline working, not the model's quality.
Classifier labels cannot be true by construction: a synthetic dataset labels each stimulus
with the reference model's own top-1 (dataset.json says so), so top-1 on it measures
agreement with the reference TFLM run, not model accuracy. An accuracy run on a synthetic
dataset is therefore never valid for submission (modes/accuracy.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .benchmarks import AD_STRIDE_BYTES, AD_WINDOW_BYTES, Benchmark
from .datasets import LABELS_FILE, META_FILE
from .reference_port import model_input
from .tflm import TflmWorker

AD_MEL_BINS = 128
AD_FILE_FRAMES = 200  # real ad01 files: 200 frames -> 196 windows
_AD_PROFILE_DB = np.interp(np.arange(AD_MEL_BINS), [0, 8, 24, 64, 127], [-47.0, -15.0, -18.0, -30.0, -39.0])

LABELS_BY_MODEL = "reference-model top-1: top-1 measures agreement with the reference TFLM run, not accuracy"
LABELS_BY_CONSTRUCTION = "by construction: anomalies carry tonal lines and a level shift"


def _rng(seed: int, index: int) -> np.random.Generator:
    # MT19937 as the MLPerf Tiny rules ask for seeds; one stream per stimulus so that any
    # subset of a dataset is reproducible on its own.
    return np.random.Generator(np.random.MT19937([seed, index]))


def _kws(rng: np.random.Generator) -> bytes:
    frames = 49
    energy = np.cumsum(rng.normal(0, 25, frames))
    energy += rng.uniform(-60, 60) - energy.mean()
    coeffs = rng.normal(85, 3, (frames, 9)) + rng.normal(0, 2, (1, 9)) * rng.uniform(0, 6)
    start, length = rng.integers(0, 35), rng.integers(8, 25)
    coeffs[start : start + length] += rng.normal(0, rng.uniform(2, 15), (1, 9))
    energy[start : start + length] += rng.uniform(20, 120)
    frame = np.concatenate([energy[:, None], coeffs], axis=1)
    return np.clip(np.round(frame), -128, 127).astype(np.int8).tobytes()


def _image(rng: np.random.Generator, side: int) -> bytes:
    cells = int(rng.integers(2, 8))
    coarse = rng.uniform(0, 255, (cells, cells, 3))
    index = np.round(np.linspace(0, cells - 1, side)).astype(int)
    image = coarse[index][:, index] + rng.normal(0, rng.uniform(2, 30), (side, side, 3))
    return np.clip(image, 0, 255).astype(np.uint8).tobytes()


def _spectrogram(rng: np.random.Generator, frames: int, anomalous: bool) -> bytes:
    noise = np.empty((frames, AD_MEL_BINS))
    noise[0] = rng.normal(0, 3.5, AD_MEL_BINS)
    for t in range(1, frames):  # strongly correlated in time, as machine sounds are
        noise[t] = 0.93 * noise[t - 1] + rng.normal(0, 3.5 * np.sqrt(1 - 0.93**2), AD_MEL_BINS)
    spec = _AD_PROFILE_DB + rng.normal(0, 1.0) + noise
    if anomalous:
        for line in rng.choice(AD_MEL_BINS, size=int(rng.integers(2, 5)), replace=False):
            spec[:, line] += rng.uniform(4, 12)
        spec += rng.uniform(0, 3)
    return spec.astype("<f4").tobytes()


def stimulus(benchmark: Benchmark, seed: int, index: int, ad_frames: int = AD_FILE_FRAMES) -> tuple[bytes, int | None]:
    """One synthetic stimulus file and, for ad01, its label by construction (else None)."""
    rng = _rng(seed, index)
    if benchmark.id == "kws01":
        return _kws(rng), None
    if benchmark.id == "vww01":
        return _image(rng, 96), None
    if benchmark.id in ("ic01", "ic02"):
        return _image(rng, 32), None
    if benchmark.id == "ad01":
        anomalous = index % 2 == 1
        return _spectrogram(rng, ad_frames, anomalous), int(anomalous)
    raise ValueError(f"no synthetic stimuli for {benchmark.id}")


def performance_stimuli(benchmark: Benchmark, seed: int = 0, count: int = 5) -> list[tuple[str, bytes]]:
    """The stimuli of a performance run without a dataset (ad01: window 0 of each file)."""
    out = []
    for i in range(count):
        data, _ = stimulus(benchmark, seed, i, ad_frames=AD_WINDOW_BYTES // (4 * AD_MEL_BINS))
        out.append((f"synthetic-{i:03d}", data[: benchmark.input_bytes]))
    return out


def write_dataset(
    benchmark: Benchmark, out_dir: Path, count: int, model_path: Path, seed: int = 0, ad_frames: int = AD_FILE_FRAMES
) -> Path:
    """Write `count` stimuli, y_labels.csv and dataset.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with TflmWorker(model_path) as worker:
        for i in range(count):
            data, label = stimulus(benchmark, seed, i, ad_frames)
            name = f"synth_{benchmark.id}_{i:05d}.bin"
            (out_dir / name).write_bytes(data)
            if benchmark.id == "ad01":
                rows.append(f"{name},2,{label},{AD_WINDOW_BYTES},{AD_STRIDE_BYTES}")
            else:
                tensor, _ = model_input(benchmark.id, data, worker.input_quant)
                rows.append(f"{name},{benchmark.output_size},{int(np.argmax(worker.run(tensor)))}")
    (out_dir / LABELS_FILE).write_text("\n".join(rows) + "\n")
    meta = {
        "synthetic": True,
        "benchmark": benchmark.id,
        "count": count,
        "seed": seed,
        "labels": LABELS_BY_CONSTRUCTION if benchmark.id == "ad01" else LABELS_BY_MODEL,
        "model": model_path.name,
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir
