"""sww01 end to end on the virtual lab, through the command line: the emulated interface board
plays the WAV from its SD card (the --dataset folder) into the virtual sww DUT, which runs the
reference features and model on every frame. The runner's detections, duty cycle and stream
energy are compared with what the lab knows they are; faults end with their own outcome and
keep what was measured.

Tolerances: detection times to 1 ms (the board's ms timer); duty cycle and throughput to 0.5 %
(10 µs ticks over 100 frames of ~18 ms); stream energy to 0.05 % at the LPM01A's 100 kHz (one
sample at each edge: 2 x 10 µs over a ~10 s window, and the lab's sample grid)."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from conftest import assert_one_line_error, reference_path, run_cli
from tiny_runner.boards import load_board
from tiny_runner.report.results import CHECKER_PATTERNS

BOARD = "virtual-l4r5zi"
SHORT = "sww_short_test.json"
WAV = "short_wav_easy10s.wav"
FRAMES = 10 * 16_000 // 512  # 312 frames in the 10 s file


def measure(out: Path, *args: str, code: int | None = 3) -> tuple[dict, object]:
    result = run_cli("measure", "--board", BOARD, "--benchmark", "sww", "--out", str(out), "--json", "--quiet",
                     *args, env={"TINY_RUNNER_MODEL_DIR": str(reference_path())})
    if code is not None:
        assert result.code == code, result.stderr
    return (result.json() if result.code in (0, 3) else None), result


def short_folder() -> str:
    return str(reference_path() / "sww01")


@pytest.fixture(scope="module")
def energy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sww-energy")
    results, _ = measure(out, "--mode", "energy", "--dataset", short_folder(), "--labels", SHORT,
                         "--monitor-rate", "100000", "--voltage", "3000")
    return results


def test_the_short_stream_is_scored_against_the_lab_truth(energy_run):
    stream, truth = energy_run["stream"], energy_run["lab"]["truth"]
    # the reference model finds the words at 1 s and 4 s; at 7 s its output peaks at 100 (< 115)
    assert stream["score"]["true_positives"] == [1.0, 4.0]
    assert stream["score"]["false_negatives"] == [7.0]
    assert stream["score"]["false_positives"] == []
    assert stream["score"]["rule"] == "code" and stream["score"]["window_extension_s"] == 2.0
    assert len(stream["detections_ms"]) == len(truth["detections_s"]) + 1  # the sync detection first
    assert truth["detections_max_error_ms"] <= 1.0
    assert [round(t) for t in stream["detections_s"]][:1] == [1]
    # every frame's activation came back and is the lab's own
    assert len(stream["activations"]) == truth["frames"] == FRAMES and truth["activations_match"] is True
    duty = stream["duty_cycle"]
    assert duty["frames"] == 100 and duty["warnings"] == []
    assert abs(truth["duty_cycle_error_pct"]) < 0.5 and abs(truth["throughput_error_pct"]) < 0.5
    assert abs(duty["period_s"] - 0.032) < 0.032 * 0.005


def test_the_stream_energy_against_the_lab_truth(energy_run):
    window, truth = energy_run["windows"][0], energy_run["lab"]["truth"]
    assert window["inferences"] == 1 and window["input"] == WAV and window["problems"] == []
    assert window["rate_hz"] == 100_000 and len(window["edges"]) == 2
    assert abs(truth["stream_energy_error_pct"]) < 0.05
    # the window is the whole stream: start, record_detections, 10 s of audio, 0.25 s, stop
    assert 10.0 < window["seconds"] < 11.5
    assert energy_run["median_power_mw"] == pytest.approx(window["power_mw"])


def test_the_calibrated_model_reproduces_the_published_power(energy_run):
    """Calibrated from the v1.3 NUCLEO_L4R5ZI-P sww run: 25.622 mW at 3000 mV, 55.742 inf./sec.
    While audio streams, a 32 ms frame averages the published power; the short stream's window
    also holds ~0.3 s around the audio (the host's commands, its 0.25 s pause: in real time),
    which pulls its mean down (the 1200 s figure in benchmarks/sww_stream.py dilutes that)."""
    sww = load_board(BOARD).simulation["sww"]
    duty = sww["processing_us"] / 32_000
    frame_mw = 3.0 * (sww["processing_ma"] * duty + sww["listening_ma"] * (1 - duty))
    assert frame_mw == pytest.approx(sww["published_power_mw"], rel=1e-4)
    assert energy_run["stream"]["duty_cycle"]["throughput_inf_per_s"] == pytest.approx(55.742, rel=0.005)
    # the time around the audio (replies on the UART, the pin's holds, listening before `play`)
    # averages less than a streaming frame: within 5 % on a 10 s window, however slow the host
    assert 0.95 * frame_mw < energy_run["median_power_mw"] < frame_mw


def test_a_short_stream_is_never_presented_as_valid(energy_run):
    assert energy_run["valid"] is False
    assert any("has 3 occurrences" in v for v in energy_run["violations"])
    text = (Path(energy_run["run_dir"]) / "results.txt").read_text()
    assert not [line for line in text.splitlines() if any(find(p, line) for find, p in CHECKER_PATTERNS)]
    assert "NOT VALID: detections 2 true positives, 1 false negatives, 0 false positives" in text


def test_bring_up_without_a_monitor(tmp_path):
    results, _ = measure(tmp_path, "--mode", "performance", "--dataset", short_folder(), "--labels", SHORT,
                         "--detection-window", "readme")
    stream = results["stream"]
    assert stream["score"]["true_positives"] == [1.0, 4.0] and stream["score"]["window_extension_s"] == 1.0
    assert "windows" not in results and "monitor" not in results
    assert any("bring-up run" in v for v in results["violations"])
    assert any("rule 'readme'" in v for v in results["violations"])
    assert abs(results["lab"]["truth"]["duty_cycle_error_pct"]) < 0.5


def one_second_stream(folder: Path) -> Path:
    """A 1 s stream cut from the short file (no occurrence), for faults that wait out `play`."""
    folder.mkdir()
    with wave.open(str(reference_path() / "sww01" / WAV), "rb") as src, \
            wave.open(str(folder / "one_second.wav"), "wb") as dst:
        dst.setparams(src.getparams())
        dst.writeframes(src.readframes(16_000))
    (folder / "one.json").write_text(json.dumps([{"wav_file": "one_second.wav", "sample_rate": 16000,
                                                  "length_sec": 1.0, "detection_windows": []}]))
    return folder


@pytest.mark.parametrize("fault, code, words", [
    ("ignore_start", 17, "it was not streaming, so it never started"),
    ("ignore_stop", 14, "the stream's energy window has no end"),
    ("detect_wire_open", 33, "recorded no detections, not even the DUT's sync pulse"),
    ("duty_unequal", 33, "duty-cycle start times and"),
])
def test_faults_end_with_their_outcome_and_keep_what_was_measured(tmp_path, fault, code, words):
    _, result = measure(tmp_path, "--mode", "energy", "--dataset", short_folder(), "--labels", SHORT,
                        "--lab-fault", f"{fault}=1", code=None)
    assert_one_line_error(result, code, words)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["exit_code"] == code
    kept = json.loads((run_dir / "results.json").read_text())
    assert kept["valid"] is False and kept["stream"]["wav_file"] == WAV
    if fault in ("detect_wire_open", "duty_unequal"):
        # the stream played and stopped: its energy and the board's raw lists are kept
        assert kept["windows"][0]["energy_uj"] > 0 and len(kept["stream"]["activations"]) == FRAMES
        assert "duty_cycle_ticks" in kept["stream"]


def test_a_wav_missing_from_the_sd_card_stops_before_power(tmp_path):
    folder = tmp_path / "sd"
    folder.mkdir()
    shutil.copy(reference_path() / "sww01" / SHORT, folder)
    _, result = measure(tmp_path / "runs", "--mode", "energy", "--dataset", str(folder), "--labels", SHORT, code=None)
    assert_one_line_error(result, 33, f"{WAV} is not on the interface board's SD card", "sww_short_test.json")
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert "DUT powered" not in (run_dir / "log.txt").read_text()


def test_play_that_never_finishes_times_out(tmp_path):
    folder = one_second_stream(tmp_path / "sd")
    _, result = measure(tmp_path / "runs", "--mode", "energy", "--dataset", str(folder), "--labels", "one.json",
                        "--lab-fault", "play_hangs=1", code=None)
    assert_one_line_error(result, 14, "did not finish 'play one_second.wav' within 11 s")


def test_an_interface_board_that_does_not_come_back_after_setbaud(tmp_path):
    folder = one_second_stream(tmp_path / "sd")
    _, result = measure(tmp_path / "runs", "--mode", "performance", "--dataset", str(folder), "--labels", "one.json",
                        "--baud", "115200", "--lab-fault", "no_reboot=1", code=None)
    assert_one_line_error(result, 14, "did not answer 'name%'")


@pytest.mark.parametrize("args, code, words", [
    (("--mode", "accuracy", "--dataset", "X"), 2, "sww01 is not measured in accuracy mode"),
    (("--mode", "energy"), 2, "sww01 needs --dataset DIR"),
    (("--mode", "energy", "--dataset", "X", "--iterations", "3"), 2, "--iterations does not apply to sww01"),
    (("--mode", "energy", "--dataset", "X", "--monitor", "scpi"), 2, "has no timestamp input"),
    (("--mode", "energy", "--dataset", "X", "--relay", "ioman"), 2, "cannot play a stream into the DUT"),
    (("--mode", "performance", "--dataset", "X", "--labels", "../x.json"), 12, "must be a file inside"),
    (("--mode", "energy", "--dataset", "X", "--lab-fault", "ignore_start=1", "--lab-fault", "bogus=1"), 2,
     "unknown fault 'bogus'"),
])
def test_bad_options(tmp_path, args, code, words):
    args = tuple(short_folder() if a == "X" else a for a in args)
    _, result = measure(tmp_path, *args, code=None)
    assert_one_line_error(result, code, words)
    assert not list(tmp_path.iterdir())  # refused before a run directory exists


def test_the_detection_window_rule_is_for_streams_only(tmp_path):
    result = run_cli("measure", "--board", BOARD, "--benchmark", "kws", "--detection-window", "readme", "--out",
                     str(tmp_path), env={"TINY_RUNNER_MODEL_DIR": str(reference_path())})
    assert_one_line_error(result, 2, "--detection-window applies to a streamed benchmark (sww) only")
