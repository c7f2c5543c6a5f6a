"""Bad input and broken benches: one clear line, a distinct exit code, no traceback, and the
run directory keeps what was captured with a status that says why the run stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

from conftest import assert_one_line_error

BOARD = "virtual-l4r5zi"


def run_dir_of(tmp_path: Path) -> Path:
    dirs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_unknown_board(cli):
    assert_one_line_error(cli("measure", "--board", "nucleo-nope", "-b", "kws"), 10, "unknown board 'nucleo-nope'")


def test_unknown_benchmark_and_contradictory_options(cli):
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "speech"), 2, "unknown benchmark 'speech'")
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy"), 2, "--dataset")
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--target-window", "5"), 2, "at least 10")
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--dut", "/dev/null", "--lab-speed", "5"),
                          2, "--lab-speed", "no effect with --dut")
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy", "--dataset", ".",
                              "--warmup", "3"), 2, "--warmup applies to performance and energy mode only")
    assert_one_line_error(cli("lab", "serve", "--board", BOARD, "-b", "kws", "--speed", "0"), 2, "--speed")


def test_no_model_directory(cli):
    env = {"TINY_RUNNER_MODEL_DIR": ""}
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", env=env), 11, "TINY_RUNNER_MODEL_DIR")


def test_hash_mismatch(cli, tmp_path, reference):
    (tmp_path / "kws01").mkdir()
    bad = tmp_path / "kws01/kws_ref_model.tflite"
    shutil.copy(reference / "kws01/kws_ref_model.tflite", bad)
    with open(bad, "r+b") as f:
        f.seek(5000)
        f.write(b"\x00\x01")
    result = cli("measure", "--board", BOARD, "-b", "kws", "--model-dir", str(tmp_path), "--out", str(tmp_path))
    assert_one_line_error(result, 11, "not the official kws01 model", "sha256")


def test_dataset_without_labels_and_with_a_missing_file(cli, tmp_path, synth_datasets):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy", "--dataset", str(empty)),
                          12, "has no y_labels.csv")
    broken = tmp_path / "broken"
    shutil.copytree(synth_datasets["kws01"], broken)
    victim = sorted(broken.glob("*.bin"))[3]
    victim.unlink()
    assert_one_line_error(cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy", "--dataset", str(broken)),
                          12, "1 of 16 files", victim.name)


def test_port_that_cannot_be_opened(cli, tmp_path):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", "/dev/ttyNOPE9", "--out", str(tmp_path))
    assert_one_line_error(result, 13, "cannot open port /dev/ttyNOPE9")
    status = json.loads((run_dir_of(tmp_path) / "status.json").read_text())
    assert status["state"] == "failed" and status["exit_code"] == 13


def test_silent_port_says_which_port_what_was_sent_and_how_long(cli, tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        port = os.ttyname(slave)
        result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", port, "--out", str(tmp_path))
    finally:
        os.close(master)
        os.close(slave)
    assert_one_line_error(result, 14, f"no reply from {port}", "'name%'", "within 42.5 s", "received nothing")


def test_e_reply_stops_the_run_and_keeps_what_was_captured(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path),
                 "--lab-fault", "error_reply.infer=Out of memory")
    assert_one_line_error(result, 15, "e-[Out of memory]", "infer")
    run = run_dir_of(tmp_path)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "e-[Out of memory]" in status["reason"]
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "failed" and results["valid"] is False
    assert results["dut"]["model_id"] == "kws01"  # the handshake that did happen is kept
    assert b"e-[Out of memory]" in (run / "wire.log").read_bytes()
    assert "ERROR: run failed" in (run / "results.txt").read_text()


def test_wrong_mode_firmware_names_both_modes(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path), "--lab-firmware-mode", "energy")
    assert_one_line_error(result, 16, "energy-mode firmware", "performance-mode build")


def test_wrong_model_firmware(cli, tmp_path, reference):
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", BOARD, "-b", "vww"],
                              stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        port = server.stdout.readline().split()[1]
        result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", port, "--out", str(tmp_path))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert_one_line_error(result, 16, "runs vww01 firmware", "kws01")


def test_lost_uart_bytes_are_caught_not_measured(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "vww", "--out", str(tmp_path), "--lab-fault", "drop_rx_every=997")
    assert result.code in (15, 17), result.stderr
    assert_one_line_error(result, result.code)


def test_a_crashing_virtual_dut_is_a_lab_error_not_a_crashed_runner(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path), "--lab-fault", "abort_on_infer=1")
    assert_one_line_error(result, 18, "virtual bench process died", "signal 6")
    assert (run_dir_of(tmp_path) / "virtual-lab.log").exists()


def test_interrupted_run_keeps_finished_windows(tmp_path, reference):
    proc = subprocess.Popen([sys.executable, "-m", "tiny_runner", "measure", "--board", BOARD, "-b", "kws",
                             "--out", str(tmp_path), "--lab-speed", "4", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a shell's background job would start with Ctrl-C ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    windows = None
    while time.monotonic() < deadline:
        runs = list(tmp_path.glob("*/windows.jsonl"))
        if runs and runs[0].read_text().count("\n") >= 1:
            windows = runs[0]
            break
        time.sleep(0.1)
    assert windows is not None, "no window finished in time"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in stderr
    run = windows.parent
    assert json.loads((run / "status.json").read_text())["state"] == "interrupted"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "interrupted" and len(results["windows"]) >= 1
    assert results["windows"][0]["seconds"] >= 10
