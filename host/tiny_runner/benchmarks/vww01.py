"""Visual wake words (MobileNet, 96x96 RGB): is there a person? Two scores out."""

from __future__ import annotations

from . import images
from .base import Benchmark
from .scoring import Classification


def format_results(values, input_floats) -> str:
    return "".join(f"{float(v):0.3f}," for v in values)  # the reference loop's trailing comma


BENCHMARK = Benchmark(
    id="vww01",
    short="vww",
    task="visual wake words (MobileNet 96x96)",
    classes=("no-person", "person"),
    quality_target="Top-1 >= 80 %",
    scoring=Classification(),
    model_file="vww01/vww_96_int8.tflite",
    model_size=333_288,
    model_sha256="597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b",
    input_elements=27_648,
    output_elements=2,
    output_size=2,
    convert=images.convert,
    format_results=format_results,
    stimulus=images.stimulus_of_side(96),
    demo_files=12,
    listed=2,
)
