"""`tiny-runner measure` against tiny-runner's own C firmware (firmware/): the POSIX port as a
native process on a pty (board native-posix). The runner builds the image itself; every
results line the firmware prints must be, byte for byte, the line the host predicts from its
own TFLM run on the same input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import assert_one_line_error, require_tools
from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.datasets import load_dataset
from tiny_runner.benchmarks.synth import performance_stimuli
from tiny_runner.model.reference import resolve_model
from tiny_runner.model.tflm import TflmWorker
from tiny_runner.protocol.wirelog import FROM_DEVICE, stream

_RESULTS = re.compile(rb"m-results-\[[^\]]*\]")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> dict:
    """One image cache for the module, so each image is built once."""
    require_tools("cc", "make", "size")
    return {"TINY_RUNNER_CACHE": str(tmp_path_factory.mktemp("firmware-cache"))}


def measure(cli, cache, tmp_path, board, *args, code=0):
    result = cli("measure", "--board", board, "--out", str(tmp_path), "--json", "--quiet", *args, env=cache)
    assert result.code == code, result.stderr
    data = result.json()
    return data, Path(data["run_dir"])


def predicted_lines(bench_id: str, inputs: list[bytes]) -> list[bytes]:
    with TflmWorker(resolve_model(bench_id).path) as worker:
        lines = []
        for raw in inputs:
            tensor, floats = get_benchmark(bench_id).convert_input(raw, worker.input_quant)
            lines.append(get_benchmark(bench_id).results_line(worker.run(tensor), worker.output_quant, floats).encode())
    return lines


def printed_lines(run_dir: Path) -> list[bytes]:
    return _RESULTS.findall(stream(run_dir / "wire.log", FROM_DEVICE))


def distinct_in_order(lines: list[bytes]) -> list[bytes]:
    """One line per window: the first stimulus also served the calibration probes."""
    return [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]


@pytest.mark.parametrize("bench", ["kws01", "ad01"])
def test_performance_results_are_the_hosts_byte_for_byte(cli, cache, tmp_path, reference, bench):
    data, run_dir = measure(cli, cache, tmp_path, "native-posix", "-b", bench, "--iterations", "20",
                            "--check-outputs", code=3)  # 20 inferences make windows shorter than 10 s
    assert data["status"] == "completed" and len(data["windows"]) == 5
    assert data["check_outputs"]["mismatches"] == 0
    expected = predicted_lines(bench, [raw for _, raw in performance_stimuli(get_benchmark(bench))])
    printed = printed_lines(run_dir)
    assert distinct_in_order(printed) == expected
    firmware = data["lab"]["firmware"]
    assert firmware["port"] == "posix" and firmware["model_id"] == bench and firmware["mode"] == "performance"
    assert firmware["weight_bytes"] > 0 and firmware["arena_bytes"] > 0
    assert data["dut"]["model_id"] == bench and data["dut"]["firmware_mode"] == "performance"
    assert all(w["inferences"] == 20 and w["seconds"] > 0 for w in data["windows"])


def test_accuracy_run_on_the_c_firmware(cli, cache, tmp_path, synth_datasets):
    folder = synth_datasets["kws01"]
    dataset = load_dataset(folder, get_benchmark("kws01"))
    data, run_dir = measure(cli, cache, tmp_path, "native-posix", "-b", "kws", "--mode", "accuracy",
                            "--dataset", str(folder), "--check-outputs", code=3)  # synthetic: not valid
    assert data["inferences"] == len(dataset.entries) and data["check_outputs"]["mismatches"] == 0
    expected = predicted_lines("kws01", [dataset.read(e) for e in dataset.entries])
    assert printed_lines(run_dir) == expected


def test_the_image_is_built_once_and_then_found(cli, cache, tmp_path, reference):
    first = cli("firmware", "--board", "native-posix", "-b", "kws", "--json", env=cache)
    second = cli("firmware", "--board", "native-posix", "-b", "kws", "--json", env=cache)
    energy = cli("firmware", "--board", "native-posix", "-b", "kws", "--mode", "energy", "--json", env=cache)
    assert first.code == second.code == energy.code == 0, first.stderr + second.stderr + energy.stderr
    first, second, energy = first.json(), second.json(), energy.json()
    assert second["reused"] is True and second["path"] == first["path"]
    assert energy["path"] != first["path"] and energy["mode"] == "energy"
    assert Path(first["path"]).is_file() and first["text_bytes"] > first["weight_bytes"] == 28_976


def test_a_build_for_the_other_mode_is_caught_at_the_handshake(cli, cache, tmp_path, reference):
    result = cli("measure", "--board", "native-posix", "-b", "kws", "--lab-firmware-mode", "energy",
                 "--out", str(tmp_path), "-q", env=cache)
    assert_one_line_error(result, 16, "energy-mode firmware", "performance-mode build")
    status = json.loads(next(tmp_path.glob("*/status.json")).read_text())
    assert status["state"] == "failed"


def test_energy_needs_an_energy_bench(cli, cache, tmp_path, reference):
    result = cli("measure", "--board", "native-posix", "-b", "kws", "--mode", "energy", "--out", str(tmp_path),
                 env=cache)
    assert_one_line_error(result, 2, "native-posix measures performance and accuracy")


def test_emulation_options_are_refused(cli, cache, tmp_path, reference):
    result = cli("measure", "--board", "native-posix", "-b", "kws", "--lab-speed", "10", "--out", str(tmp_path),
                 env=cache)
    assert_one_line_error(result, 2, "--lab-speed", "runs the C firmware")


def test_a_missing_toolchain_is_one_clear_error(cli, tmp_path, reference):
    env = {"TINY_RUNNER_CACHE": str(tmp_path / "cache"), "PATH": str(tmp_path / "empty")}
    result = cli("firmware", "--board", "native-posix", "-b", "kws", env=env)
    assert_one_line_error(result, 23, "not found", "install")


# -- the Cortex-M4 image under QEMU (board qemu-m4) -------------------------------------------------
@pytest.fixture(scope="module")
def qemu_cache(cache) -> dict:
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")
    return cache


def test_qemu_performance_is_deterministic_and_exact(cli, qemu_cache, tmp_path, reference):
    runs = [measure(cli, qemu_cache, tmp_path / str(i), "qemu-m4", "-b", "kws", "--iterations", "4",
                    "--check-outputs", code=3) for i in range(2)]
    (first, run_dir), (second, _) = runs
    # instruction-count time: the same input takes the same time, run after run, to within 1 us.
    # What varies with host (idle) time is the timer values themselves, and reading the timer (a
    # 64-bit division by 25 done in software) and printing the first value inside the window take
    # a value-dependent number of instructions.
    for a, b in zip(first["windows"], second["windows"]):
        assert abs(a["elapsed_us"] - b["elapsed_us"]) <= 1, (a["lap_us"], b["lap_us"])
    assert first["median_latency_ms"] == pytest.approx(second["median_latency_ms"], abs=1e-3 / 4)
    latency_ms = first["median_latency_ms"]
    assert 250 < latency_ms < 350  # tens of millions of instructions at 8 ns each
    expected = predicted_lines("kws01", [raw for _, raw in performance_stimuli(get_benchmark("kws01"))])
    printed = printed_lines(run_dir)
    assert distinct_in_order(printed) == expected
    assert first["lab"]["firmware"]["port"] == "qemu-mps2-an386" and first["lab"]["qemu"]["icount_shift"] == 3
    assert first["check_outputs"]["mismatches"] == 0


@pytest.mark.parametrize("bench", ["vww01", "ic01", "ic02"])
def test_qemu_results_of_the_other_models_are_exact(cli, qemu_cache, tmp_path, reference, bench):
    data, run_dir = measure(cli, qemu_cache, tmp_path, "qemu-m4", "-b", bench, "--iterations", "1", "--warmup", "0",
                            code=3)
    expected = predicted_lines(bench, [raw for _, raw in performance_stimuli(get_benchmark(bench))])
    assert distinct_in_order(printed_lines(run_dir)) == expected


def test_qemu_energy_matches_the_physics(cli, qemu_cache, tmp_path, reference):
    data, run_dir = measure(cli, qemu_cache, tmp_path, "qemu-m4", "-b", "ad", "--mode", "energy",
                            "--iterations", "100", code=3)
    compute_w = 22.688e-3 * 1.8  # qemu-m4's compute current at the default 1800 mV
    for window in data["windows"]:
        # the core runs throughout a window, so energy = compute power x window length
        assert window["energy_uj"] == pytest.approx(compute_w * window["seconds"] * 1e6, rel=2e-3)
        assert window["energy_uj"] == pytest.approx(window["truth_energy_uj"], rel=1e-3)
    assert data["dut"]["firmware_mode"] == "energy"
    expected = predicted_lines("ad01", [raw for _, raw in performance_stimuli(get_benchmark("ad01"))])
    assert distinct_in_order(printed_lines(run_dir)) == expected


def test_qemu_accuracy_run(cli, qemu_cache, tmp_path, synth_datasets):
    folder = synth_datasets["ad01"]
    dataset = load_dataset(folder, get_benchmark("ad01"))
    data, run_dir = measure(cli, qemu_cache, tmp_path, "qemu-m4", "-b", "ad", "--mode", "accuracy",
                            "--dataset", str(folder), code=3)
    windows = [w for e in dataset.entries for w in dataset.windows(e, dataset.read(e))]
    # a synthetic dataset is never valid for submission; that is the one violation
    assert data["inferences"] == len(windows) and data["violations"] == [get_benchmark("ad01").synthetic_violation()]
    assert printed_lines(run_dir) == predicted_lines("ad01", windows)
