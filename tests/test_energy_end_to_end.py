"""`tiny-runner measure --mode energy` on the virtual energy bench (emulated interface board and
LPM01A, the DUT's physics with ground truth), and re-analysis of an EEMBC session."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from tiny_runner.boards import load_board
from tiny_runner.run.capture import read_capture

BOARD = "virtual-l4r5zi"


def real_board(folder: Path, name: str) -> dict:
    """A copy of the packaged NUCLEO-L4R5ZI descriptor under another name, in its own folder; the
    env that makes tiny-runner find it."""
    folder.mkdir(parents=True, exist_ok=True)
    packaged = load_board("nucleo-l4r5zi").path.read_text(encoding="utf-8")
    (folder / f"{name}.toml").write_text(packaged.replace('name = "nucleo-l4r5zi"', f'name = "{name}"'))
    return {"TINY_RUNNER_BOARDS": str(folder)}


def energy_run(cli, tmp_path, *args, expect=0):
    result = cli("measure", "--board", BOARD, "--mode", "energy", "--out", str(tmp_path), "--json", "--quiet", *args)
    assert result.code == expect, result.stderr
    data = result.json()
    return data, Path(data["run_dir"])


def test_energy_at_1khz_matches_the_ground_truth(cli, tmp_path, reference):
    data, run = energy_run(cli, tmp_path, "-b", "kws", "--lab-speed", "25")
    assert data["valid"] and data["violations"] == []
    assert len(data["windows"]) == 5
    for w in data["windows"]:
        assert w["seconds"] >= 10 and len(w["edges"]) == 2
        assert abs(w["truth_error_pct"]) < 0.5  # the bound at 1 kHz
        assert w["energy_uj_per_inf"] == pytest.approx(w["energy_uj"] / w["inferences"])
        assert w["power_mw"] == pytest.approx(w["energy_uj"] / w["seconds"] / 1e3)
        assert w["quantisation_uj"] / w["energy_uj"] < 2e-4  # one 1 ms sample at each end of a 12 s window
    truth = data["lab"]["truth"]
    assert data["median_energy_uj_per_inf"] == pytest.approx(truth["median_energy_uj_per_inf"], rel=0.005)
    # the physics behind it: 22.688 mA x 1.8 V for the modelled 181.9174 ms per inference
    assert truth["median_energy_uj_per_inf"] == pytest.approx(22.688e-3 * 1.8 * 181.9174e3, rel=2e-4)
    assert data["median_throughput_inf_per_s"] == pytest.approx(1 / 0.1819174, rel=2e-3)
    assert data["monitor"]["voltage_mv"] == 1800 and data["monitor"]["firmware"] == "1.0.7"
    text = (run / "results.txt").read_text()
    match = re.search(r"Median energy cost is\s+([\d.]+) uJ/inf", text)
    assert match and float(match.group(1)) == pytest.approx(data["median_energy_uj_per_inf"], abs=1e-3)
    assert set(data["plots"]) == {f"window-{i}.png" for i in range(1, 6)} | {"energy-summary.png"}
    assert all((run / p).stat().st_size > 10_000 for p in data["plots"])
    meta, samples, edges = read_capture(run / "capture")
    assert meta["rate_hz"] == 1000 and len(samples) > 60_000
    w = data["windows"][0]
    assert float(np.sum(samples[w["edges"][0] + 1 : w["edges"][1] + 1], dtype=np.float64)) * 1e6 == \
        pytest.approx(w["energy_uj"], rel=1e-5)  # the spilled samples reproduce the window (float32 on disk)
    wire = (run / "monitor-wire.log").read_text()
    assert "> eventsrc d7 fal\\r\\n" in wire and "< PowerShield > ack start\\r\\n" in wire


def test_energy_at_100khz_within_0_05_percent(cli, tmp_path, reference):
    """Binary current samples at 100 kHz; short windows (--iterations) keep the test quick, so the
    run is marked not valid, but every window's energy is compared with the truth."""
    data, _ = energy_run(cli, tmp_path, "-b", "kws", "--monitor-rate", "100000", "--iterations", "2",
                         "--lab-speed", "1", expect=3)
    assert all("lasted" in v for v in data["violations"])
    for w in data["windows"]:
        assert abs(w["truth_error_pct"]) < 0.05
        assert w["quantisation_uj"] / w["energy_uj"] < 2e-4  # 10 us at each end of a 0.36 s window


