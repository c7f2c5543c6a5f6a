"""The MLPerf Tiny benchmarks: what each one sends, what it gets back, and how it is scored.

Facts from tiny_protocol.md §3.6-3.7 and §6 and the reference README (label lists, tensor
shapes). The reference firmware's own behaviour (input conversion, result printing) lives in
reference_port.py; this module is the host's view.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class Benchmark:
    id: str  # the model id the DUT reports in m-model-[...]
    short: str  # the name results trees use (kws, vww, ic, ic2, ad)
    task: str
    input_bytes: int  # bytes downloaded per inference (ad01: one 2560-byte window)
    output_size: int  # values in m-results-[...]
    classes: tuple[str, ...]  # class names by index (ad01: normal, anomaly)
    metric: str  # "top1" (classification) or "auc" (anomaly detection)
    quality_target: str

    @property
    def is_classifier(self) -> bool:
        return self.metric == "top1"


KWS_CLASSES = ("Down", "Go", "Left", "No", "Off", "On", "Right", "Stop", "Up", "Yes", "Silence", "Unknown")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

BENCHMARKS: dict[str, Benchmark] = {
    b.id: b
    for b in (
        Benchmark("kws01", "kws", "keyword spotting (DS-CNN)", 490, 12, KWS_CLASSES, "top1", "Top-1 >= 90 %"),
        Benchmark("vww01", "vww", "visual wake words (MobileNet 96x96)", 27648, 2, ("no-person", "person"), "top1",
                  "Top-1 >= 80 %"),
        Benchmark("ic01", "ic", "image classification (ResNet, CIFAR-10)", 3072, 10, CIFAR10_CLASSES, "top1",
                  "Top-1 >= 85 %"),
        Benchmark("ic02", "ic2", "image classification (larger ResNet, CIFAR-10)", 3072, 10, CIFAR10_CLASSES,
                  "top1", "Top-1 >= 91 %"),
        Benchmark("ad01", "ad", "anomaly detection (FC autoencoder, ToyADMOS)", 2560, 1, ("normal", "anomaly"),
                  "auc", "AUC >= 0.85"),
    )
}

# ad01 stimulus files are spectrograms cut into windows (y_labels.csv columns 4 and 5).
AD_WINDOW_BYTES = 2560
AD_STRIDE_BYTES = 512

_ALIASES = {b.short: b.id for b in BENCHMARKS.values()} | {"ic2": "ic02"}


def get_benchmark(name: str) -> Benchmark:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in BENCHMARKS:
        known = ", ".join(f"{b.short}/{b.id}" for b in BENCHMARKS.values())
        raise UsageError(f"unknown benchmark {name!r}; known: {known}")
    return BENCHMARKS[key]
