"""Streaming wake word (sww01, MLPerf Tiny v1.3): the interface board plays a WAV file into the DUT
over I2S; the DUT runs the model on every 512-sample frame and pulses WW_DETECTED on a detection.
One stream gives accuracy (detections against the truth file), throughput (the duty cycle) and,
in energy mode, the energy of the whole stream (../docs/sww01.md in the shared material)."""

from __future__ import annotations

from ..base import Benchmark
from .report import StreamScoring

BENCHMARK = Benchmark(
    id="sww01",
    short="sww",
    task="streaming wake word (DS-CNN on log-mel frames)",
    classes=("marvin", "silence", "other"),
    quality_target="<= 8 false positives and <= 8 false negatives of 50 (the long test stream)",
    scoring=StreamScoring(),
    model_file="sww01/str_ww_ref_model.tflite",
    model_size=74_520,
    model_sha256="3af8550895ba7d5c584277102b5075c52dcfa63ba9d2b2240f37c4e6abd5dd2b",
    input_elements=1200,
    output_elements=3,
    output_size=3,
    procedures=("energy", "performance"),
    streaming=True,
    aliases=("streaming_wakeword",),
    listed=6,
)
