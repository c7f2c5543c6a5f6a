"""Anomaly detection (FC autoencoder, ToyADMOS): float32 log-mel windows in (5 frames of 128
bins, which the port quantises itself), the reconstruction's MSE out, one value.

Dataset files are whole spectrograms cut into windows (y_labels.csv columns 4 and 5). Synthetic
ones are log-mel-like; anomalies carry extra tonal lines and a level shift, so the anomaly label
is true by construction. The reference model tells them apart only roughly (AUC about 0.8 over
20 files; even its normal ones score about twice the MSE of the real normal file), so AUC on
them shows the pipeline working, not the model's quality."""

from __future__ import annotations

import numpy as np

from .base import Benchmark, Windows
from .reference_port import mean_squared_error, quantize_float_input
from .scoring import AnomalyDetection

WINDOW_BYTES = 2560
STRIDE_BYTES = 512  # one frame: the benchmark's rule is one frame per step
MEL_BINS = 128
FILE_FRAMES = 200  # real ad01 files: 200 frames -> 196 windows
_PROFILE_DB = np.interp(np.arange(MEL_BINS), [0, 8, 24, 64, 127], [-47.0, -15.0, -18.0, -30.0, -39.0])


def format_results(reconstruction: np.ndarray, input_floats: np.ndarray) -> str:
    """calculate_result(): the MSE between the reconstruction and the float input."""
    return f"{float(mean_squared_error(reconstruction, input_floats)):0.3f}"


def stimulus(rng: np.random.Generator, index: int, frames: int) -> tuple[bytes, int]:
    """A spectrogram of `frames` frames; every odd-numbered one is an anomaly."""
    anomalous = index % 2 == 1
    noise = np.empty((frames, MEL_BINS))
    noise[0] = rng.normal(0, 3.5, MEL_BINS)
    for t in range(1, frames):  # strongly correlated in time, as machine sounds are
        noise[t] = 0.93 * noise[t - 1] + rng.normal(0, 3.5 * np.sqrt(1 - 0.93**2), MEL_BINS)
    spec = _PROFILE_DB + rng.normal(0, 1.0) + noise
    if anomalous:
        for line in rng.choice(MEL_BINS, size=int(rng.integers(2, 5)), replace=False):
            spec[:, line] += rng.uniform(4, 12)
        spec += rng.uniform(0, 3)
    return spec.astype("<f4").tobytes(), int(anomalous)


BENCHMARK = Benchmark(
    id="ad01",
    short="ad",
    task="anomaly detection (FC autoencoder, ToyADMOS)",
    classes=("normal", "anomaly"),
    quality_target="AUC >= 0.85",
    scoring=AnomalyDetection(),
    model_file="ad01/ad01_int8.tflite",
    model_size=276_976,
    model_sha256="87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
    input_elements=640,
    output_elements=640,
    output_size=1,
    input_element_bytes=4,  # float input windows
    max_db_input=5_120,
    convert=quantize_float_input,
    format_results=format_results,
    stimulus=stimulus,
    windows=Windows(WINDOW_BYTES, STRIDE_BYTES),
    synthetic_frames=FILE_FRAMES,
    synthetic_labels="by construction: anomalies carry tonal lines and a level shift",
    boot_lines=("Initialized",),
    demo_files=16,
    listed=5,
)
