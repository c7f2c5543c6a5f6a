"""The host side of a sww01 run that needs no bench: the DUT's stop reply parsed strictly, the
stream a run plays chosen from its folder safely, the validity rules, and results.txt worded so
that the submission checker's sww patterns score a valid run's figures and nothing else."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import reference_path
from tiny_runner.benchmarks.sww01.replies import check_started, parse_stopped
from tiny_runner.benchmarks.sww01.rules import stream_violations
from tiny_runner.benchmarks.sww01.streams import select_stream
from tiny_runner.errors import DatasetError, ProtocolError
from tiny_runner.report.results import CHECKER_PATTERNS, results_txt

# what ee_stop_detection prints for 18 frames (ee_print_vals_int8: 16 values a line, "v, ",
# the last one "v  ")
STOP_REPLY = ["Streaming stopped.", "target activations: ",
              "[-128, -128, -127, -120, -100, 0, 12, 116, 127, -128, -128, -128, -128, -128, -128, -128, ",
              "-5, 3  ", "]"]


def test_stop_reply_gives_every_frame_activation():
    assert parse_stopped(STOP_REPLY) == [-128, -128, -127, -120, -100, 0, 12, 116, 127] + [-128] * 7 + [-5, 3]
    assert parse_stopped(["Streaming stopped.", "target activations: ", "[", "]"]) == []
    assert parse_stopped(["Streaming stopped."]) is None  # a firmware that logs no activations


@pytest.mark.parametrize("reply, words", [
    (["I2S is already idle.  Ignoring stop request"], "never started"),
    (["m-ready-ish"], "not 'Streaming stopped.'"),
    (["Streaming stopped.", "target activations: ", "[1, 2, 3"], "not a bracketed list"),
    (["Streaming stopped.", "target activations: ", "[1, 200, 3  ", "]"], "'200', not an int8"),
    (["Streaming stopped.", "target activations: ", "[1, x, 3  ", "]"], "'x', not an int8"),
])
def test_bad_stop_replies_are_refused(reply, words):
    with pytest.raises(ProtocolError, match=re.escape(words)):
        parse_stopped(reply)


def test_start_refused_while_streaming():
    check_started(["Listening for I2S data ... ", "DMA receive initiated."])
    with pytest.raises(ProtocolError, match="still streaming"):
        check_started(["I2S Rx currently in progress. Ignoring request"])


def test_stream_selection(tmp_path):
    short = select_stream(reference_path() / "sww01", "sww_short_test.json", "code")
    assert (short.stream.wav_file, short.stream.occurrences, short.wav_checked) == ("short_wav_easy10s.wav", 3, True)
    assert short.describe()["detection_windows"][0] == [1.0, 1.6476250000000001]
    # the long test's WAV is not here: the truth alone is enough on a real bench
    long = select_stream(reference_path() / "sww01", "sww_long_test.json", "readme")
    assert (long.stream.occurrences, long.wav_checked, long.rule) == (50, False, "readme")


@pytest.mark.parametrize("name, words", [
    ("../mlperf_tiny_results.csv", "must be a file inside the stream folder"),
    ("missing.json", "has no truth file missing.json"),
])
def test_stream_selection_refuses(tmp_path, name, words):
    with pytest.raises(DatasetError, match=re.escape(words)):
        select_stream(reference_path() / "sww01", name, "code")


def test_stream_selection_checks_the_wav_and_the_entries(tmp_path):
    shutil.copy(reference_path() / "sww01" / "short_wav_easy10s.wav", tmp_path)
    entry = json.loads((reference_path() / "sww01" / "sww_short_test.json").read_text())[0]
    (tmp_path / "two.json").write_text(json.dumps([entry, entry]))
    with pytest.raises(DatasetError, match="lists 2 streams; a run plays one"):
        select_stream(tmp_path, "two.json", "code")
    (tmp_path / "long.json").write_text(json.dumps([dict(entry, length_sec=20.0)]))
    with pytest.raises(DatasetError, match="10.00 s long, the truth file says 20 s"):
        select_stream(tmp_path, "long.json", "code")
    with pytest.raises(DatasetError, match="rule 'strict'"):
        select_stream(tmp_path, "long.json", "strict")


def _stream(occurrences=50, synthetic=None, rule="code") -> dict:
    return {"truth_file": "/x/sww_long_test.json", "wav_file": "long_wav.wav", "length_s": 1200.0,
            "occurrences": occurrences, "synthetic": synthetic, "rule": rule,
            "score": {"rule": rule, "window_extension_s": 2.0, "true_positives": [1.0] * 44,
                      "false_negatives": [2.0] * 6, "false_positives": [3.0] * 4},
            "duty_cycle": {"duty_cycle": 0.5606234, "period_s": 0.032000123, "processing_time_s": 0.0179398,
                           "throughput_inf_per_s": 55.74198, "frames": 100, "period_variation": 0.0, "warnings": []}}


def test_validity_rules():
    assert stream_violations("energy", _stream()) == []
    assert "bring-up run" in stream_violations("performance", _stream())[0]
    assert any("synthetic stream (spliced)" in v for v in stream_violations("energy", _stream(synthetic="spliced")))
    assert any("has 3 occurrences" in v for v in stream_violations("energy", _stream(occurrences=3)))
    assert any("rule 'readme'" in v for v in stream_violations("energy", _stream(rule="readme")))


def _record(valid: bool) -> dict:
    window = {"index": 0, "input": "long_wav.wav", "inferences": 1, "seconds": 1202.67, "energy_uj": 13799576.167,
              "power_mw": 11.474129, "energy_uj_per_inf": 13799576.167, "problems": []}
    violation = "synthetic (Accuracy: 9 True positives, 1 False negatives, 0 False positives)"
    return {"tiny_runner_version": "0", "status": "completed", "benchmark": "sww01", "mode": "energy",
            "board": "b", "valid": valid, "violations": [] if valid else [violation],
            "windows": [window], "stream": _stream()}


def _scored(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(find(p, line) for find, p in CHECKER_PATTERNS)]


def test_results_txt_of_a_valid_stream_has_the_checkers_lines():
    text = results_txt(_record(valid=True))
    body = [line.split("ulp-mlperf: ", 1)[1] for line in text.splitlines()]
    assert body[2:] == [
        "Power Edition Output", "Energy data for trial 0", "  Elapsed time  : 1202.67", "  Inferences    : 1",
        "  Power         : 11.4741 mW.", "  Total Energy  : 13799576.167 uJ", "  Energy/Inf    : 13799576.167 uJ/inf",
        "-" * 57, "Median energy cost is 13799576.1670 uJ/inf.", "-" * 57,
        "Accuracy: 44 True positives, 6 False negatives, 4 False positives",
        "Average duty cycle: 0.56062", "Average period: 0.032 s", "Estimated throughput: 55.742 inf./sec."]
    # the checker's own expressions (sww_perf_acc, check_power_dir) find each figure
    assert re.search(r"Power\s+: ([\d\.]+) mW.*", text).group(1) == "11.4741"
    assert re.search(r"Estimated throughput:\s*([\d\.]+) inf\./sec\..*", text).group(1) == "55.742"
    assert re.search(r"Average duty cycle:\s*([\d\.]+)", text).group(1) == "0.56062"


def test_results_txt_of_an_invalid_stream_scores_nothing():
    text = results_txt(_record(valid=False))
    assert _scored(text) == []
    assert "NOT VALID: detections 44 true positives, 6 false negatives, 4 false positives" in text
    assert "NOT VALID: stream energy 13799576.167 uJ in 1202.670 s, power 11.4741 mW" in text
    assert "synthetic (accuracy: 9 True positives, 1 False negatives, 0 False positives)" in text  # free text defused
