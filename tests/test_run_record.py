"""The run record (run/record.py): results.json is its JSON view, key for key what earlier versions
wrote (the lists below are those of a results.json the dict-based runner wrote), plus the new
keys only; a results.json read back gives the same record, the same results.txt and summary; the
provenance names the tool, the bench and the firmware; the verdict keeps its order."""

from __future__ import annotations

import csv
import json
import re
import socket
from pathlib import Path

import pytest

from conftest import assert_one_line_error, reference_path, run_cli
from tiny_runner import __version__
from tiny_runner.analysis.energy import EnergyWindow
from tiny_runner.analysis.infer import TimedInfer
from tiny_runner.report.results import finalise, results_txt
from tiny_runner.report.summary import summary
from tiny_runner.run.record import (
    DutRecord,
    InputResult,
    MonitorRecord,
    PerformanceWindow,
    RunRecord,
    Stimuli,
)
from tiny_runner.run.recorder import Recorder
from tiny_runner.run.rundir import RunDir

BOARD = "virtual-l4r5zi"
FAST = ("--lab-speed", "1000")
NEW_KEYS = ["host", "provenance"]

HEAD = ["tiny_runner_version", "status", "benchmark", "mode", "board", "run_dir", "started", "valid", "violations",
        "lab", "dut"]
OLD_KEYS = {
    "performance": HEAD + ["stimuli", "windows", "calibration", "check_outputs", "model", "quality_target",
                           "median_throughput_inf_per_s", "median_latency_ms", "throughput_stats", "finished"],
    "energy": HEAD + ["monitor", "relay", "stimuli", "windows", "calibration", "check_outputs", "model",
                      "quality_target", "median_energy_uj_per_inf", "energy_stats", "median_power_mw",
                      "median_throughput_inf_per_s", "median_latency_ms", "quantisation_pct_max", "plots", "finished"],
    "accuracy": HEAD + ["stimuli", "windows", "files_done", "top1_pct", "auc", "auc_classes", "classes", "samples",
                        "files", "inferences", "single_inference_latency_ms", "check_outputs", "model",
                        "quality_target", "finished"],
    "failed": HEAD + ["stimuli", "windows", "calibration", "stop_reason", "finished"],
}
OLD_DUT_KEYS = ["url", "virtual", "vendor", "profile", "model_id", "firmware_mode", "firmware_mode_from", "banner",
                "name_attempts", "skipped_stale_lines", "flushed_command_buffer", "baud"]
OLD_WINDOW_KEYS = {
    "performance": ["index", "input", "inferences", "warmup", "lap_us", "elapsed_us", "seconds",
                    "throughput_inf_per_s", "latency_ms", "meets_min_window", "attempts", "results",
                    "outputs_match_host"],
    "energy": ["index", "input", "inferences", "warmup", "edges", "rate_hz", "energy_j", "seconds", "quantisation_j",
               "dropped_samples", "problems", "energy_uj", "energy_uj_per_inf", "power_mw", "quantisation_uj",
               "throughput_inf_per_s", "meets_min_window", "attempts", "results", "latency_ms", "outputs_match_host",
               "truth_energy_uj", "truth_seconds", "truth_error_pct"],
}
OLD_LAB_KEYS = {
    "performance": ["speed", "modelled_inference_us", "macs", "timer_start_us", "faults", "model_executions"],
    "energy": ["speed", "modelled_inference_us", "macs", "timer_start_us", "faults", "monitor", "monitor_quirks",
               "model_executions", "truth"],
}
OLD_SECTION_KEYS = {
    "calibration": ["probes", "latency_estimate_ms", "target_window_s", "iterations"],
    "monitor": ["model", "firmware", "board_id", "port", "rate_hz", "voltage_mv", "voltage_source"],
    "relay": ["kind", "port", "dut_baud"],
    "check_outputs": ["checked", "mismatches", "top1_disagreements", "max_abs_diff", "tolerance", "examples"],
}
OLD_STIMULI_KEYS = {
    "performance": ["source", "note"],
    "energy": ["source", "note"],
    "accuracy": ["source", "dataset", "labels_file", "synthetic_dataset", "labels", "files_in_dataset"],
}


