"""sww01 results as the official MLPerf Tiny submission checker reads them (../shared/peers,
unmodified): a valid energy run of a stream with 50 occurrences is scored with its exact
figures, for v1.3 and v1.4; a run that is not valid for submission is not scored at all.

The official long test file is not public, so the valid run plays a synthetic stream of the same
kind (`dataset synth --benchmark sww`, 300 s: the checker counts occurrences, not seconds; the
1200 s run is benchmarks/sww_stream.py's) whose truth file has its "synthetic" marker removed:
the marker is what makes such a run not valid, and the checker cannot tell the streams apart. The
checker wants, for sww with power, the energy folder's log.txt, results.txt, results.json and
the first energy plot as energy_inf_000.png, and a performance folder beside it."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, reference_path, run_cli

CHECKER = REPO.parent / "shared" / "peers" / "mlcommons-tiny" / "tools" / "submission" / "submission_checker.py"
SUBMITTER = "tiny-runner"
SYSTEM = "virtual-l4r5zi"
ENV = {"TINY_RUNNER_MODEL_DIR": str(reference_path())}


def measure(out: Path, folder: Path, truth: str, code: int) -> dict:
    result = run_cli("measure", "--board", SYSTEM, "--benchmark", "sww", "--mode", "energy", "--dataset", str(folder),
                     "--labels", truth, "--voltage", "3000", "--out", str(out), "--json", "--quiet", env=ENV,
                     timeout=600)
    assert result.code == code, result.stderr
    return result.json()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("sww-checker")
    folder = base / "stream"
    made = run_cli("dataset", "synth", "--benchmark", "sww", "--out", str(folder), "--length", "300",
                   "--occurrences", "50", env=ENV)
    assert made.code == 0, made.stderr
    entries = json.loads((folder / "sww_synth_test.json").read_text())
    assert "synthetic" in entries[0]
    (folder / "unmarked.json").write_text(json.dumps([{k: v for k, v in entries[0].items() if k != "synthetic"}]))
    return {"valid": measure(base / "runs", folder, "unmarked.json", 0),
            "short": measure(base / "runs", reference_path() / "sww01", "sww_short_test.json", 3)}


def place(tree: Path, system: str, results: dict) -> None:
    run_dir = Path(results["run_dir"])
    for mode in ("performance", "energy"):
        folder = tree / "closed" / SUBMITTER / "results" / system / "sww" / mode
        folder.mkdir(parents=True)
        for name in ("log.txt", "results.txt", "results.json"):
            shutil.copy(run_dir / name, folder / name)
        if mode == "energy":
            shutil.copy(run_dir / results["plots"][0], folder / "energy_inf_000.png")
    systems = tree / "closed" / SUBMITTER / "systems"
    systems.mkdir(parents=True, exist_ok=True)
    (systems / f"{system}.json").write_text(json.dumps({"Status": "available", "Board Name": SYSTEM,
                                                         "Processor(s) Name": "virtual Cortex-M4"}))


def run_checker(tree: Path, version: str) -> tuple[str, list[dict]]:
    table = tree.parent / f"{tree.name}-{version}.csv"
    proc = subprocess.run([sys.executable, str(CHECKER), "--input", str(tree), "--version", version, "--csv",
                           str(table)], capture_output=True, text=True, timeout=120, cwd=tree.parent)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    with open(table, newline="") as f:
        return proc.stdout + proc.stderr, list(csv.DictReader(f))


@pytest.mark.parametrize("version", ["v1.3", "v1.4"])
def test_a_valid_stream_is_scored_with_its_exact_figures(tmp_path, runs, version):
    valid = runs["valid"]
    assert valid["valid"] and valid["violations"] == []
    score, duty = valid["stream"]["score"], valid["stream"]["duty_cycle"]
    tp, fn, fp = (len(score[k]) for k in ("true_positives", "false_negatives", "false_positives"))
    assert tp + fn == 50 and fn <= 8 and fp <= 8
    tree = tmp_path / "tree"
    place(tree, SYSTEM, valid)
    log, rows = run_checker(tree, version)
    assert not [line for line in log.splitlines() if line.startswith("ERROR")], log
    assert "Results=1, NoResults=0" in log, log
    throughput = float(f"{duty['throughput_inf_per_s']:1.5}")
    power = float(f"{valid['median_power_mw']:5.4f}")
    results = dict(re.findall(r"INFO:main:Results (\S+) (.+)", log))
    assert results[f"closed/{SUBMITTER}/results/{SYSTEM}/sww"] == f"{throughput:f} with power_metric = {power:f}"
    (row,) = rows
    assert row["Model"] == "sww" and float(row["Result"]) == throughput and float(row["Power"]) == power
    assert float(row["Accuracy"]) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-3)


def test_a_stream_not_valid_for_submission_is_not_scored(tmp_path, runs):
    short = runs["short"]
    assert short["valid"] is False
    tree = tmp_path / "tree"
    place(tree, "short", short)
    log, rows = run_checker(tree, "v1.4")
    # nothing the checker scores: its sww parser fails on the missing figures, and it says so
    assert "Results=0, NoResults=0" in log, log
    assert f"ERROR:main:closed/{SUBMITTER}/results/short/sww/performance/ has issues" in log
    assert rows == []
