"""Benches on labgrid places, through a real deployment on 127.0.0.1 (support/labgrid_deployment.py): a
coordinator, an exporter serving the virtual lab's ptys through ser2net, and two places. Runs
through a place agree with the same runs on the lab directly, within the ground truth's
tolerance, and leave the place released on every way out; a place someone holds stops the run at
once or after a bounded wait; places that cannot serve a run are one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from support.labgrid_deployment import Labgrid, free_port, served_lab

BOARD = "virtual-l4r5zi"
# as from a terminal: a shell's background job (a CI runner's, too) would start with Ctrl-C ignored
FROM_A_TERMINAL = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731


@pytest.fixture(scope="module")
def lab(tmp_path_factory, reference):
    """Place `desk`: a kws DUT's UART (a lone port, so the DUT). Place `rack`: an ad energy bench,
    its ports exported under the rack's own names and given their roles by named matches."""
    folder = tmp_path_factory.mktemp("labgrid")
    truth = folder / "truth.jsonl"
    os.environ["TINY_RUNNER_MODEL_DIR"] = str(reference)
    deployment = Labgrid(folder)
    # x10 on the energy bench: what ser2net relays on a 2-core machine (test_remote_bench.py)
    with served_lab("-b", "kws", "--speed", "100") as desk, \
            served_lab("-b", "ad", "--energy-bench", "--speed", "10", "--truth", str(truth)) as rack:
        try:
            deployment.export("exp1", {"desk": {"uart0": desk["dut"]},
                                       "rack": {"ttyUSB0": rack["relay"], "ttyACM3": rack["monitor"]}})
            deployment.place("desk", {"exp1/desk/NetworkSerialPort/uart0": "uart0"}, {"board": BOARD})
            deployment.place("rack", {"exp1/rack/NetworkSerialPort/ttyUSB0": "interface",
                                      "exp1/rack/NetworkSerialPort/ttyACM3": "monitor"},
                             {"board": BOARD, "monitor": "lpm01a", "interface": "ifboard"})
            deployment.truth = truth
            yield deployment
        finally:
            deployment.stop()


def measure(cli, lab, tmp_path: Path, *options: str, env: dict | None = None):
    return cli("measure", "--out", str(tmp_path / "runs"), "--json", "-q", *options, env={**lab.env, **(env or {})})


def test_a_performance_run_through_a_place_is_the_direct_one_and_releases_it(cli, lab, tmp_path):
    direct = cli("measure", "--board", BOARD, "-b", "kws", "--lab-speed", "100", "--out", str(tmp_path / "d"),
                 "--json", "-q")
    assert direct.code == 0, direct.stderr
    result = measure(cli, lab, tmp_path, "--place", "desk", "-b", "kws")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["dut"]["url"].startswith("rfc2217://127.0.0.1:") and data["board"] == BOARD  # the board tag
    assert data["median_latency_ms"] == pytest.approx(direct.json()["median_latency_ms"], rel=1e-4)
    place = data["place"]
    assert place["place"] == "desk" and place["acquired_by_run"] and place["released"]
    assert place["resources"] == {"dut": "exp1/desk/NetworkSerialPort/uart0"}
    assert lab.holder("desk") is None
    listed = cli("results", "list", "--db", str(tmp_path / "runs" / "tiny-runner.db"), "--json")
    assert [run["place"] for run in json.loads(listed.stdout)] == ["desk"]


def test_an_energy_run_through_a_place_matches_the_ground_truth(cli, lab, tmp_path):
    result = measure(cli, lab, tmp_path, "--place", "rack", "-b", "ad", "--mode", "energy")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["relay"]["kind"] == "ifboard"
    assert data["place"]["resources"] == {"interface": "exp1/rack/NetworkSerialPort/ttyUSB0",
                                          "monitor": "exp1/rack/NetworkSerialPort/ttyACM3"}
    edges = [r for r in map(json.loads, lab.truth.read_text().splitlines()) if "edge_us" in r]
    truth_uj = [(b["energy_j"] - a["energy_j"]) * 1e6 for a, b in zip(edges[-10::2], edges[-9::2])]
    assert np.allclose([w["energy_uj"] for w in data["windows"]], truth_uj, rtol=0.005)  # the direct run's bound
    assert lab.holder("rack") is None