def measure(run_dir: Path, *args: str, code: int) -> tuple[dict, Path]:
    result = run_cli("measure", "--board", BOARD, "--run-dir", str(run_dir), "--json", "--quiet", *args,
                     env={"TINY_RUNNER_MODEL_DIR": str(reference_path())})
    assert result.code == code, result.stderr
    data = json.loads((run_dir / "results.json").read_text())
    if code in (0, 3):  # a measured run prints its record; a failed one only its error
        assert result.json() == data
    return data, run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synth_datasets) -> dict[str, tuple[dict, Path]]:
    out = tmp_path_factory.mktemp("runs")
    return {
        "performance": measure(out / "performance", "-b", "kws", "--check-outputs", *FAST, code=0),
        "energy": measure(out / "energy", "-b", "kws", "--mode", "energy", "--check-outputs", *FAST, code=0),
        "accuracy": measure(out / "accuracy", "-b", "kws", "--mode", "accuracy", "--check-outputs", "--dataset",
                            str(synth_datasets["kws01"]), code=3),
        "failed": measure(out / "failed", "-b", "kws", "--lab-fault", "silent_after=40", *FAST, code=14),
    }


def without_new_keys(results: dict) -> dict:
    """results.json as the dict-based runner wrote it."""
    return {k: v for k, v in results.items() if k not in ("provenance", "input_results", "host")}


def stamped(text: str) -> str:
    return re.sub(r"^\S+ ulp-mlperf:", "ulp-mlperf:", text, flags=re.M)


@pytest.mark.parametrize("run", ["performance", "energy", "accuracy", "failed"])
def test_results_json_keeps_every_key_of_the_dict_based_runner(runs, run):
    data, _ = runs[run]
    mode = data["mode"]
    extra = ["input_results"] if mode == "accuracy" else []
    assert list(data) == OLD_KEYS[run] + extra + NEW_KEYS
    assert list(data["dut"]) == OLD_DUT_KEYS
    assert list(data["lab"]) == OLD_LAB_KEYS.get(mode, OLD_LAB_KEYS["performance"])
    assert list(data["stimuli"]) == OLD_STIMULI_KEYS[mode]
    for section, keys in OLD_SECTION_KEYS.items():
        if section in data:
            assert list(data[section]) == keys, section
    if run == "failed":
        assert data["status"] == "failed" and data["valid"] is False and len(data["windows"]) == 2
        assert data["stop_reason"].startswith("no reply from ")
        assert list(data["windows"][0]) == OLD_WINDOW_KEYS["performance"][:-1]  # no --check-outputs
    elif mode in OLD_WINDOW_KEYS:
        assert len(data["windows"]) == 5
        assert all(list(w) == OLD_WINDOW_KEYS[mode] for w in data["windows"])
        assert list(data["calibration"]["probes"][0]) == ["inferences", "seconds"]
        assert list(data["windows"][0]["attempts"][0]) == ["inferences", "seconds"]
    else:
        assert data["windows"] == [] and data["files_done"] == data["files"] == 16
        assert list(data["single_inference_latency_ms"]) == ["median", "min", "max"]


@pytest.mark.parametrize("run", ["performance", "energy", "accuracy", "failed"])
def test_a_results_json_read_back_is_the_same_record(runs, run):
    data, run_dir = runs[run]
    assert RunRecord.from_json(data).to_json() == data
    assert list(RunRecord.from_json(data).to_json()) == list(data)
    # one the dict-based runner wrote: the same keys and values, and the provenance drawn from them
    old = without_new_keys(data)
    again = RunRecord.from_json(old).to_json()
    assert without_new_keys(again) == old and list(without_new_keys(again)) == list(old)
    assert again["provenance"] == dict(data["provenance"], host=None)  # an older record does not say the host
    # the views of a record read back are those the run wrote
    assert stamped(results_txt(RunRecord.from_json(old))) == stamped((run_dir / "results.txt").read_text())
    assert summary(RunRecord.from_json(old)) == summary(data)


def test_the_windows_are_typed_and_appended_as_they_went(runs):
    data, run_dir = runs["performance"]
    record = RunRecord.from_json(data)
    assert all(isinstance(w, PerformanceWindow) for w in record.windows)
    assert [w.index for w in record.windows] == [1, 2, 3, 4, 5]
    assert all(w.outputs_match_host is True and w.meets_min_window for w in record.windows)
    assert record.figures.median_throughput_inf_per_s == data["median_throughput_inf_per_s"]
    assert [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()] == data["windows"]
    data, run_dir = runs["energy"]
    record = RunRecord.from_json(data)
    assert all(isinstance(w, EnergyWindow) and w.truth is not None for w in record.windows)
    appended = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    truth = ("truth_energy_uj", "truth_seconds", "truth_error_pct")  # the lab's truth comes after the run
    assert appended == [{k: v for k, v in w.items() if k not in truth} for w in data["windows"]]


