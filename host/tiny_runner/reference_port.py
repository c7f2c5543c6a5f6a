"""What the reference firmware does to bytes in and numbers out (tiny_protocol.md §3.6-3.7).

Used by the virtual DUT (so it behaves like the reference ports) and by the host's golden
check (so the host can predict, digit for digit, what a faithful DUT prints). Arithmetic is
done in float32 where the C code uses float, in the same order. Each benchmark's own conversion
and result format live in its module (benchmarks/); `model_input` and `results_line` find them by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quantization:
    scale: float
    zero_point: int


def round_half_away(x: np.ndarray) -> np.ndarray:
    """C round(): halves go away from zero (numpy's round goes to even)."""
    whole = np.trunc(x)
    frac = x - whole  # exact for binary floats
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(x), 0.0)


def quantize_float_input(raw: bytes, quant: Quantization) -> tuple[np.ndarray, np.ndarray]:
    """Float input (ad01): bytes as little-endian float32, quantised as QuantizeFloatToInt8 does.
    Returns (int8 tensor data, the float copy kept for the MSE)."""
    floats = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    scaled = floats / np.float32(quant.scale)  # float / float in C: float32
    q = round_half_away(scaled.astype(np.float64)) + quant.zero_point
    return np.clip(q, -128, 127).astype(np.int8), floats


def model_input(benchmark_id: str, raw: bytes, input_quant: Quantization) -> tuple[np.ndarray, np.ndarray | None]:
    """The int8 input tensor th_load_tensor() builds from the downloaded bytes, plus the float
    input where the port keeps one (None for the classifiers): the benchmark's own conversion."""
    return _benchmark(benchmark_id).convert_input(raw, input_quant)


def dequantize(output: np.ndarray, quant: Quantization) -> np.ndarray:
    """DequantizeInt8ToFloat: (q - zp) * scale in float32."""
    return (output.astype(np.float32) - np.float32(quant.zero_point)) * np.float32(quant.scale)


def mean_squared_error(reconstruction: np.ndarray, floats: np.ndarray) -> np.float32:
    """ad01's calculate_result(): float32 sum of squares, accumulated in order, divided by n."""
    diff = reconstruction.astype(np.float32) - floats.astype(np.float32)
    squares = (diff * diff).astype(np.float32)
    total = np.cumsum(squares, dtype=np.float32)[-1]
    return np.float32(total / np.float32(len(floats)))


def results_line(
    benchmark_id: str, output: np.ndarray, output_quant: Quantization, input_floats: np.ndarray | None = None
) -> str:
    """The exact `m-results-[...]` line the reference port prints for this output tensor."""
    return _benchmark(benchmark_id).results_line(output, output_quant, input_floats)


def _benchmark(benchmark_id: str):
    from .benchmarks import find_benchmark  # the benchmarks build on this module's arithmetic

    benchmark = find_benchmark(benchmark_id)
    if benchmark is None:
        raise ValueError(f"no reference input conversion for {benchmark_id}")
    return benchmark