def test_a_place_someone_holds_stops_the_run_at_once_naming_them(cli, lab, tmp_path):
    lab.client("-p", "desk", "acquire", user="alice", check=True)
    try:
        result = measure(cli, lab, tmp_path, "--place", "desk", "-b", "kws")
        assert_one_line_error(result, 38, "place desk is acquired by", "/alice", "--wait SECONDS")
        assert not (tmp_path / "runs").exists()
        started = time.monotonic()
        waited = measure(cli, lab, tmp_path, "--place", "desk", "-b", "kws", "--wait", "1.5")
        assert_one_line_error(waited, 38, "/alice after waiting 1.5 s")
        assert time.monotonic() - started >= 1.5
        assert lab.holder("desk").endswith("/alice")  # never taken from its holder
    finally:
        lab.client("-p", "desk", "release", user="alice", check=True)


def test_a_run_waits_for_a_place_until_its_holder_releases_it(cli, lab, tmp_path):
    lab.client("-p", "desk", "acquire", user="bob", check=True)
    release = threading.Timer(2.0, lambda: lab.client("-p", "desk", "release", user="bob", check=True))
    release.start()
    try:
        result = measure(cli, lab, tmp_path, "--place", "desk", "-b", "kws", "--wait", "60", "--iterations", "5")
    finally:
        release.join()
    assert result.code == 3, result.stderr  # measured; short windows are never valid
    assert "place desk is acquired by" in result.stderr and "waiting up to 60 s" in result.stderr
    assert result.json()["place"]["released"] and lab.holder("desk") is None


def test_a_run_that_fails_on_the_place_still_releases_it(cli, lab, tmp_path):
    result = measure(cli, lab, tmp_path, "--place", "desk", "-b", "vww")  # the DUT runs kws
    assert result.code == 16, result.stderr
    status = json.loads(next((tmp_path / "runs").glob("*/results.json")).read_text())
    assert status["place"]["released"] and lab.holder("desk") is None


def test_ctrl_c_during_a_run_on_a_place_releases_it(lab, tmp_path):
    command = [sys.executable, "-m", "tiny_runner", "measure", "--place", "desk", "-b", "kws", "--out",
               str(tmp_path / "runs"), "--target-window", "600"]  # 6 s a window: SIGINT lands in the first
    run = subprocess.Popen(command, env=dict(os.environ, **lab.env), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=FROM_A_TERMINAL)
    try:
        started = next((line for line in iter(run.stderr.readline, "") if "performance: 5 windows" in line), None)
        assert started and run.poll() is None  # the place is acquired once the run opened its bench
        run.send_signal(signal.SIGINT)
        stderr = run.stderr.read()
        assert run.wait(timeout=60) == 130, stderr
        assert "interrupted by the user" in stderr
        status = json.loads(next((tmp_path / "runs").glob("*/results.json")).read_text())
        assert status["place"]["released"] and lab.holder("desk") is None
    finally:  # never leave the place to the next test
        if run.poll() is None:
            run.kill()
            run.wait()
            lab.client("-p", "desk", "release", check=False)


