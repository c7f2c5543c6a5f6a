"""sww01's synthetic long stream: deterministic, in the official truth format (marked synthetic),
its windows where the clip was mixed in, and found by the reference model as the DUT runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from conftest import assert_one_line_error
from tiny_runner.benchmarks.sww01 import synth
from tiny_runner.benchmarks.sww01.scoring import score_detections
from tiny_runner.benchmarks.sww01.truth import TruthError, check_wav, load_truth, wav_path

RATE = 16_000


@pytest.fixture(scope="module")
def sources(reference):
    return synth.load_sources(reference / "sww01")


@pytest.fixture(scope="module")
def stream60(reference, tmp_path_factory):
    """60 s with 4 occurrences, written once for the tests that only read it."""
    return synth.write_stream(tmp_path_factory.mktemp("sww60"), reference / "sww01", 60, 4, seed=0)


def wav_frames(path):
    with wave.open(str(path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, wav.getnchannels())
    return frames


def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_stream(reference, tmp_path):
    folder = reference / "sww01"
    first = synth.write_stream(tmp_path / "a", folder, 20, 2, seed=5)
    again = synth.write_stream(tmp_path / "b", folder, 20, 2, seed=5)
    other = synth.write_stream(tmp_path / "c", folder, 20, 2, seed=6)
    assert [p.name for p in first] == ["synth_stream_20s.wav", "sww_synth_test.json"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert first[0].read_bytes() != other[0].read_bytes()
    assert load_truth(first[1])[0].windows != load_truth(other[1])[0].windows


def test_the_truth_file_is_the_official_format_marked_synthetic(stream60):
    wav, truth = stream60
    entry, = json.loads(truth.read_text())
    assert set(entry) == {"wav_file", "sample_rate", "length_sec", "detection_windows", "synthetic"}
    stream, = load_truth(truth)
    assert (stream.wav_file, stream.sample_rate, stream.length_s, stream.occurrences) == (wav.name, RATE, 60.0, 4)
    assert "seed 0" in stream.synthetic and "marvin_617de221_0.wav" in stream.synthetic
    check_wav(wav_path(truth.parent, stream), stream)
    frames = wav_frames(wav)
    assert frames.shape == (60 * RATE, 2) and np.array_equal(frames[:, 0], frames[:, 1])


def test_a_synthetic_key_that_is_not_a_sentence_is_refused(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"wav_file": "a.wav", "sample_rate": 16000, "length_sec": 10,
                                 "detection_windows": [], "synthetic": True}]))
    with pytest.raises(TruthError, match="synthetic must be a sentence saying how the stream was made, got True"):
        load_truth(path)
    path.write_text(json.dumps([{"wav_file": "a.wav", "length_sec": 10, "detection_windows": []}]))
    assert load_truth(path)[0].synthetic is None


def test_the_word_window_comes_from_the_clips_energy_envelope(sources):
    start, stop = sources.word
    assert (start / RATE, stop / RATE) == (0.37, 0.89)
    frame = RATE // 100
    level = 10 * np.log10((sources.clip[: len(sources.clip) // frame * frame].reshape(-1, frame) ** 2).mean(1))
    threshold = np.percentile(level, synth.FLOOR_PERCENTILE) + synth.WORD_ABOVE_FLOOR_DB
    inside = level[start // frame: stop // frame]
    assert inside.min() >= threshold and level[start // frame - 1] < threshold and level[stop // frame] < threshold
    assert np.argmax(level) in range(start // frame, stop // frame)


def test_each_window_lies_where_the_clip_was_mixed_in(stream60, sources):
    wav, truth = stream60
    stream, = load_truth(truth)
    added = wav_frames(wav)[:, 0].astype(np.float64) - synth.render(sources, [], 0, 60 * RATE)
    mixed = np.flatnonzero(np.abs(added) > 0.5)  # what the occurrences added to the background
    runs = np.split(mixed, np.flatnonzero(np.diff(mixed) > RATE // 10) + 1)
    assert len(runs) == stream.occurrences
    word_start, word_stop = sources.word
    for (start, stop), run in zip(stream.windows, runs):
        clip_start = round(start * RATE) - word_start
        assert round(stop * RATE) - clip_start == word_stop
        assert clip_start <= run[0] and run[-1] < clip_start + len(sources.clip)
        loudest = run[0] + int(np.argmax(np.abs(added[run[0]:run[-1] + 1])))
        assert start * RATE <= loudest < stop * RATE
    starts, stops = np.array(stream.windows).T
    assert starts[0] >= synth.LEAD_S and stops[-1] <= 60 - synth.TAIL_S - synth.MIN_GAP_S
    assert np.all(starts[1:] - stops[:-1] >= synth.MIN_GAP_S)


def test_the_background_loop_joins_without_clicks(reference, sources):
    short = synth.read_mono(reference / "sww01" / "short_wav_easy10s.wav")
    loop = sources.background
    steps = np.abs(np.diff(np.concatenate([loop, loop[:1]])))  # its wrap-around join included
    assert steps.max() <= np.abs(np.diff(short)).max()
    assert 7 * RATE < len(loop) < 10 * RATE


DETECT = """
import json, sys, wave
import numpy as np
from pathlib import Path
from tiny_runner.benchmarks.sww01.features import DETECT_THRESHOLD, STRIDE, FeatureStream, left_channel
from tiny_runner.model.tflm import TflmModel
model = TflmModel(Path(sys.argv[1]))
stream = FeatureStream(model.input_quant.scale)
outputs = []
with wave.open(sys.argv[2]) as wav:
    while len(data := wav.readframes(STRIDE)) == STRIDE * 2 * wav.getnchannels():
        samples = left_channel(np.frombuffer(data, np.int16), wav.getnchannels())
        outputs.append(int(model.run(stream.push(samples).reshape(-1))[0]))
