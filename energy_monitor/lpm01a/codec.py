"""LPM01A number formats (energy_monitors.md §1.3, §1.6, §1.7).

ASCII samples are `DDDD±EE`: four mantissa digits and a signed two-digit power of ten.
Binary samples are 2 bytes, big-endian: the high nibble n is a negative power of 16 and the
other 12 bits the mantissa, value = mantissa / 16**n; a first nibble of 0xF starts a record.
"""

from __future__ import annotations

import math

import numpy as np

ASCII_SAMPLE_LEN = 7


def format_ascii(value: float) -> str:
    """One ASCII sample; 4 significant digits, rounded to nearest."""
    if value <= 0:
        return "0000+00"
    exponent = math.floor(math.log10(value)) - 3
    mantissa = round(value / 10.0**exponent)
    if mantissa >= 10_000:
        mantissa, exponent = mantissa // 10, exponent + 1
    return f"{mantissa:04d}{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def format_ascii_lines(values: np.ndarray) -> np.ndarray:
    """Many samples at once: an (n, 9) array of bytes, each row `DDDD±EE\\r\\n` (as format_ascii)."""
    values = np.asarray(values, dtype=np.float64)
    positive = values > 0
    safe = np.where(positive, values, 1.0)
    exponent = np.floor(np.log10(safe)).astype(np.int64) - 3
    mantissa = np.round(safe / np.power(10.0, exponent)).astype(np.int64)
    carry = mantissa >= 10_000
    mantissa = np.where(carry, mantissa // 10, mantissa)
    exponent = np.where(carry, exponent + 1, exponent)
    mantissa = np.where(positive, mantissa, 0)
    exponent = np.where(positive, exponent, 0)
    rows = np.empty((len(values), 9), dtype=np.uint8)
    for column, power in enumerate((1000, 100, 10, 1)):
        rows[:, column] = ord("0") + mantissa // power % 10
    rows[:, 4] = np.where(exponent < 0, ord("-"), ord("+"))
    rows[:, 5] = ord("0") + np.abs(exponent) // 10
    rows[:, 6] = ord("0") + np.abs(exponent) % 10
    rows[:, 7], rows[:, 8] = ord("\r"), ord("\n")
    return rows


def parse_ascii_samples(text: bytes) -> np.ndarray:
    """Values of concatenated 7-byte ASCII samples (a lost newline glues them together)."""
    if len(text) % ASCII_SAMPLE_LEN:
        raise ValueError(f"{len(text)} bytes is not a whole number of {ASCII_SAMPLE_LEN}-byte samples")
    fields = np.frombuffer(text, dtype=np.uint8).reshape(-1, ASCII_SAMPLE_LEN).astype(np.int64) - ord("0")
    mantissa = fields[:, 0] * 1000 + fields[:, 1] * 100 + fields[:, 2] * 10 + fields[:, 3]
    exponent = fields[:, 5] * 10 + fields[:, 6]
    sign = np.where(fields[:, 4] == ord("-") - ord("0"), -1, 1)
    bad = (fields[:, :4] < 0) | (fields[:, :4] > 9)
    if bad.any() or not np.isin(fields[:, 4] + ord("0"), (ord("+"), ord("-"))).all():
        raise ValueError(f"not ASCII samples: {text[:21]!r}")
    return mantissa * np.power(10.0, sign * exponent)


def encode_binary(values: np.ndarray) -> bytes:
    """2-byte samples: the largest n <= 14 with round(value * 16**n) <= 4095."""
    values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    words = np.zeros(len(values), dtype=">u2")
    for n in range(14, -1, -1):
        scaled = np.round(values * 16.0**n)
        fits = (scaled <= 4095) & (words == 0) & (values > 0)
        words[fits] = (n << 12) | scaled[fits].astype(np.uint16)
    return words.tobytes()


def decode_binary(data: bytes) -> np.ndarray:
    words = np.frombuffer(data, dtype=">u2").astype(np.int64)
    n = words >> 12
    if (n == 0xF).any():
        raise ValueError("a record marker inside binary sample data")
    return (words & 0x0FFF) / np.power(16.0, n)


def millivolts_argument(mv: int) -> str:
    """The shell's number syntax for a voltage: 1800 mV -> `1800m`."""
    return f"{int(mv)}m"


def frequency_argument(hz: float) -> str:
    hz = int(hz)
    return f"{hz // 1000}k" if hz >= 1000 and hz % 1000 == 0 else str(hz)
