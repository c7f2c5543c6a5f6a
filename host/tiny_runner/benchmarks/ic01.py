"""Image classification (ResNet, CIFAR-10): 32x32 RGB in, 10 class scores out."""

from __future__ import annotations

from . import images
from .base import Benchmark
from .scoring import Classification

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

BENCHMARK = Benchmark(
    id="ic01",
    short="ic",
    task="image classification (ResNet, CIFAR-10)",
    classes=CIFAR10_CLASSES,
    quality_target="Top-1 >= 85 %",
    scoring=Classification(),
    model_file="ic01/pretrainedResnet_quant.tflite",
    model_size=98_496,
    model_sha256="3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
    input_elements=3_072,
    output_elements=10,
    output_size=10,
    convert=images.convert,
    stimulus=images.stimulus_of_side(32),
    demo_files=40,
    listed=3,
)
