"""PPK2 wire formats (energy_monitors.md §3.2-3.4).

Commands are one opcode byte plus arguments, without framing or acknowledgement. The sample
stream is little-endian u32 words at 100 kS/s: bits 0-13 ADC code, 14-16 range (clamped to 4),
18-23 a 6-bit counter, 24-31 the logic inputs D0..D7. Current from a word, for range r with
a = code x 4:  x = (a - O[r]) x 1.8 / 163840 / R[r];  I = UG[r] x (x (GS[r] x + GI[r]) + S[r] vdd + I[r]).
The calibration modifiers come from the metadata text the unit sends for opcode 0x19.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GET_METADATA = 0x19
SET_POWER_MODE = 0x11  # 1 ampere meter, 2 source meter
REGULATOR_SET = 0x0D  # + VDD in mV, big-endian u16
DEVICE_RUNNING_SET = 0x0C  # + 1 DUT power on, 0 off
AVERAGE_START = 0x06
AVERAGE_STOP = 0x07
ARGUMENT_BYTES = {SET_POWER_MODE: 1, REGULATOR_SET: 2, DEVICE_RUNNING_SET: 1, 0x25: 5}
SAMPLE_RATE_HZ = 100_000
VOLTAGE_RANGE_MV = (800, 5000)
ADC_VOLTS_PER_CODE = 1.8 / 163840  # per unit of a = code x 4
RANGES = 5

DEFAULT_SHUNTS = (1031.64, 101.65, 10.15, 0.94, 0.043)


@dataclass
class Modifiers:
    r: list[float] = field(default_factory=lambda: list(DEFAULT_SHUNTS))
    gs: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    gi: list[float] = field(default_factory=lambda: [1.0] * RANGES)
    o: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    s: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    i: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    ug: list[float] = field(default_factory=lambda: [1.0] * RANGES)


def parse_metadata(text: str) -> tuple[dict, Modifiers]:
    """`Key: value` lines up to END; calibration keys like R0, GS3, UG4 fill the modifiers (a
    missing, zero or NaN shunt keeps its default, as units with blank calibration need)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line == "END":
            break
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip().lower()] = value.strip()
    modifiers = Modifiers()
    for name in ("r", "gs", "gi", "o", "s", "i", "ug"):
        target = getattr(modifiers, name)
        for rng in range(RANGES):
            raw = values.get(f"{name}{rng}")
            try:
                number = float(raw) if raw is not None else math.nan
            except ValueError:
                number = math.nan
            if math.isnan(number) or (name == "r" and number == 0):
                continue
            target[rng] = number
    return values, modifiers


def format_metadata(modifiers: Modifiers, vdd_mv: int, mode: int, hw: str = "8432") -> str:
    lines = ["Calibrated: 1"]
    for name in ("r", "gs", "gi", "o", "s", "i", "ug"):
        lines += [f"{name.upper()}{rng}: {value:.6g}" for rng, value in enumerate(getattr(modifiers, name))]
    lines += [f"HW: {hw}", f"vdd: {vdd_mv}", f"mode: {mode}", "END"]
    return "\n".join(lines) + "\n"


def split_words(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ADC code, range, counter, logic byte) of each u32 sample word."""
    words = words.astype(np.uint32, copy=False)
    return (words & 0x3FFF, np.minimum((words >> 14) & 0x7, RANGES - 1), (words >> 18) & 0x3F,
            ((words >> 24) & 0xFF).astype(np.uint8))


def current_a(code: np.ndarray, rng: np.ndarray, modifiers: Modifiers, vdd_v: float) -> np.ndarray:
    table = {name: np.asarray(getattr(modifiers, name)) for name in ("r", "gs", "gi", "o", "s", "i", "ug")}
    x = (code * 4.0 - table["o"][rng]) * ADC_VOLTS_PER_CODE / table["r"][rng]
    return table["ug"][rng] * (x * (table["gs"][rng] * x + table["gi"][rng]) + table["s"][rng] * vdd_v
                               + table["i"][rng])


def encode_words(amps: np.ndarray, counters: np.ndarray, logic: np.ndarray, modifiers: Modifiers,
                 vdd_v: float) -> np.ndarray:
    """The emulator's side: for each current the most sensitive range whose code fits 14 bits."""
    amps = np.maximum(np.asarray(amps, dtype=np.float64), 0.0)
    words = np.zeros(len(amps), dtype=np.uint32)
    chosen = np.zeros(len(amps), dtype=bool)
    for rng in range(RANGES):
        gs, gi, ug = modifiers.gs[rng], modifiers.gi[rng], modifiers.ug[rng]
        c = modifiers.s[rng] * vdd_v + modifiers.i[rng] - amps / ug
        x = -c / gi if gs == 0 else (-gi + np.sqrt(np.maximum(gi * gi - 4 * gs * c, 0))) / (2 * gs)
        code = np.round((x * modifiers.r[rng] / ADC_VOLTS_PER_CODE + modifiers.o[rng]) / 4.0)
        fits = ~chosen & (code <= 0x3FFF) & (code >= 0)
        words[fits] = code[fits].astype(np.uint32) | np.uint32(rng << 14)
        chosen |= fits
    words |= (np.asarray(counters, dtype=np.uint32) & 0x3F) << 18
    words |= np.asarray(logic, dtype=np.uint32) << 24
    return words
