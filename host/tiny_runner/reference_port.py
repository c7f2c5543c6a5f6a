"""What the reference firmware does to bytes in and numbers out (tiny_protocol.md §3.6-3.7).

Used by the virtual DUT (so it behaves like the reference ports) and by the host's golden
check (so the host can predict, digit for digit, what a faithful DUT prints). Arithmetic is
done in float32 where the C code uses float, in the same order.
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
    """ad01: bytes as little-endian float32, quantised as QuantizeFloatToInt8 does.
    Returns (int8 tensor data, the float copy kept for the MSE)."""
    floats = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    scaled = floats / np.float32(quant.scale)  # float / float in C: float32
    q = round_half_away(scaled.astype(np.float64)) + quant.zero_point
    return np.clip(q, -128, 127).astype(np.int8), floats


def model_input(benchmark_id: str, raw: bytes, input_quant: Quantization) -> tuple[np.ndarray, np.ndarray | None]:
    """The int8 input tensor th_load_tensor() builds from the downloaded bytes, plus the float
    input for ad01 (None for the classifiers)."""
    if benchmark_id == "kws01":
        return np.frombuffer(raw, dtype=np.int8).copy(), None
    if benchmark_id in ("vww01", "ic01", "ic02"):
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8), None
    if benchmark_id == "ad01":
        return quantize_float_input(raw, input_quant)
    raise ValueError(f"no reference input conversion for {benchmark_id}")


def dequantize(output: np.ndarray, quant: Quantization) -> np.ndarray:
    """DequantizeInt8ToFloat: (q - zp) * scale in float32."""
    return (output.astype(np.float32) - np.float32(quant.zero_point)) * np.float32(quant.scale)


def mean_squared_error(reconstruction: np.ndarray, floats: np.ndarray) -> np.float32:
    """ad01's calculate_result(): float32 sum of squares, accumulated in order, divided by n."""
    diff = reconstruction.astype(np.float32) - floats.astype(np.float32)
    squares = (diff * diff).astype(np.float32)
    total = np.cumsum(squares, dtype=np.float32)[-1]
    return np.float32(total / np.float32(len(floats)))


def _kws_digits(value: np.float32) -> str:
    """KWS prints 0.<d><d><d> from truncated integer arithmetic (no float printf)."""
    tenths = int(np.float32(value * np.float32(10)))
    hundredths = int(np.float32(value * np.float32(100))) % 10
    thousandths = int(np.float32(value * np.float32(1000))) % 10
    return f"0.{tenths}{hundredths}{thousandths}"


def results_line(
    benchmark_id: str, output: np.ndarray, output_quant: Quantization, input_floats: np.ndarray | None = None
) -> str:
    """The exact `m-results-[...]` line the reference port prints for this output tensor."""
    if benchmark_id == "ad01":
        mse = mean_squared_error(dequantize(output, output_quant), input_floats)
        return f"m-results-[{float(mse):0.3f}]"
    values = dequantize(output, output_quant)
    if benchmark_id == "kws01":
        body = ",".join(_kws_digits(v) for v in values)
    elif benchmark_id == "vww01":
        body = "".join(f"{float(v):0.3f}," for v in values)  # the reference loop's trailing comma
    else:
        body = ",".join(f"{float(v):0.3f}" for v in values)
    return f"m-results-[{body}]"
