"""Image classification with the larger ResNet (CIFAR-10): ic01's input and classes."""

from __future__ import annotations

from . import images
from .base import Benchmark
from .ic01 import CIFAR10_CLASSES
from .scoring import Classification

BENCHMARK = Benchmark(
    id="ic02",
    short="ic2",
    task="image classification (larger ResNet, CIFAR-10)",
    classes=CIFAR10_CLASSES,
    quality_target="Top-1 >= 91 %",
    scoring=Classification(),
    model_file="ic02/pretrainedResnet_large_int8.tflite",
    model_size=512_024,
    model_sha256="dc27dcd823f5665533352f7da516b0c9bc6f089914b8283782e55961b3423fcf",
    input_elements=3_072,
    output_elements=10,
    output_size=10,
    convert=images.convert,
    stimulus=images.stimulus_of_side(32),
    listed=4,
)
