"""The sww01 reference DUT's feature extraction, in numpy: one 40-value log-mel vector per 512 new
samples, shifted into the model's 30 x 40 int8 input (docs: ../shared/docs/sww01.md).

Followed from the reference firmware (mlcommons/tiny benchmark/reference_submissions/
streaming_wakeword, sww_ref_util_submitter.c: th_compute_lfbe_f32 and the frame handler):
the left channel of the stereo stream; a 1024-sample block of which 512 are new each frame (the
block starts as zeros); int16 / 32768; pre-emphasis 0.96875 whose first sample uses the input
that preceded the block (the previous block's sample 511; 0 at the start); a symmetric Hamming
window; |rfft|^2 / 1024 over 513 bins; the 40 HTK mel filters of
tf.signal.linear_to_mel_weight_matrix(40, 513, 16000, 0, 8000); clip below at 1e-30; 10 log10;
+52; /64; clip to [0, 1]; then `(int8_t)(feature / input_scale - 128)`. The model input starts
as zeros and shifts one frame per frame. A feature above 127 + 128 input steps wraps as the C
cast does on a Cortex-M (truncation to 32 bits, then the low byte).

Computed in float32 like the firmware, but with numpy's FFT: agreement with the C firmware to
the last int8 step is not claimed.
"""

from __future__ import annotations

import numpy as np

WINDOW = 1024
STRIDE = 512
MEL_BINS = 40
FRAMES = 30  # the model's input: 30 frames of 40 features
PREEMPHASIS = np.float32(0.96875)
POWER_OFFSET = np.float32(52.0)
DETECT_THRESHOLD = 115  # int8 output[0] above this is a detection


def _hertz_to_mel(hertz):
    return 1127.0 * np.log(1.0 + np.asarray(hertz, np.float64) / 700.0)


def mel_matrix(bins: int = WINDOW // 2 + 1, mel_bins: int = MEL_BINS, sample_rate: int = 16_000,
               low_hz: float = 0.0, high_hz: float = 8_000.0) -> np.ndarray:
    """[bins, mel_bins]: tf.signal.linear_to_mel_weight_matrix (its DC bin zeroed)."""
    linear = np.linspace(0.0, sample_rate / 2, bins)[1:]
    spectrum_mel = _hertz_to_mel(linear)[:, None]
    edges = np.linspace(_hertz_to_mel(low_hz), _hertz_to_mel(high_hz), mel_bins + 2)
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    slopes = np.minimum((spectrum_mel - lower) / (center - lower), (upper - spectrum_mel) / (upper - center))
    return np.vstack([np.zeros((1, mel_bins)), np.maximum(0.0, slopes)]).astype(np.float32)


class FeatureStream:
    """The DUT's state across frames: the sample block, the pre-emphasis carry, the model input."""

    def __init__(self, input_scale: float):
        self.input_scale = np.float32(input_scale)
        self.block = np.zeros(WINDOW, np.float32)
        self.carry = np.float32(0.0)
        self.model_input = np.zeros((FRAMES, MEL_BINS), np.int8)
        self._window = np.hamming(WINDOW).astype(np.float32)
        self._mel = mel_matrix()

    def push(self, new_samples: np.ndarray) -> np.ndarray:
        """512 new int16 samples (one channel) in; the model's whole int8 input after them out."""
        if len(new_samples) != STRIDE:
            raise ValueError(f"a frame takes {STRIDE} new samples, not {len(new_samples)}")
        self.block[:-STRIDE] = self.block[STRIDE:]
        self.block[-STRIDE:] = np.asarray(new_samples, np.int16).astype(np.float32) / np.float32(32768.0)
        features = self.features()
        self.model_input[:-1] = self.model_input[1:]
        steps = np.trunc(features / self.input_scale - np.float32(128)).astype(np.int64)
        self.model_input[-1] = (steps & 0xFF).astype(np.uint8).view(np.int8)  # the C cast's low byte
        return self.model_input.copy()

    def features(self) -> np.ndarray:
        """The 40 log-mel features in [0, 1] of the current block (advancing the carry)."""
        block = self.block
        emphasised = np.empty(WINDOW, np.float32)
        emphasised[0] = block[0] - self.carry * PREEMPHASIS
        emphasised[1:] = block[1:] - PREEMPHASIS * block[:-1]
        self.carry = block[STRIDE - 1]  # one sample before the next block's first
        spectrum = np.fft.rfft(emphasised * self._window)
        power = (np.abs(spectrum) ** 2 / WINDOW).astype(np.float32)
        mel = np.maximum(power @ self._mel, np.float32(1e-30))
        return np.clip((np.float32(10) * np.log10(mel) + POWER_OFFSET) / np.float32(64), 0, 1).astype(np.float32)


def left_channel(frames: np.ndarray, channels: int) -> np.ndarray:
    """The DUT reads every other I2S sample of the stereo stream: the left one."""
    return np.asarray(frames, np.int16).reshape(-1, channels)[:, 0]
