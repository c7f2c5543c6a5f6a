"""The run directory when it cannot be had: --out or --run-dir naming a file, a read-only folder,
a disk that fills before, during or at the end of a run. Each is one `tiny-runner: error:` line
with its own exit code, status.json says why where it can still be written, no temporary file
is left, and runs started at the same moment never share a directory."""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error, tmpfs
from tiny_runner.errors import RunDirError
from tiny_runner.run.rundir import RunDir

BOARD = "virtual-l4r5zi"
QUICK = ("--board", BOARD, "-b", "kws", "--mode", "performance", "--iterations", "5", "--lab-speed", "1000", "-q")
RUN_DIR_ERROR = 31


def measure(cli, *args):
    return cli("measure", *QUICK, *args, timeout=120)


def fill(disk: Path) -> None:
    """Take every free byte of the disk."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


def only_run_dir(root: Path) -> Path:
    dirs = [p for p in root.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


# -- a file where a folder should be ----------------------------------------------------------------
def test_out_naming_a_file(cli, tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    result = measure(cli, "--out", str(tmp_path / "runs"))
    assert_one_line_error(result, RUN_DIR_ERROR, f"the runs folder {tmp_path / 'runs'} exists and is not a folder")
    assert (tmp_path / "runs").read_text() == "not a folder"


def test_out_below_a_file(cli, tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    result = measure(cli, "--out", str(tmp_path / "runs" / "more"))
    assert_one_line_error(result, RUN_DIR_ERROR, f"cannot create the runs folder {tmp_path / 'runs' / 'more'}",
                          "Not a directory")


def test_run_dir_naming_a_file(cli, tmp_path):
    (tmp_path / "run").write_text("not a folder")
    result = measure(cli, "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(result, RUN_DIR_ERROR, f"run directory {tmp_path / 'run'} exists and is not a folder")
    assert (tmp_path / "run").read_text() == "not a folder"


def test_run_dir_not_empty_stays_a_usage_error(cli, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("x")
    result = measure(cli, "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(result, 2, "already exists and is not empty")


# -- a read-only folder ---------------------------------------------------------------------------
def test_out_and_run_dir_on_a_read_only_disk(cli, tmp_path):
    with tmpfs(tmp_path / "ro", "size=64k,ro") as ro:
        assert_one_line_error(measure(cli, "--out", str(ro)), RUN_DIR_ERROR, f"cannot create run directory {ro}/",
                              "Read-only file system")
        assert_one_line_error(measure(cli, "--out", str(ro / "runs")), RUN_DIR_ERROR,
                              f"cannot create the runs folder {ro / 'runs'}: Read-only file system")
        assert_one_line_error(measure(cli, "--run-dir", str(ro / "run")), RUN_DIR_ERROR,
                              f"cannot create run directory {ro / 'run'}: Read-only file system")
        assert list(ro.iterdir()) == []


# -- a full disk ----------------------------------------------------------------------------------
def test_disk_full_before_the_run(cli, tmp_path):
    """No room even for status.json: the run stops before any device is started."""
    with tmpfs(tmp_path / "disk", "size=64k") as disk:
        fill(disk)
        result = measure(cli, "--out", str(disk / "runs"))
        assert_one_line_error(result, RUN_DIR_ERROR, "status.json: No space left on device",
                              "the disk holding the run directory is full")
        assert result.stdout == ""
        run = only_run_dir(disk / "runs")
        assert not (run / "status.json").exists() and not (run / "wire.log").exists()
        assert leftovers(disk) == []


def test_disk_full_while_the_wire_log_is_written(cli, tmp_path):
    """16 KiB: the wire log fills the disk in the middle of the run. The run stops there; what
    it had written is kept and status.json (rewritten in place) says why."""
    with tmpfs(tmp_path / "disk", "size=16k") as disk:
        result = measure(cli, "--out", str(disk))
        run = only_run_dir(disk)
        message = assert_one_line_error(result, RUN_DIR_ERROR, f"cannot write {run / 'wire.log'}: "
                                        "No space left on device (the disk holding the run directory is full)")
        assert "Traceback" not in result.stderr and result.stdout == ""
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "failed" and status["exit_code"] == RUN_DIR_ERROR
        assert status["reason"] == message.removeprefix("tiny-runner: error: ")
        assert (run / "wire.log").read_bytes().startswith(b"# DUT at ")
        assert leftovers(disk) == []


def test_disk_full_when_the_results_are_written(cli, tmp_path):
    """28 KiB: the run's logs fit, results.json does not. The numbers were measured, so the
    summary is still printed; status.json says what could not be written."""
    with tmpfs(tmp_path / "disk", "size=28k") as disk:
        result = measure(cli, "--out", str(disk))
        run = only_run_dir(disk)
        assert_one_line_error(result, RUN_DIR_ERROR, f"cannot write {run / 'results.json'}: No space left on device")
        assert result.stdout.startswith(f"kws01 performance on {BOARD} (virtual DUT, lab speed x1000)\n")
        assert "median throughput" in result.stdout
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "failed" and "results.json: No space left on device" in status["reason"]
        assert len((run / "windows.jsonl").read_text().splitlines()) == 5
        assert not (run / "results.json").exists()
        assert leftovers(disk) == []


def test_disk_full_when_the_results_are_written_json(cli, tmp_path):
    with tmpfs(tmp_path / "disk", "size=28k") as disk:
        result = measure(cli, "--out", str(disk), "--json")
        assert result.code == RUN_DIR_ERROR, result.stderr
        data = json.loads(result.stdout)
        assert data["status"] == "failed" and "results.json" in data["stop_reason"]
        assert len(data["windows"]) == 5 and data["median_throughput_inf_per_s"] > 0


# -- atomic writes and unique names ---------------------------------------------------------------
def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path):
    run = RunDir.create(tmp_path, "label")
    (run.path / "results.json").mkdir()  # nothing can be renamed over a folder
    with pytest.raises(RunDirError, match=r"cannot write .*results\.json: Is a directory"):
        run.write_results({"a": 1}, "text")
    run.close()
    assert leftovers(tmp_path) == []
    assert json.loads((run.path / "status.json").read_text())["state"] == "running"


def test_status_is_rewritten_in_place_when_the_disk_is_full(tmp_path):
    with tmpfs(tmp_path / "disk", "size=16k") as disk:
        run = RunDir.create(disk, "label")
        fill(disk)
        with pytest.raises(RunDirError, match="results.json: No space left on device"):
            run.write_results({"windows": list(range(2000))})
        run.set_status("failed", "disk full", 31)
        assert json.loads((run.path / "status.json").read_text())["reason"] == "disk full"
        run.close()
        assert leftovers(disk) == []


RACE = """
import sys, time
from pathlib import Path
from tiny_runner.run.rundir import RunDir

