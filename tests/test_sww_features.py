"""sww01's reference feature extraction in numpy, checked against the reference firmware's own
tables and, through the reference model in the TFLM interpreter, against the short stream's
truth file."""

from __future__ import annotations

import subprocess
import sys
import wave

import numpy as np
import pytest

from tiny_runner.benchmarks.sww01.features import STRIDE, FeatureStream, left_channel, mel_matrix

# mlcommons/tiny benchmark/reference_submissions/streaming_wakeword/sww_ref_l4r5zi/Core/Src/fixed_data.c
REFERENCE_STARTS = [1, 3, 6, 10, 13, 17, 20, 25, 29, 34, 39, 44, 49, 55, 62, 68, 75, 83, 91, 100,
                    109, 119, 129, 140, 152, 164, 177, 191, 206, 222, 239, 257, 276, 296, 318, 341, 365, 391, 419, 448]
REFERENCE_LENS = [5, 7, 7, 7, 7, 8, 9, 9, 10, 10, 10, 11, 13, 13, 13, 15, 16, 17, 18, 19,
                  20, 21, 23, 24, 25, 27, 29, 31, 33, 35, 37, 39, 42, 45, 47, 50, 54, 57, 60, 64]
REFERENCE_PACKED_HEAD = [0.359173, 0.710586, 0.945429, 0.608567, 0.278538, 0.054571, 0.391433, 0.721462,
                         0.955072, 0.637910, 0.326813, 0.021555, 0.044928, 0.362090, 0.673187, 0.978445]


def test_the_mel_filters_are_the_reference_firmwares():
    matrix = mel_matrix()
    assert matrix.shape == (513, 40)
    starts = [int(np.flatnonzero(matrix[:, i])[0]) for i in range(40)]
    lens = [int(np.count_nonzero(matrix[:, i])) for i in range(40)]
    assert starts == REFERENCE_STARTS and lens == REFERENCE_LENS
    packed = np.concatenate([matrix[s:s + n, i] for i, (s, n) in enumerate(zip(starts, lens))])
    assert len(packed) == 987
    np.testing.assert_allclose(packed[:16], REFERENCE_PACKED_HEAD, atol=2e-6)


def test_a_frame_takes_512_new_samples_and_shifts_the_model_input():
    stream = FeatureStream(0.003701042616739869)
    silence = stream.push(np.zeros(STRIDE, np.int16))
    assert silence.shape == (30, 40) and np.all(silence[:-1] == 0)  # the input starts as zeros
    assert np.all(silence[-1] == -128)  # silence: features of 0
    tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(STRIDE) / 16000)).astype(np.int16)
    after = stream.push(tone)
    np.testing.assert_array_equal(after[-2], silence[-1])  # shifted by one frame
    assert np.argmax(after[-1]) == np.argmax(mel_matrix()[64]) == 13  # 1 kHz (bin 64): the mel band over it
    with pytest.raises(ValueError, match="a frame takes 512 new samples, not 100"):
        stream.push(np.zeros(100, np.int16))


def test_the_left_channel_is_taken():
    assert left_channel(np.array([1, 2, 3, 4, 5, 6]), 2).tolist() == [1, 3, 5]


DETECT = """
import json, sys, wave
import numpy as np
from pathlib import Path
from tiny_runner.benchmarks.sww01.features import DETECT_THRESHOLD, STRIDE, FeatureStream, left_channel
from tiny_runner.model.tflm import TflmModel
folder = Path(sys.argv[1])
model = TflmModel(folder / "str_ww_ref_model.tflite")
with wave.open(str(folder / "short_wav_easy10s.wav")) as wav:
    samples = left_channel(np.frombuffer(wav.readframes(wav.getnframes()), np.int16), wav.getnchannels())
stream = FeatureStream(model.input_quant.scale)
frames = [int(model.run(stream.push(samples[i * STRIDE:(i + 1) * STRIDE]).reshape(-1))[0])
          for i in range(len(samples) // STRIDE)]
print(json.dumps(frames))
"""


def test_the_reference_model_on_the_short_stream_finds_its_occurrences(reference):
    """Each frame's output[0] > 115 is a detection at the end of that frame; the first frame is
    the sync mark. Scored as the runner does: the first two occurrences are found, the third
    (its peak output is 100) is missed, and nothing else fires."""
    import json

    from tiny_runner.benchmarks.sww01.scoring import score_detections
    from tiny_runner.benchmarks.sww01.truth import load_truth

    folder = reference / "sww01"
    result = subprocess.run([sys.executable, "-c", DETECT, str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # the interpreter in its own process: it can abort
    outputs = np.array(json.loads(result.stdout))
    with wave.open(str(folder / "short_wav_easy10s.wav")) as wav:
        assert len(outputs) == wav.getnframes() // STRIDE == 312
    fired = np.flatnonzero(outputs > 115)
    sync_ms, frame_ms = 32, 32
    detections = [sync_ms] + [int((i + 1) * frame_ms) for i in fired]
    stream, = load_truth(folder / "sww_short_test.json")
    score = score_detections(detections, list(stream.windows))
    assert (score.true_positives, score.false_negatives, score.false_positives) == ([1.0, 4.0], [7.0], [])
    assert outputs[int(7.0 / 0.032):int(8.0 / 0.032)].max() == 100