@pytest.mark.parametrize("options, problem", [
    (("--lab-fault", "extra_pulse=1"), "spurious timestamp edges: 3 seen"),
    (("--lab-fault", "skip_pulse=4"), "missing timestamp edge: 1 of 2 seen"),
    (("--lab-monitor-quirk", "drop_every=3"), "samples lost inside the window"),
])
def test_broken_windows_are_flagged_and_not_valid(cli, tmp_path, reference, options, problem):
    data, run = energy_run(cli, tmp_path, "-b", "ad", "--lab-speed", "40", *options, expect=3)
    assert data["valid"] is False
    assert any(problem in v for v in data["violations"]), data["violations"]
    assert "ERROR: Not valid for submission." in (run / "results.txt").read_text()
    assert problem.split(":")[0] in (run / "log.txt").read_text() or any(problem in v for v in data["violations"])


def test_a_units_quirks_do_not_change_the_answer(cli, tmp_path, reference):
    data, _ = energy_run(cli, tmp_path, "-b", "ad", "--lab-speed", "40", "--lab-monitor-quirk", "stale_stream=1",
                         "--lab-monitor-quirk", "duplicate_ack=1", "--lab-monitor-quirk", "nul_after_timestamp=1",
                         "--lab-monitor-quirk", "glue_every=7")
    assert data["valid"] and data["lab"]["truth"]["max_abs_error_pct"] < 0.5


def test_voltage_option_scales_power(cli, tmp_path, reference):
    data, _ = energy_run(cli, tmp_path, "-b", "ad", "--lab-speed", "40", "--voltage", "3000")
    assert data["monitor"]["voltage_mv"] == 3000
    assert data["median_power_mw"] == pytest.approx(22.688 * 3.0, rel=0.01)  # compute current x 3.0 V


@pytest.mark.parametrize("options, code, fragments", [
    (("--lab-monitor-quirk", "firmware=1.0.5"), 21, ("firmware 1.0.5", "1.0.6 or newer")),
    (("--lab-monitor-quirk", "refuse=volt"), 20, ("refused 'volt 1800m'", "command failed")),
    (("--lab-firmware-mode", "performance"), 16, ("performance-mode firmware", "energy-mode build")),
    (("--voltage", "1200"), 2, ("--voltage 1200", "1800..3300 mV")),
    # a virtual board given the pass-through board's port is measured through an outside bench: it needs both ports
    (("--relay", "ifboard:/dev/null"), 2, ("--relay ifboard:/dev/null measures through an outside bench",
                                            "name its monitor's port too (--monitor lpm01a:PORT)")),
    (("--monitor", "lpm01a:/dev/null"), 2, ("the virtual lab wires its own emulated monitor",)),
])
def test_monitor_and_option_errors(cli, tmp_path, reference, options, code, fragments):
    result = cli("measure", "--board", BOARD, "-b", "ad", "--mode", "energy", "--out", str(tmp_path), *options)
    assert_one_line_error(result, code, *fragments)


def test_a_failed_energy_run_keeps_its_capture(cli, tmp_path, reference):
    result = cli("measure", "--board", BOARD, "-b", "ad", "--mode", "energy", "--out", str(tmp_path),
                 "--lab-fault", "error_reply.infer=Out of memory")
    assert_one_line_error(result, 15, "e-[Out of memory]")
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run / "status.json").read_text())["state"] == "failed"
    meta, samples, _ = read_capture(run / "capture")
    assert len(samples) > 0 and meta["monitor"]["model"] == "LPM01A"


