"""tiny-runner compare: a board's runs beside the published results. The virtual board's latency
model is calibrated from one published result, so that row is the ground truth of the ratio;
the class's best and median are worked out here from the reference table itself."""

from __future__ import annotations

import csv
import json
import re
import statistics

import pytest

from conftest import assert_one_line_error, reference_path, run_cli

BOARD = "virtual-l4r5zi"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    for options in ((), ("--mode", "energy"), ("--iterations", "5", "-b", "ad")):
        # (module-scoped runs start before the per-test fixture that sets the model folder)
        measured = run_cli("measure", "--board", BOARD, "-b", "kws", *options, "--out", str(out), "--json", "-q",
                           env={"TINY_RUNNER_MODEL_DIR": str(reference_path())})
        assert measured.code in (0, 3), measured.stderr
    return out


def cortex_m4_kws(reference) -> list[dict]:
    with open(reference / "mlperf_tiny_results.csv", newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["benchmark"] == "kws" and r["division"] == "closed"
                and not r["accelerator"] and re.search("M4", r["processor"])
                and not re.search("M7|M33|M55|M85", r["processor"])]


def test_the_run_beside_its_board_and_its_class(runs, reference):
    result = run_cli("compare", *map(str, sorted(runs.glob("*kws01*"))), "--json")
    assert result.code == 0, result.stderr
    entry, = result.json()["benchmarks"]
    assert entry["benchmark"] == "kws01" and entry["class"] == "Cortex-M4"
    mine = entry["run"]
    calibrated = next(r for r in entry["same_board"] if r["round"] == "v0.5" and r["submitter"] == "reference")
    assert calibrated["system_id"] == "Nucleo-L4R5ZI"
    # the latency model reproduces the row it is calibrated from: the measured median is 0.014 %
    # (25 us) above it
    assert calibrated["ratios"]["latency_ms"] == pytest.approx(1, abs=2e-4)
    assert mine["latency_ms"] / calibrated["latency_ms"] == calibrated["ratios"]["latency_ms"]
    rows = cortex_m4_kws(reference)
    assert entry["class_results"] == len(rows) >= 10
    latencies = [float(r["latency_ms"]) for r in rows if r["latency_ms"]]
    best = entry["class_best"]["latency_ms"]
    assert best["value"] == min(latencies) and best["ratio"] == pytest.approx(mine["latency_ms"] / min(latencies))
    median = entry["class_median"]["energy_uj_per_inf"]
    energies = [float(r["energy_uJ_per_inf"]) for r in rows if r["energy_uJ_per_inf"]]
    assert median["value"] == statistics.median(energies) and median["results"] == len(energies)
    assert median["ratio"] == pytest.approx(mine["energy_uj_per_inf"] / statistics.median(energies))
    assert mine["runs"]["latency_ms"]["round_ready"] and mine["runs"]["energy_uj_per_inf"]["round_ready"]
    # no accuracy run: the class's accuracy is still read in the benchmark's metric, top-1
    top1 = [float(r["top1_pct"]) for r in rows if r["top1_pct"]]
    assert mine["accuracy_metric"] == "top1" and entry["class_best"]["accuracy"]["value"] == max(top1)
    assert entry["class_median"]["accuracy"]["ratio"] is None  # nothing measured to set beside it


def test_a_run_not_valid_for_submission_is_never_shown_as_valid(runs):
    ad = [str(p) for p in runs.glob("*ad01*")]
    result = run_cli("compare", *ad)
    assert result.code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "this run  latency_ms" in line)
    assert line.endswith("(NOT VALID for submission)")
    data = json.loads(run_cli("compare", *ad, "--json").stdout)
    assert data["benchmarks"][0]["run"]["runs"]["latency_ms"]["round_ready"] is False
    ad = data["benchmarks"][0]
    assert ad["run"]["accuracy_metric"] == "auc" and 0.5 < ad["class_best"]["accuracy"]["value"] <= 1  # an AUC


def test_the_database_gives_the_same_comparison(runs):
    from_dirs = run_cli("compare", *map(str, sorted(runs.glob("*-*-*"))), "--json").json()
    from_db = run_cli("compare", "--db", str(runs / "tiny-runner.db"), "--board", BOARD, "--json").json()
    assert from_db["benchmarks"] == from_dirs["benchmarks"] and len(from_db["benchmarks"]) == 2


def test_bad_requests(runs, tmp_path):
    assert_one_line_error(run_cli("compare"), 2, "give run directories, or --db FILE --board NAME")
    assert_one_line_error(run_cli("compare", "--db", str(runs / "tiny-runner.db")), 2, "--db needs --board")
    assert_one_line_error(run_cli("compare", "--db", str(runs / "tiny-runner.db"), "--board", "nucleo-l4r5zi"), 2,
                          "has no runs of nucleo-l4r5zi")
    assert_one_line_error(run_cli("compare", "--db", str(tmp_path / "none.db"), "--board", BOARD), 34,
                          "does not exist")
    result = run_cli("compare", str(tmp_path))
    assert result.code != 0 and "Traceback" not in result.stderr and "results.json" in result.stderr
