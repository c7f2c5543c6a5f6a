"""Options out of range, models the firmware cannot run, a port another run holds, and how a run
stops on Ctrl-C and SIGTERM: each one line with its own exit code, no traceback, and no lab
process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import flatbuffers
import pytest

from conftest import REPO, assert_one_line_error, require_tools
from tiny_runner.protocol.link import Link

sys.path.insert(0, str(REPO / "benchmarks"))
from interrupt_latency import descendants, running  # noqa: E402  (one way to see a run's process tree)

BOARD = "virtual-l4r5zi"


@pytest.mark.parametrize("options, fragment", [
    (["--target-window", "nan"], "--target-window nan: must be at least 10 s"),
    (["--target-window", "inf"], "--target-window inf: must be at least 10 s"),
    (["--target-window", "5"], "at least 10 s (the run rules' minimum)"),
    (["--target-window", "5000"], "at most 3600 s (the DUT's 32-bit microsecond timer)"),
    (["--lab-speed", "inf"], "--lab-speed must be a finite number > 0, not inf"),
    (["--lab-speed", "nan"], "--lab-speed must be a finite number > 0, not nan"),
    (["--lab-speed", "0"], "--lab-speed must be a finite number > 0, not 0"),
    (["--iterations", "0"], "--iterations 0: N must be 1..2147483647"),
    (["--iterations", "4294967296"], "--iterations 4294967296: N must be 1..2147483647"),
    (["--warmup", "-1"], "--warmup -1: must be 0..1000"),
    (["--warmup", "1000000"], "--warmup 1000000: must be 0..1000"),
    (["--limit", "5"], "--limit applies to accuracy mode only"),
    (["--mode", "accuracy", "--dataset", ".", "--limit", "0"], "--limit 0: K must be at least 1"),
    (["--mode", "accuracy", "--dataset", ".", "--iterations", "5"],
     "--iterations applies to performance and energy mode only"),
    (["--baud", "0"], "--baud must be a positive integer"),
    (["--mode", "energy", "--voltage", "0"], "--voltage 0: the lpm01a and virtual-l4r5zi allow 1800..3300 mV"),
    (["--mode", "energy", "--monitor-rate", "nan"], "--monitor-rate: the lpm01a samples at"),
    (["--mode", "energy", "--monitor-rate", "0"], "--monitor-rate: the lpm01a samples at"),
])
def test_out_of_range_options_name_their_cause(cli, tmp_path, options, fragment):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path), *options)
    assert_one_line_error(result, 2, fragment)
    assert list(tmp_path.iterdir()) == []  # refused before a run directory exists


def test_iterations_the_dut_could_count_but_no_run_could_finish_stop_after_the_probe(cli, tmp_path):
    """2e9 inferences fit the firmware's counter, but at kws's modelled latency the window would
    take weeks: refused once the probe has measured the latency, with the run directory kept."""
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path), "--iterations", "2000000000")
    line = assert_one_line_error(result, 2, "--iterations 2000000000: 2000000000 inferences at",
                                 "a window must stay under 3600 s")
    assert "would last" in line
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["exit_code"] == 2
    assert "calibration" not in json.loads((run / "results.json").read_text())


def write_float_input_model(reference: Path, out: Path) -> Path:
    """The kws model with its input tensor re-declared FLOAT32, written with the schema's own
    flatbuffer code (no converter needed)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf((reference / "kws01/kws_ref_model.tflite").read_bytes(), 0)
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].type = schema.TensorType.FLOAT32
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out.write_bytes(builder.Output())
    return out


def test_a_float_model_is_refused_before_the_run_with_its_tensor_types(cli, tmp_path, reference):
    model = write_float_input_model(reference, tmp_path / "float_kws.tflite")
    runs = tmp_path / "runs"
    result = cli("measure", "--board", BOARD, "-b", "kws", "--model", str(model), "--out", str(runs))
    assert_one_line_error(result, 11, "input tensor FLOAT32, output tensor INT8", "INT8 input and output")
    assert not runs.exists()
    require_tools("cc", "make")
    result = cli("measure", "--board", "native-posix", "-b", "kws", "--model", str(model), "--out", str(runs))
    assert_one_line_error(result, 11, "input tensor FLOAT32")


def test_a_second_run_on_a_port_in_use_stops_at_once(cli, tmp_path):
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        holder = Link(port, 115200)  # the first run's open port
        try:
            result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", port, "--out", str(tmp_path))
        finally:
            holder.close()
    finally:
        os.close(master)
        os.close(slave)
    assert_one_line_error(result, 13, f"cannot open port {port}: it is in use by another program")
    wire = next(p for p in tmp_path.iterdir() if p.is_dir()) / "wire.log"
    assert not wire.exists() or b"name%" not in wire.read_bytes()  # nothing was sent to the first run's DUT


# -- stopping ------------------------------------------------------------------------------------
def _start(tmp_path: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tiny_runner", "measure", "-b", "kws", "--out", str(tmp_path),
                             "-q", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a shell's background job would start with Ctrl-C ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_lab(proc: subprocess.Popen, count: int, timeout_s: float = 120) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = descendants(proc.pid)
        if len(found) >= count:
            time.sleep(1.0)  # let it get into the run
            return descendants(proc.pid)
        time.sleep(0.05)
    pytest.fail(f"the lab processes did not start: {proc.communicate(timeout=30)}")


@pytest.mark.parametrize("board, options, processes", [
    (BOARD, ["--mode", "energy"], 1),  # the virtual bench process
    ("qemu-m4", ["--mode", "energy"], 2),  # the QEMU energy bench and QEMU itself
    ("qemu-m4", [], 1),  # QEMU wired straight to the runner
])
def test_a_second_ctrl_c_leaves_no_lab_process_behind(tmp_path, board, options, processes):
    if board == "qemu-m4":
        require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    proc = _start(tmp_path, "--board", board, *options)
    lab = _wait_for_lab(proc, processes)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in lab) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in lab if running(pid)] == []
    status = json.loads((next(p for p in tmp_path.iterdir() if p.is_dir()) / "status.json").read_text())
    assert status["state"] == "interrupted" and status["reason"] == "interrupted by the user (Ctrl-C)"


def test_a_killed_runner_takes_its_lab_processes_with_it(tmp_path):
    """SIGKILL runs no cleanup at all: the lab processes end with the runner all the same."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    proc = _start(tmp_path, "--board", "qemu-m4", "--mode", "energy")
    lab = _wait_for_lab(proc, 2)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in lab) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in lab if running(pid)] == []


def test_sigterm_is_recorded_as_a_termination_not_the_user(tmp_path):
    proc = _start(tmp_path, "--board", BOARD, "--mode", "energy")
    _wait_for_lab(proc, 1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert "tiny-runner: error: terminated by SIGTERM; what was measured is kept in" in stderr
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    status = json.loads((run / "status.json").read_text())
    assert status == {**status, "state": "terminated", "reason": "terminated by SIGTERM", "exit_code": 143}
    assert json.loads((run / "results.json").read_text())["status"] == "terminated"


def test_ctrl_c_while_the_runner_starts_is_one_line(tmp_path):
    """Before any run directory: while Python loads the modules."""
    for delay in (0.25, 0.4, 0.6):  # Python itself is up by then; the modules are loading
        proc = _start(tmp_path, "--board", BOARD)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        # before Python installs its own handler the signal's default action ends the process
        assert proc.returncode in (130, -signal.SIGINT) and "Traceback" not in stderr, (delay, stderr)