def test_ctrl_c_at_any_moment_of_opening_the_place_leaves_it_released(lab, tmp_path):
    """The signal swept across the run's start: checking the place, acquiring it (a request the
    coordinator may grant after the signal), waiting for its ports, probing the DUT."""
    for delay in (0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0):
        run = subprocess.Popen([sys.executable, "-m", "tiny_runner", "measure", "--place", "desk", "-b", "kws",
                                "--out", str(tmp_path / "runs"), "--target-window", "600"],
                               env=dict(os.environ, **lab.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=FROM_A_TERMINAL)
        try:
            time.sleep(delay)
            run.send_signal(signal.SIGINT)
            _, stderr = run.communicate(timeout=60)
            # a signal before Python has its handler takes its default action, before any place is asked for
            assert run.returncode in (130, -signal.SIGINT) and "Traceback" not in stderr, (delay, stderr)
            assert lab.holder("desk") is None, (delay, stderr)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
            lab.client("-p", "desk", "release", check=False)


def test_a_place_this_user_acquired_first_is_used_and_left_acquired(cli, lab, tmp_path):
    lab.client("-p", "desk", "acquire", check=True)
    try:
        result = measure(cli, lab, tmp_path, "--place", "desk", "-b", "kws", "--iterations", "5")
        assert result.code == 3, result.stderr
        assert result.json()["place"]["acquired_by_run"] is False
        assert lab.holder("desk") is not None
    finally:
        lab.client("-p", "desk", "release", check=True)


def test_a_bench_file_names_the_place(cli, lab, tmp_path):
    bench = tmp_path / "desk.toml"
    bench.write_text('name = "desk-file"\nplace = "desk"\n')
    result = measure(cli, lab, tmp_path, "--bench", str(bench), "-b", "kws", "--iterations", "5")
    assert result.code == 3, result.stderr  # short windows
    data = result.json()
    assert data["bench"] == {"name": "desk-file", "file": str(bench), "dut": None, "relay": None, "monitor": None,
                             "place": "desk"}
    assert data["place"]["place"] == "desk" and lab.holder("desk") is None


@pytest.mark.parametrize("options, code, fragments", [
    (("--place", "nowhere", "-b", "kws"), 37, ("has no place 'nowhere'", "desk", "rack")),
    (("--place", "desk", "-b", "kws", "--mode", "energy", "--monitor", "lpm01a"), 37,
     ("place desk has no serial port named 'interface'", "add-named-match")),
    (("--place", "rack", "-b", "ad", "--mode", "energy", "--monitor", "ppk2"), 37,
     ("the ppk2 streams faster than an RFC 2217 port carries",)),
    (("--place", "rack", "-b", "ad", "--mode", "energy", "--monitor", "joulescope"), 37,
     ("the joulescope is reached over USB by its own driver",)),
    (("--place", "rack", "-b", "ad", "--mode", "energy", "--monitor", "lpm01a:/dev/ttyACM0"), 2,
     ("place rack gives the port; name the kind alone",)),
    (("--place", "desk", "-b", "kws", "--board", "nucleo-l4r5zi"), 2, ("place desk holds virtual-l4r5zi",)),
    (("--place", "desk", "-b", "kws", "--dut", "/dev/ttyACM0"), 2, ("--dut and --place",)),
    (("--board", BOARD, "-b", "kws", "--wait", "5"), 2, ("--wait applies to a labgrid place",)),
    (("--place", "desk", "-b", "kws", "--wait", "-1"), 2, ("--wait -1: seconds",)),
])
def test_places_that_cannot_serve_the_run_are_one_line_errors(cli, lab, tmp_path, options, code, fragments):
    result = measure(cli, lab, tmp_path, *options)
    assert_one_line_error(result, code, *fragments)
    assert not (tmp_path / "runs").exists()
    assert lab.holder("desk") is None and lab.holder("rack") is None


def test_a_coordinator_that_does_not_answer_is_one_line(cli, tmp_path):
    result = cli("measure", "--place", "desk", "-b", "kws", "--out", str(tmp_path / "runs"),
                 env={"LG_COORDINATOR": f"127.0.0.1:{free_port()}"})
    assert_one_line_error(result, 37, "cannot reach the labgrid coordinator at 127.0.0.1:", "LG_COORDINATOR")


def test_a_campaign_runs_a_local_bench_and_a_place_side_by_side_and_resumes(cli, lab, tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text('name = "two-benches"\nbenchmarks = ["kws", "ad"]\nmodes = ["performance"]\nrepeats = 2\n'
                    f'[[benches]]\nname = "local"\nboard = "{BOARD}"\n'
                    '[[benches]]\nname = "desk"\nplace = "desk"\nwait = 30\nbenchmarks = ["kws"]\n'
                    '[measure]\ntarget_window = 10\n')
    run = cli("campaign", str(path), "--out", str(tmp_path / "runs"), "--json", env=lab.env)
    outcome = json.loads(run.stdout)
    assert run.code == 0 and outcome["done"] == 6 and outcome["failed"] == 0, run.stderr
    listed = json.loads(cli("results", "list", "--db", str(tmp_path / "runs" / "tiny-runner.db"), "--json").stdout)
    assert sorted((r["place"] or "", r["benchmark"]) for r in listed) == [
        ("", "ad01"), ("", "ad01"), ("", "kws01"), ("", "kws01"), ("desk", "kws01"), ("desk", "kws01")]
    assert lab.holder("desk") is None
    again = json.loads(cli("campaign", str(path), "--out", str(tmp_path / "runs"), "--json", env=lab.env).stdout)
    assert again["skipped"] == 6