def test_real_board_energy_needs_monitor_and_relay(cli, tmp_path):
    env = real_board(tmp_path, "real")
    # nothing named and nothing attached on this machine: detection finds no monitor
    assert_one_line_error(cli("measure", "--board", "real", "-b", "kws", "--mode", "energy", env=env), 30,
                          "no energy monitor is attached", "--monitor lpm01a:PORT")
    # a relay named without its port is looked for, as a monitor is
    assert_one_line_error(cli("measure", "--board", "real", "-b", "kws", "--mode", "energy", "--relay", "ifboard",
                              "--monitor", "lpm01a:/dev/ttyNOPE", env=env), 30,
                          "no ifboard pass-through board is attached", "--relay ifboard:PORT")
    result = cli("measure", "--board", "real", "-b", "kws", "--mode", "energy", "--monitor", "lpm01a:/dev/ttyNOPE",
                 "--relay", "ifboard:/dev/ttyNOPE2", "--out", str(tmp_path / "runs"), env=env)
    assert_one_line_error(result, 20, "cannot open LPM01A port /dev/ttyNOPE")


# -- EEMBC EnergyRunner sessions --------------------------------------------------------------------
def test_eembc_session_windows_match_its_results_within_0_05_percent(cli, reference):
    result = cli("analyze", str(reference / "eembc-session-example"), "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert [w["number"] for w in data["windows"]] == [2, 4, 6, 8, 10]
    for w in data["windows"]:
        assert w["inferences"] == 110
        assert abs(w["difference_pct"]) < 0.05
    assert data["median_energy_uj_per_inf"] == pytest.approx(data["reported_median_energy_uj_per_inf"], rel=5e-4)
    text = cli("analyze", str(reference / "eembc-session-example")).stdout
    assert "median energy" in text and "EnergyRunner reported 5230.273" in text


def test_eembc_session_errors(cli, tmp_path):
    assert_one_line_error(cli("analyze", str(tmp_path / "nope")), 22, "is not a folder")
    (tmp_path / "trace1-energy.bin").write_bytes(b"\x00\x00")
    assert_one_line_error(cli("analyze", str(tmp_path)), 22, "not an EnergyRunner trace")


def test_the_real_bench_code_path_against_emulated_instruments(cli, tmp_path, reference):
    """A real board's energy run: ports given with --monitor and --relay, as on a lab bench;
    here they are an emulated LPM01A and interface board served by `lab serve --energy-bench`."""
    env = real_board(tmp_path / "boards", "bench-l4r5zi")
    truth = tmp_path / "truth.jsonl"
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", BOARD, "-b", "ad",
                               "--energy-bench", "--speed", "40", "--truth", str(truth)],
                              stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        ports = dict(server.stdout.readline().split() for _ in range(2))  # "relay <path>", "monitor <path>"
        result = cli("measure", "--board", "bench-l4r5zi", "-b", "ad", "--mode", "energy", "--json", "-q",
                     "--monitor", f"lpm01a:{ports['monitor']}", "--relay", f"ifboard:{ports['relay']}",
                     "--out", str(tmp_path / "runs"), env=env)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["relay"]["kind"] == "ifboard" and "lab" not in data
    records = [json.loads(line) for line in truth.read_text().splitlines()]
    edges = [r for r in records if "edge_us" in r]
    # the five windows made the last ten falling edges
    truth_uj = [(b["energy_j"] - a["energy_j"]) * 1e6 for a, b in zip(edges[-10::2], edges[-9::2])]
    measured = [w["energy_uj"] for w in data["windows"]]
    assert np.allclose(measured, truth_uj, rtol=0.005)


def test_fast_monitor_rates_slow_the_lab_down_instead_of_losing_edges(cli, tmp_path, reference):
    data, run = energy_run(cli, tmp_path, "-b", "ad", "--monitor-rate", "10000")  # default lab speed x100
    assert data["valid"] and data["lab"]["speed"] == 20  # 200,000 samples/s / 10 kHz
    assert data["lab"]["truth"]["max_abs_error_pct"] < 0.05
    assert "lab speed lowered from x100 to x20" in (run / "log.txt").read_text()