print(json.dumps(outputs))
"""


def test_the_reference_model_finds_every_occurrence_and_nothing_else(reference, stream60):
    """As the DUT runs it: a detection at the end of each frame whose output[0] > 115, and the first
    frame's sync detection. Every occurrence is found, under both window rules, with no false
    positive: the clip stands some 30 dB above the background."""
    wav, truth = stream60
    model = reference / "sww01" / "str_ww_ref_model.tflite"
    result = subprocess.run([sys.executable, "-c", DETECT, str(model), str(wav)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # the interpreter in its own process: it can abort
    outputs = np.array(json.loads(result.stdout))
    assert len(outputs) == 60 * RATE // 512
    frame_ms = 32
    detections = [frame_ms] + [int((i + 1) * frame_ms) for i in np.flatnonzero(outputs > 115)]
    stream, = load_truth(truth)
    for rule in ("code", "readme"):
        score = score_detections(detections, list(stream.windows), rule)
        assert (len(score.true_positives), score.false_negatives, score.false_positives) == (4, [], []), rule


def test_the_cli_writes_a_stream_and_checks_it(cli, tmp_path):
    out = tmp_path / "stream"
    written = cli("dataset", "synth", "-b", "sww", "--out", str(out), "--length", "12", "--occurrences", "1",
                  "--seed", "2")
    assert written.code == 0, written.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sww_synth_test.json", "synth_stream_12s.wav"]
    checked = cli("dataset", "check", "-b", "sww", str(out))
    assert checked.code == 0, checked.stderr
    assert "12 s, 1 occurrences, matches sww_synth_test.json (synthetic)" in checked.stdout
    (out / "synth_stream_12s.wav").unlink()
    assert_one_line_error(cli("dataset", "check", "-b", "sww", str(out)), 12, "synth_stream_12s.wav is not in")


@pytest.mark.parametrize("options, message", [
    (["-b", "sww", "--length", "9"], "length 9 s: a synthetic stream is 10 to 7200 s long"),
    (["-b", "sww", "--length", "60", "--occurrences", "15"], "15 occurrences do not fit in 60 s: 0 to 14 do"),
    (["-b", "sww", "--occurrences", "-1"], "-1 occurrences do not fit in 1200 s"),
    (["-b", "sww", "--count", "3"], "--count does not apply to sww01, a stream"),
    (["-b", "kws", "--occurrences", "3"], "--occurrences does not apply to kws01"),
])
def test_bad_stream_options_are_a_one_line_usage_error(cli, tmp_path, options, message):
    out = tmp_path / "out"
    assert_one_line_error(cli("dataset", "synth", "--out", str(out), *options), 2, message)
    assert not out.exists()


def test_the_sources_come_from_the_reference_data_folder(cli, tmp_path):
    out = tmp_path / "out"
    missing = cli("dataset", "synth", "-b", "sww", "--out", str(out), "--model-dir", str(tmp_path))
    assert_one_line_error(missing, 12, f"{tmp_path / 'sww01'}: sww_short_test.json and marvin_617de221_0.wav "
                                       "not found")
    unset = cli("dataset", "synth", "-b", "sww", "--out", str(out), env={"TINY_RUNNER_MODEL_DIR": ""})
    assert_one_line_error(unset, 11, "pass --model-dir DIR or set TINY_RUNNER_MODEL_DIR")
