"""The toy benchmark: the kws01 reference model under an id of its own, fed raw bytes. Each
input is 490 unsigned bytes which its port centres on zero (byte - 128, not kws01's bytes as
int8), and it is scored by its own metric: the share of files whose top class is the label."""

from __future__ import annotations

import numpy as np

from tiny_runner.benchmarks import Benchmark
from tiny_runner.benchmarks.scoring import Scoring

INPUT_BYTES = 490
CLASSES = tuple(f"sound{i}" for i in range(12))


def convert(raw: bytes, input_quant) -> tuple[np.ndarray, None]:
    return (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8), None


def stimulus(rng: np.random.Generator, index: int, frames: int) -> tuple[bytes, None]:
    return rng.integers(0, 256, INPUT_BYTES, dtype=np.uint8).tobytes(), None


class TopClassAgreement(Scoring):
    metric = "agreement"

    def file_score(self, values):
        return values[0]

    def output_row(self, file, label, score, inputs):
        return [file, label, int(np.argmax(score))]

    def metrics(self, labels, scores):
        hits = [int(np.argmax(s)) == label for label, s in zip(labels, scores)]
        return {"agreement_pct": 100.0 * sum(hits) / len(hits), "samples": len(hits)}

    def figure_name(self, synthetic):
        return "top-class agreement"

    def synthetic_violation(self, bench):
        return "toy dataset: labels from the reference model"

    def result_lines(self, results, prefix, scored):
        return [f"{prefix} toy agreement {results['agreement_pct']:.1f} % over {results['samples']} files"]

    def summary_lines(self, results):
        return [f"  toy agreement {results['agreement_pct']:.2f} %"]

    def quality_text(self, results):
        return f"agreement {results['agreement_pct']:.1f} %"


BENCHMARK = Benchmark(
    id="toy01",
    short="toy",
    task="toy sound classes from raw bytes (a plug-in from outside tiny-runner)",
    classes=CLASSES,
    quality_target="agreement >= 50 %",
    scoring=TopClassAgreement(),
    model_file="kws01/kws_ref_model.tflite",
    model_size=53_936,
    model_sha256="aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
    input_elements=INPUT_BYTES,
    output_elements=12,
    output_size=12,
    convert=convert,
    stimulus=stimulus,
    synthetic_labels="the reference model's top class",
    procedures=("performance", "accuracy"),
)
