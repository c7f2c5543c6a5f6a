"""What a benchmark declares about itself, once, so that the runner can measure it without
knowing it: its model id and names, its reference model, what one input is and how the
reference firmware turns it into the model's input tensor, how it prints results, how its
dataset files are laid out, how synthetic stimuli are made, how it is scored and reported, and
which mode procedures measure it (looked up by name in modes/).

A benchmark module (`kws01.py`, ..., or a module of another distribution) holds a
`BENCHMARK = Benchmark(...)` and registers it as an entry point in the group
`tiny_runner.benchmarks`, e.g. in pyproject.toml:

    [project.entry-points."tiny_runner.benchmarks"]
    toy01 = "toy_benchmark:BENCHMARK"

The parts a benchmark without downloaded inputs leaves out are optional. A streaming benchmark
(the interface board plays a WAV into the DUT; detections and duty cycle instead of per-input
results) declares `streaming=True` with the modes it runs in (energy, as the official runner
measures it, and performance: a bring-up run without a monitor), no `convert`, `stimulus` or
`windows`, and a `scoring` of its own; the streaming procedure measures it in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .reference_port import Quantization, dequantize
from .scoring import Scoring

ENTRY_POINT_GROUP = "tiny_runner.benchmarks"
DOWNLOADED_INPUT_PROCEDURES = ("performance", "accuracy", "energy")

# (downloaded bytes, the model's input quantisation) -> (int8 input tensor, float copy or None)
Conversion = Callable[[bytes, Quantization], tuple[np.ndarray, "np.ndarray | None"]]
# (dequantised output values, the float input or None) -> the text inside m-results-[...]
ResultsFormat = Callable[[np.ndarray, "np.ndarray | None"], str]
# (random generator, stimulus index, frames per file) -> (file bytes, label by construction or None)
Stimulus = Callable[[np.random.Generator, int, int], tuple[bytes, "int | None"]]


@dataclass(frozen=True)
class ReferenceModel:
    benchmark_id: str
    relative_path: str  # inside a model folder laid out like the MLPerf Tiny reference data
    size: int
    sha256: str


@dataclass(frozen=True)
class Windows:
    """Dataset files hold many inputs: one window every stride (y_labels.csv gives both)."""

    window_bytes: int
    stride_bytes: int

    @property
    def frames(self) -> int:
        """Strides per window: a file of this many frames holds exactly one window."""
        return self.window_bytes // self.stride_bytes


def plain_results(values: np.ndarray, input_floats: np.ndarray | None) -> str:
    """How most reference ports print results: every value with 3 decimals, comma-separated."""
    return ",".join(f"{float(v):0.3f}" for v in values)


@dataclass(frozen=True)
class Benchmark:
    id: str  # the model id the DUT reports in m-model-[...]
    short: str  # the name results trees and the command line use (kws, vww, ic, ic2, ad)
    task: str
    classes: tuple[str, ...]  # label classes by index (what y_labels.csv's class field counts)
    quality_target: str
    scoring: Scoring  # its metrics, and the lines results.txt and the summary print
    model_file: str | None  # the reference model, relative to a model folder; None: --model FILE only
    model_size: int = 0
    model_sha256: str = ""
    input_elements: int = 0  # the model's input tensor
    output_elements: int = 0  # the model's output tensor
    output_size: int = 0  # values in m-results-[...]
    input_element_bytes: int = 1  # bytes downloaded per input element; 4: float input the firmware quantises
    max_db_input: int | None = None  # the reference port's MAX_DB_INPUT_SIZE (None: one input)
    convert: Conversion | None = None  # None: the benchmark downloads no inputs
    format_results: ResultsFormat = plain_results
    stimulus: Stimulus | None = None
    windows: Windows | None = None  # None: one input per dataset file
    synthetic_frames: int = 0  # frames per synthetic file when the input is windowed
    synthetic_labels: str = ("reference-model top-1: top-1 measures agreement with the reference TFLM run, "
                             "not accuracy")
    boot_lines: tuple[str, ...] = ()  # what its reference port prints at boot before m-init-done
    procedures: tuple[str, ...] = DOWNLOADED_INPUT_PROCEDURES  # mode procedures (modes/) that measure it
    streaming: bool = False  # True: the interface board plays a stream into the DUT in every mode
    aliases: tuple[str, ...] = ()  # other names the command line takes
    demo_files: int = 0  # files in `tiny-runner demo`'s synthetic set; 0: not in the demo
    listed: int = 1000  # place in listings: the MLPerf Tiny suite's own order, plug-ins after it

    # -- inputs -----------------------------------------------------------------------------------
    @property
    def input_bytes(self) -> int:
        """Bytes downloaded per inference (ad01: one 2560-byte window)."""
        return self.input_elements * self.input_element_bytes

    @property
    def db_capacity(self) -> int:
        return self.max_db_input or self.input_bytes

    @property
    def reference_model(self) -> ReferenceModel | None:
        if self.model_file is None:
            return None
        return ReferenceModel(self.id, self.model_file, self.model_size, self.model_sha256)

    def convert_input(self, raw: bytes, input_quant: Quantization) -> tuple[np.ndarray, np.ndarray | None]:
        """The int8 input tensor the reference port's th_load_tensor() builds from the downloaded
        bytes, plus the float input where the port keeps one (ad01, for its MSE)."""
        if self.convert is None:
            raise ValueError(f"{self.id} downloads no inputs")
        return self.convert(raw, input_quant)

    def results_line(self, output: np.ndarray, output_quant: Quantization,
                     input_floats: np.ndarray | None = None) -> str:
        """The exact `m-results-[...]` line the reference port prints for this output tensor."""
        return f"m-results-[{self.format_results(dequantize(output, output_quant), input_floats)}]"

    def synthetic_file(self, rng: np.random.Generator, index: int,
                       frames: int | None = None) -> tuple[bytes, int | None]:
        """A synthetic dataset file and its label by construction (None: the reference model labels it)."""
        if self.stimulus is None:
            raise ValueError(f"no synthetic stimuli for {self.id}")
        return self.stimulus(rng, index, frames or self.synthetic_frames)

    def synthetic_input(self, rng: np.random.Generator, index: int) -> bytes:
        """One input (a performance run's stimulus): a file just long enough, cut to one input."""
        data, _ = self.synthetic_file(rng, index, self.windows.frames if self.windows else None)
        return data[: self.input_bytes]

    # -- scoring and reporting ----------------------------------------------------------------------
    @property
    def metric(self) -> str:
        return self.scoring.metric

    def supports(self, procedure: str) -> bool:
        return procedure in self.procedures

    def file_score(self, values: list[list[float]]):
        return self.scoring.file_score(values)

    def output_row(self, file: str, label: int, score, inputs: int) -> list:
        return self.scoring.output_row(file, label, score, inputs)

    def metrics(self, labels: list[int], scores: list) -> dict:
        return self.scoring.metrics(labels, scores)

    def figure_name(self, synthetic: bool) -> str:
        return self.scoring.figure_name(synthetic)

    def synthetic_violation(self) -> str:
        return self.scoring.synthetic_violation(self)

    def result_lines(self, results: dict, prefix: str, scored: bool) -> list[str]:
        """results.txt's accuracy lines."""
        return self.scoring.result_lines(results, prefix, scored)

    def summary_lines(self, results: dict) -> list[str]:
        return self.scoring.summary_lines(results)

    def quality_text(self, results: dict) -> str:
        """One phrase for an accuracy run on a synthetic set (the demo's table)."""
        return self.scoring.quality_text(results)
