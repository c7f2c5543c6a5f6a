"""Keyword spotting (DS-CNN): 49x10 int8 MFCC frames in, 12 class scores out
(tiny_protocol.md §3.6-3.7 and the reference README)."""

from __future__ import annotations

import numpy as np

from .base import Benchmark
from .scoring import Classification

CLASSES = ("Down", "Go", "Left", "No", "Off", "On", "Right", "Stop", "Up", "Yes", "Silence", "Unknown")


def convert(raw: bytes, input_quant) -> tuple[np.ndarray, None]:
    """The port copies the int8 MFCC bytes as they are."""
    return np.frombuffer(raw, dtype=np.int8).copy(), None


def _digits(value: np.float32) -> str:
    """KWS prints 0.<d><d><d> from truncated integer arithmetic (no float printf)."""
    tenths = int(np.float32(value * np.float32(10)))
    hundredths = int(np.float32(value * np.float32(100))) % 10
    thousandths = int(np.float32(value * np.float32(1000))) % 10
    return f"0.{tenths}{hundredths}{thousandths}"


def format_results(values: np.ndarray, input_floats) -> str:
    return ",".join(_digits(v) for v in values)


def stimulus(rng: np.random.Generator, index: int, frames: int) -> tuple[bytes, None]:
    """49x10 MFCC-like frames: a noise floor plus a louder "word" segment."""
    count = 49  # always one whole input
    energy = np.cumsum(rng.normal(0, 25, count))
    energy += rng.uniform(-60, 60) - energy.mean()
    coeffs = rng.normal(85, 3, (count, 9)) + rng.normal(0, 2, (1, 9)) * rng.uniform(0, 6)
    start, length = rng.integers(0, 35), rng.integers(8, 25)
    coeffs[start : start + length] += rng.normal(0, rng.uniform(2, 15), (1, 9))
    energy[start : start + length] += rng.uniform(20, 120)
    frame = np.concatenate([energy[:, None], coeffs], axis=1)
    return np.clip(np.round(frame), -128, 127).astype(np.int8).tobytes(), None


BENCHMARK = Benchmark(
    id="kws01",
    short="kws",
    task="keyword spotting (DS-CNN)",
    classes=CLASSES,
    quality_target="Top-1 >= 90 %",
    scoring=Classification(),
    model_file="kws01/kws_ref_model.tflite",
    model_size=53_936,
    model_sha256="aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
    input_elements=490,
    output_elements=12,
    output_size=12,
    convert=convert,
    format_results=format_results,
    stimulus=stimulus,
    demo_files=60,
    listed=1,
)
