"""sww01: the truth files (untrusted JSON, WAV names kept inside their folder) and the scoring
as the official runner's streaming_ww_utils.py does it, with the window rule explicit."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from tiny_runner.benchmarks.sww01.scoring import duty_cycle, score_detections
from tiny_runner.benchmarks.sww01.truth import TruthError, check_wav, load_truth, wav_path

SHORT = [(1.0, 1.6476250000000001), (4.0, 4.76175), (7.0, 7.358625)]  # sww_short_test.json
SYNC_MS = 5_000  # the DUT's first-frame detection, on the interface board's clock


def detections(*relative_ms):
    return [SYNC_MS] + [SYNC_MS + t for t in relative_ms]


@pytest.mark.parametrize("rule, tp, fn, fp", [
    # 1.2 and 1.3 s: both used up by the first occurrence; 6.5 s is inside the second's window only
    # under the code's rule (stop + 2 s = 6.76 s); 9.9 s is merged into the false positive at 9.5 s
    ("code", [1.0, 4.0], [7.0], [9.5, 11.0]),
    ("readme", [1.0], [4.0, 7.0], [6.5, 9.5, 11.0]),
])
def test_detections_are_scored_as_the_official_runner_does(rule, tp, fn, fp):
    score = score_detections(detections(1200, 1300, 6500, 9500, 9900, 11000), SHORT, rule)
    assert (score.true_positives, score.false_negatives, score.false_positives) == (tp, fn, fp)
    assert score.window_extension_s == {"code": 2.0, "readme": 1.0}[rule]
    assert score.accuracy_line == (f"Accuracy: {len(tp)} True positives, {len(fn)} False negatives, "
                                   f"{len(fp)} False positives")
    assert len(score.true_positives) + len(score.false_negatives) == len(SHORT)


def test_a_detection_on_a_windows_edges_counts_and_one_past_it_does_not():
    assert score_detections(detections(1000), SHORT).true_positives == [1.0]  # at the start
    assert score_detections(detections(3647), SHORT).true_positives == [1.0]  # stop + 2 s, to the ms
    assert score_detections(detections(3648), SHORT).false_positives == [3.648]
    assert score_detections(detections(999), SHORT).false_positives == [0.999]


def test_scoring_needs_the_sync_detection_and_a_known_rule():
    with pytest.raises(ValueError, match="sync detection on its first frame is missing"):
        score_detections([], SHORT)
    with pytest.raises(ValueError, match="detection window rule 'loose': one of code, readme"):
        score_detections(detections(1200), SHORT, "loose")


def test_the_duty_cycle_comes_from_the_processing_pins_ticks():
    starts = [100 + 3200 * i for i in range(100)]  # 32 ms frames in 10 µs ticks
    result = duty_cycle(starts, [s + 1160 for s in starts])  # 11.6 ms of processing each
    assert result.duty_cycle == pytest.approx(0.3625, rel=1e-12)
    assert (result.period_s, result.processing_time_s) == (pytest.approx(0.032), pytest.approx(0.0116))
    assert result.result_lines() == ["Average duty cycle: 0.3625", "Average period: 0.032 s",
                                     "Estimated throughput: 86.207 inf./sec."]
    assert result.warnings == [] and result.start_times_s[1] == pytest.approx(0.033)
    uneven = starts[:50] + [s + 100 for s in starts[50:]]  # one frame of 33 ms: a 3.1 % spread
    warned = duty_cycle(uneven, [s + 1160 for s in uneven])
    assert warned.warnings == ["the frame period varies by 3.1 % (more than 2 %): 32.000 to 33.000 ms"]


@pytest.mark.parametrize("starts, stops, message", [
    ([0, 3200, 6400], [1000, 4200], "3 duty-cycle start times and 2 stop times"),
    (list(range(0, 3200 * 101, 3200)), list(range(1000, 3200 * 101, 3200)), "101 duty-cycle frames; it keeps 100"),
    ([0, 3200], [1000, 4200], "2 duty-cycle frames: at least 3"),
    ([0, 6400, 3200], [1000, 7400, 4200], "do not rise frame by frame"),
    ([0, 3200, 6400], [1000, 3100, 7400], "each stop after its start"),
])
def test_duty_cycle_edges_that_do_not_add_up_are_refused(starts, stops, message):
    with pytest.raises(ValueError, match=message):
        duty_cycle(starts, stops)


def test_the_official_truth_files_load(reference):
    folder = reference / "sww01"
    short, = load_truth(folder / "sww_short_test.json")
    assert (short.wav_file, short.length_s, short.windows) == ("short_wav_easy10s.wav", 10.0, tuple(SHORT))
    assert short.play_timeout_s == 20.0
    check_wav(wav_path(folder, short), short)
    assert [s.occurrences for s in load_truth(folder / "sww_med_test.json")] == [8]
    assert [s.occurrences for s in load_truth(folder / "sww_long_test.json")] == [50]


def entry(**overrides):
    base = {"wav_file": "a.wav", "sample_rate": 16000, "length_sec": 10.0, "detection_windows": [[1.0, 2.0]]}
    return {**base, **overrides}


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ("[]", "expected a non-empty JSON list"),
    (json.dumps([entry(wav_file="../../etc/passwd.wav")]), "wav_file must be a plain .wav file name"),
    (json.dumps([entry(wav_file="sub/a.wav")]), "wav_file must be a plain .wav file name"),
    (json.dumps([entry(wav_file="a.mp3")]), "wav_file must be a plain .wav file name"),
    (json.dumps([entry(sample_rate=8000)]), "sample_rate 8000: sww01 streams are 16000 Hz"),
    (json.dumps([entry(length_sec=True)]), "length_sec must be a number of seconds > 0"),
    (json.dumps([entry(detection_windows=[[2.0, 1.0]])]), r"\[2, 1\] must lie in the stream"),
    (json.dumps([entry(detection_windows=[[9.0, 11.0]])]), r"must lie in the stream \(0..10 s\)"),
    (json.dumps([entry(detection_windows=[[1.0, 3.0], [2.0, 4.0]])]), "starts before the previous one ends"),
    (json.dumps([entry(detection_windows=[[1.0]])]), "must be \\[start, stop\\] in seconds"),
])
def test_a_bad_truth_file_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "truth.json"
    path.write_text(content)
    with pytest.raises(TruthError, match=message) as caught:
        load_truth(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_wav_file_is_checked_against_its_truth(tmp_path):
    stream, = load_truth(_write(tmp_path / "t.json", [entry(length_sec=1.0, detection_windows=[])]))
    path = wav_path(tmp_path, stream)
    assert path == (tmp_path / "a.wav").resolve()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes(np.zeros(2 * 8000, np.int16).tobytes())  # 0.5 s, not 1 s
    with pytest.raises(TruthError, match="0.50 s long, the truth file says 1 s"):
        check_wav(path, stream)
    (tmp_path / "a.wav").write_bytes(b"RIFF....")
    with pytest.raises(TruthError, match="not a readable WAV file"):
        check_wav(path, stream)


def _write(path, data):
    path.write_text(json.dumps(data))
    return path