def test_an_accuracy_run_records_each_file_it_scored(runs):
    data, run_dir = runs["accuracy"]
    rows = list(csv.reader((run_dir / "outputs.csv").read_text().splitlines()))
    results = data["input_results"]
    assert [r["file"] for r in results] == [row[0] for row in rows] and len(results) == 16
    assert [str(r["label"]) for r in results] == [row[1] for row in rows]
    assert [[float(v) for v in row[2:]] for row in rows] == [r["score"] for r in results]
    assert all(r["inferences"] == 1 and len(r["score"]) == 12 for r in results)
    record = RunRecord.from_json(data)
    assert record.accuracy.metrics == {k: data[k] for k in ("top1_pct", "auc", "auc_classes", "classes", "samples")}
    assert [v.text for v in record.violations] == data["violations"]


def test_provenance_names_the_tool_the_bench_and_the_firmware(runs):
    data, _ = runs["energy"]
    provenance = data["provenance"]
    assert list(provenance) == ["tool_version", "board", "benchmark", "mode", "started", "finished", "bench",
                                "firmware", "monitor", "relay", "lab", "host"]
    assert provenance["host"] == data["host"] == socket.gethostname()
    assert provenance["tool_version"] == __version__ == data["tiny_runner_version"]
    assert (provenance["board"], provenance["benchmark"], provenance["mode"]) == (BOARD, "kws01", "energy")
    assert (provenance["started"], provenance["finished"]) == (data["started"], data["finished"])
    assert provenance["bench"] is None  # no bench file
    # the emulated reference firmware has no image to hash
    assert provenance["firmware"] == {"sha256": None, "mode": "energy", "mode_from": "banner",
                                      "profile": "ULPMark for tinyML Firmware V0.0.1"}
    assert provenance["monitor"] == {"model": "LPM01A", "serial": "540554545-1430736921-1900587",
                                     "firmware": "1.0.7"}
    assert provenance["relay"] == data["relay"] and provenance["relay"]["kind"] == "ifboard"
    setup = {k: v for k, v in data["lab"].items() if k not in ("model_executions", "truth")}
    # x1000 asked, lowered so the emulated LPM01A keeps up with its 1 kHz stream
    assert provenance["lab"] == setup and provenance["lab"]["speed"] == 200.0
    performance = runs["performance"][0]["provenance"]
    assert performance["monitor"] is None and performance["relay"] is None
    assert performance["firmware"]["mode"] == "performance"


def test_provenance_takes_the_firmware_hash_and_the_serial_where_they_are_known():
    record = RunRecord(tool_version="9", benchmark="kws01", mode="energy", board="qemu-m4", run_dir="r", started="s",
                       bench={"name": "desk", "dut": "/dev/ttyACM0"})
    assert record.provenance.firmware is None and record.provenance.monitor is None
    record.bench_records["lab"] = {"firmware": {"port": "qemu-mps2-an386", "installed": {"sha256": "ab" * 32}},
                                   "model_executions": 3}
    record.dut = DutRecord("pty", True, "v", "p", "kws01", None, "first infer", None, 1, 0, False, 115200)
    record.monitor = MonitorRecord({"model": "JS220", "serial": "004211", "path": "u/js220/004211"}, 2e6, 1800,
                                   "set by the monitor")
    provenance = record.provenance.to_json()
    assert provenance["firmware"] == {"sha256": "ab" * 32, "mode": None, "mode_from": "first infer", "profile": "p"}
    assert provenance["monitor"] == {"model": "JS220", "serial": "004211", "firmware": None}
    assert provenance["bench"] == {"name": "desk", "dut": "/dev/ttyACM0"}
    assert provenance["lab"] == {"firmware": {"port": "qemu-mps2-an386", "installed": {"sha256": "ab" * 32}}}
    record.dut.firmware_mode = "energy"  # learnt at the first infer: the provenance follows
    assert record.to_json()["provenance"]["firmware"]["mode"] == "energy"
    record.bench_records["lab"] = {"firmware": {"port": "posix", "sha256": "cd" * 32}}  # a built image's own
    assert record.provenance.firmware.sha256 == "cd" * 32


class Request:
    benchmark = None
    model = None


def energy_window(index: int, energy_j, seconds, inferences: int, quantisation_j, problems=()) -> EnergyWindow:
    return EnergyWindow(index, f"in{index}", inferences, 1, [0, 1] if energy_j is not None else [0], 1000.0,
                        energy_j, seconds, quantisation_j, 0, list(problems), [TimedInfer(inferences, seconds)])