start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
run = RunDir.create(Path(sys.argv[1]), "virtual-l4r5zi-kws01-performance")
run.close()
print(run.path)
"""


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    count = 6
    start = math.ceil(time.time()) + 1.3  # well inside one second, so every name has the same time stamp
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    paths = [Path(out.strip()) for out, _ in outputs]
    assert len(set(paths)) == count, paths
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    stamp = paths[0].name.split("-virtual")[0]
    assert {p.name for p in paths} == {f"{stamp}-virtual-l4r5zi-kws01-performance"} | {
        f"{stamp}-virtual-l4r5zi-kws01-performance-{n}" for n in range(2, count + 1)}
    for path in paths:
        assert json.loads((path / "status.json").read_text())["state"] == "running"
    assert leftovers(tmp_path) == []



def test_disk_full_while_an_energy_capture_streams(cli, tmp_path):
    """100 kS/s of raw samples fill 512 KiB in a few seconds of DUT time: whichever file meets the
    full disk first, the run stops with one line, the capture thread included."""
    with tmpfs(tmp_path / "disk", "size=512k") as disk:
        result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor-rate", "100000",
                     "--out", str(disk), "-q", timeout=120)
        run = only_run_dir(disk)
        message = assert_one_line_error(result, RUN_DIR_ERROR, "No space left on device")
        assert "Exception in thread" not in result.stderr
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "failed" and status["reason"] == message.removeprefix("tiny-runner: error: ")
        assert (run / "capture" / "energy.f4").stat().st_size > 0
        assert leftovers(disk) == []
