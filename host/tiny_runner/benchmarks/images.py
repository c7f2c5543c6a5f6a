"""The image benchmarks' input (vww01, ic01, ic02): RGB bytes, 0..255, which the reference
ports shift to int8 by subtracting 128; and smooth random images as synthetic stimuli."""

from __future__ import annotations

import numpy as np


def convert(raw: bytes, input_quant) -> tuple[np.ndarray, None]:
    return (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8), None


def stimulus_of_side(side: int):
    """Synthetic square images `side` pixels wide: coarse random cells plus noise."""

    def stimulus(rng: np.random.Generator, index: int, frames: int) -> tuple[bytes, None]:
        cells = int(rng.integers(2, 8))
        coarse = rng.uniform(0, 255, (cells, cells, 3))
        pick = np.round(np.linspace(0, cells - 1, side)).astype(int)
        image = coarse[pick][:, pick] + rng.normal(0, rng.uniform(2, 30), (side, side, 3))
        return np.clip(image, 0, 255).astype(np.uint8).tobytes(), None

    return stimulus