def test_the_verdict_lists_the_violations_in_their_order():
    record = RunRecord(tool_version="9", benchmark=None, mode="energy", board="b", run_dir="r", started="s")
    record.windows = [energy_window(1, 1.2, 12.0, 100, 0.0012), energy_window(2, 0.25, 5.0, 50, 0.0005),
                      energy_window(3, None, None, 50, None, ["missing timestamp edge: 1 of 2 seen"])]
    record.violations = []
    recorder = Recorder(record, None)
    recorder.add_violation("synthetic dataset")
    recorder.set_check_outputs({"checked": 6, "mismatches": 2, "max_abs_diff": 0.5})
    finalise(record, Request())
    assert [v.text for v in record.violations] == [
        "2 windows measured; the rules need exactly 5",
        "window 2 lasted 5.000 s; every window must last at least 10 s",
        "window 3: missing timestamp edge: 1 of 2 seen",
        "synthetic dataset",
        "--check-outputs: 2 of 6 DUT result vectors differ from the host's TFLM run (max difference 0.5000)",
    ]
    assert [v.source for v in record.violations] == ["windows", "windows", "windows", "procedure", "check outputs"]
    assert record.valid is False
    figures = record.to_json()
    assert figures["median_energy_uj_per_inf"] == pytest.approx(8500.0)
    assert figures["median_power_mw"] == pytest.approx(75.0)
    assert figures["median_throughput_inf_per_s"] == pytest.approx((100 / 12 + 10) / 2)
    assert figures["median_latency_ms"] == pytest.approx(1e3 / ((100 / 12 + 10) / 2))
    assert figures["quantisation_pct_max"] == pytest.approx(0.2)
    assert figures["violations"] == [v.text for v in record.violations]

    valid = RunRecord(tool_version="9", benchmark=None, mode="performance", board="b", run_dir="r", started="s")
    valid.windows = [PerformanceWindow(i, f"in{i}", 10, 1, [0, 12_000_000], 12_000_000, 12.0,
                                       [TimedInfer(10, 12.0)], [1.0]) for i in range(1, 6)]
    finalise(valid, Request())
    assert valid.violations == [] and valid.valid is True
    assert valid.to_json()["median_throughput_inf_per_s"] == pytest.approx(10 / 12)


def test_the_recorder_appends_to_the_run_directory_as_it_goes(tmp_path):
    run_dir = RunDir(tmp_path)
    record = RunRecord(tool_version="9", benchmark="kws01", mode="accuracy", board="b", run_dir=str(tmp_path),
                       started="s")
    recorder = Recorder(record, run_dir)
    recorder.set_stimuli(Stimuli("dataset", dataset="d", labels_file="y_labels.csv", synthetic_dataset=False,
                                 labels="from the dataset", files_in_dataset=2))
    recorder.start_windows()
    recorder.add_input(InputResult("a.bin", 3, [0.25, 0.75], 1), ["a.bin", 3, 0.25, 0.75])
    assert (tmp_path / "outputs.csv").read_bytes() == b"a.bin,3,0.25,0.75\r\n"
    assert record.to_json()["files_done"] == 1
    window = PerformanceWindow(1, "in1", 10, 1, [5, 15], 10, 12.5, [TimedInfer(10, 12.5)], [0.5])
    recorder.add_window(window)
    assert json.loads((tmp_path / "windows.jsonl").read_text()) == window.to_json()
    recorder.stop("interrupted", "Ctrl-C")
    recorder.write()
    written = json.loads((tmp_path / "results.json").read_text())
    assert written == record.to_json()
    assert written["status"] == "interrupted" and written["stop_reason"] == "Ctrl-C" and written["valid"] is False
    assert written["input_results"] == [{"file": "a.bin", "label": 3, "score": [0.25, 0.75], "inferences": 1}]
    assert "ERROR: run interrupted: Ctrl-C" in (tmp_path / "results.txt").read_text()
    run_dir.close()


def test_analyze_reports_a_run_directory_from_its_record(cli, runs, tmp_path):
    data, run_dir = runs["energy"]
    folder = tmp_path / "old-run"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(without_new_keys(data)))  # as the dict-based runner left it
    result = cli("analyze", str(folder))
    assert result.code == 0, result.stderr
    assert result.stdout == summary(data) + "\n"
    result = cli("analyze", str(folder), "--json")
    older = {k: v for k, v in data.items() if k != "host"}
    older["provenance"] = dict(data["provenance"], host=None)  # an older record does not say the host
    assert result.code == 0 and result.json() == older
    (folder / "results.json").write_text('{"mode": "energy"')
    assert_one_line_error(cli("analyze", str(folder)), 22, "results.json: not JSON")
    (folder / "results.json").write_text('{"mode": "energy"}')
    assert_one_line_error(cli("analyze", str(folder)), 22, "results.json: not a tiny-runner record: it has no "
                                                           "'tiny_runner_version'")
    (folder / "results.json").write_text("[1, 2]")
    assert_one_line_error(cli("analyze", str(folder)), 22, "results.json: not a tiny-runner record")