@pytest.mark.parametrize("monitor, bound_pct, rate", [("ppk2", 0.1, 100_000), ("joulescope", 0.05, 1_000_000)])
def test_each_monitor_matches_the_ground_truth_at_its_native_rate(cli, tmp_path, reference, monitor, bound_pct, rate):
    """Short windows (--iterations) keep the test quick, so the run is marked not valid; every
    window's energy is still checked against what the bench drew."""
    data, run = energy_run(cli, tmp_path, "-b", "kws", "--monitor", monitor, "--iterations", "10", expect=3)
    assert all("lasted" in v for v in data["violations"])
    assert data["monitor"]["rate_hz"] == rate and data["lab"]["monitor"] == monitor
    for w in data["windows"]:
        assert len(w["edges"]) == 2 and w["dropped_samples"] == 0
        assert abs(w["truth_error_pct"]) < bound_pct
    if monitor == "joulescope":
        assert data["monitor"]["voltage_mv"] is None  # it cannot source: the supply is measured
        assert data["monitor"]["measured_voltage_mv"] == pytest.approx(1800, rel=1e-3)
    meta, samples, _ = read_capture(run / "capture")
    assert meta["rate_hz"] == rate and len(samples) > rate


def test_monitor_faults_are_flagged(cli, tmp_path, reference):
    data, _ = energy_run(cli, tmp_path, "-b", "kws", "--monitor", "ppk2", "--iterations", "10",
                         "--lab-monitor-quirk", "gap_every=170000", expect=3)
    assert any("samples lost inside the window" in v for v in data["violations"])


def test_joulescope_refuses_a_voltage(cli, tmp_path):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "energy", "--monitor", "joulescope",
                 "--voltage", "3300")
    assert_one_line_error(result, 2, "cannot set the DUT voltage")


def measure_served_bench(cli, tmp_path, board: str, serve: list[str], monitor: str, relay: str) -> tuple[dict, dict]:
    """`lab serve --energy-bench SERVE...` in the background, measured through its ports as a real
    board's bench: (the run's results, the served ports)."""
    env = real_board(tmp_path / "boards", board)
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", BOARD, "-b", "kws",
                               "--energy-bench", *serve, "--speed", "5"], stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        ports = dict(server.stdout.readline().split() for _ in range(2))
        result = cli("measure", "--board", board, "-b", "kws", "--mode", "energy", "--json", "-q",
                     "--iterations", "10", "--monitor", f"{monitor}:{ports['monitor']}",
                     "--relay", f"{relay}:{ports['relay']}", "--out", str(tmp_path / "runs"), env=env)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.code == 3, result.stderr  # short windows on purpose
    data = result.json()
    assert all(len(w["edges"]) == 2 and w["dropped_samples"] == 0 for w in data["windows"])
    assert data["median_energy_uj_per_inf"] == pytest.approx(22.688e-3 * 1.8 * 181.9174e3, rel=0.01)
    return data, ports


def test_the_real_ppk2_path_against_the_emulated_one(cli, tmp_path, reference):
    data, _ = measure_served_bench(cli, tmp_path, "bench-ppk2", ["--monitor", "ppk2"], "ppk2", "ifboard")
    assert data["monitor"]["model"] == "PPK2" and data["monitor"]["voltage_mv"] == 1800


def test_a_served_energy_bench_with_the_io_manager(cli, tmp_path, reference):
    """`lab serve --energy-bench --relay ioman` serves the EEMBC IO manager's emulator, which the
    real-port path reaches as `--relay ioman:PORT`."""
    data, ports = measure_served_bench(cli, tmp_path, "bench-ioman", ["--relay", "ioman"], "lpm01a", "ioman")
    assert data["relay"]["kind"] == "ioman" and data["relay"]["port"] == ports["relay"]


@pytest.mark.parametrize("options, message", [
    (["--energy-bench", "--monitor", "joulescope"], "the emulated joulescope is reached through its own driver"),
    (["--energy-bench", "--relay", "nope"], "nope"),
    (["--relay", "ioman"], "--relay goes with --energy-bench"),
])
def test_served_instruments_are_checked(cli, reference, options, message):
    result = cli("lab", "serve", "--board", BOARD, "-b", "kws", *options)
    assert_one_line_error(result, 2, message)
