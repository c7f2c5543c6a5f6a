"""What the reference firmware does to bytes in and numbers out (tiny_protocol.md §3.6-3.7).

Used by the virtual DUT (so it behaves like the reference ports) and by the host's golden
check (so the host can predict, digit for digit, what a faithful DUT prints). Arithmetic is
done in float32 where the C code uses float, in the same order: the arithmetic the benchmarks'
own conversions and result formats (benchmarks/) are built from.
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


def dequantize(output: np.ndarray, quant: Quantization) -> np.ndarray:
    """DequantizeInt8ToFloat: (q - zp) * scale in float32."""
    return (output.astype(np.float32) - np.float32(quant.zero_point)) * np.float32(quant.scale)


def mean_squared_error(reconstruction: np.ndarray, floats: np.ndarray) -> np.float32:
    """ad01's calculate_result(): float32 sum of squares, accumulated in order, divided by n."""
    diff = reconstruction.astype(np.float32) - floats.astype(np.float32)
    squares = (diff * diff).astype(np.float32)
    total = np.cumsum(squares, dtype=np.float32)[-1]
    return np.float32(total / np.float32(len(floats)))
