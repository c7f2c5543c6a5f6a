"""results.txt as the official MLPerf Tiny submission checker reads it: runs of all four
benchmarks on the virtual board are placed in a submission tree, the unmodified checker from
../shared/peers runs on it, and valid runs must be scored with their exact figures while runs
that are not valid for submission (--limit, a synthetic dataset, short windows, a failed run)
must not be scored at all.

The reference data has no labelled classifier stimuli, so the valid accuracy runs of kws01,
vww01 and ic01 use copies of synthetic datasets without their dataset.json (the marker that
makes a run agreement, not accuracy); ad01's set is the reference's one real normal file (label
0) and three synthetic anomalies (label 1 by construction). Every results.txt is the one the
CLI wrote, except for the runs stopped after their figures were computed, which are the
results of real runs with the stop recorded as the session records it.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, reference_path, run_cli
from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.synth import stimulus
from tiny_runner.report.results import results_txt

CHECKER = REPO.parent / "shared" / "peers" / "mlcommons-tiny" / "tools" / "submission" / "submission_checker.py"
BOARD = "virtual-l4r5zi"
FAST = ("--lab-speed", "1000")
SHORT_WINDOWS = ("--target-window", "10")
MODELS = {"kws01": "kws", "vww01": "vww", "ic01": "ic", "ad01": "ad"}
SUBMITTER = "tiny-runner"
# the files the checker wants in every accuracy, performance and energy folder (MLC runner layout)
KEPT_FILES = ("log.txt", "results.txt", "results.json")


def measure(out: Path, *args: str, code: int = 0) -> dict:
    # (module-scoped runs start before the per-test fixture that sets the model folder)
    result = run_cli("measure", "--board", BOARD, "--out", str(out), "--json", "--quiet", *args,
                     env={"TINY_RUNNER_MODEL_DIR": str(reference_path())})
    assert result.code == code, result.stderr
    return result.json()


def unmarked_copy(dataset: Path, folder: Path) -> Path:
    shutil.copytree(dataset, folder)
    (folder / "dataset.json").unlink()
    return folder


def ad01_dataset(folder: Path) -> Path:
    """The one real ad01 file (a normal one) and three synthetic anomalies."""
    folder.mkdir()
    real = "normal_id_01_00000000_hist_librosa.bin"
    shutil.copy(reference_path() / "ad01" / real, folder / real)
    rows = [f"{real},2,0,2560,512"]
    for index in (1, 3, 5):
        data, label = stimulus(get_benchmark("ad01"), seed=7, index=index, ad_frames=12)
        assert label == 1
        (folder / f"anomaly_{index}.bin").write_bytes(data)
        rows.append(f"anomaly_{index}.bin,2,1,2560,512")
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def failed_after_the_figures(results: dict, state: str) -> dict:
    """A run whose figures were computed before it failed (e.g. writing the energy plots) or
    was interrupted, as the session records it."""
    stopped = copy.deepcopy(results)
    stopped.update(status=state, stop_reason=f"{state} while writing the plots", valid=False)
    return stopped


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synth_datasets):
    """Every run the trees are built from: {name: (results dict, run directory)}."""
    out = tmp_path_factory.mktemp("runs")
    done = {}
    for bench in MODELS:
        for mode in ("performance", "energy"):
            done[f"{bench}-{mode}"] = measure(out, "-b", bench, "--mode", mode, *FAST, *SHORT_WINDOWS)
        labelled = ad01_dataset(out / "ad01-set") if bench == "ad01" else \
            unmarked_copy(synth_datasets[bench], out / f"{bench}-set")
        done[f"{bench}-accuracy"] = measure(out, "-b", bench, "--mode", "accuracy", "--dataset", str(labelled))
    done["kws01-synthetic"] = measure(out, "-b", "kws", "--mode", "accuracy", "--dataset",
                                      str(synth_datasets["kws01"]), code=3)
    # on a set without dataset.json, --limit is the one violation
    done["kws01-limit"] = measure(out, "-b", "kws", "--mode", "accuracy", "--dataset", str(out / "kws01-set"),
                                  "--limit", "5", code=3)
    done["kws01-short-performance"] = measure(out, "-b", "kws", "--iterations", "10", *FAST, code=3)
    done["vww01-short-energy"] = measure(out, "-b", "vww", "--mode", "energy", "--iterations", "3", *FAST, code=3)
    return done


def place(tree: Path, system: str, bench: str, mode: str, results: dict, text: str | None = None) -> Path:
    """One run in the checker's layout: <division>/<submitter>/results/<system>/<model>/<mode>/."""
    folder = tree / "closed" / SUBMITTER / "results" / system / MODELS[bench] / mode
    folder.mkdir(parents=True)
    run_dir = Path(results["run_dir"])
    shutil.copy(run_dir / "log.txt", folder / "log.txt")
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "results.txt").write_text(text if text is not None else (run_dir / "results.txt").read_text())
    systems = tree / "closed" / SUBMITTER / "systems"
    systems.mkdir(parents=True, exist_ok=True)
    (systems / f"{system}.json").write_text(json.dumps({"Status": "available", "Board Name": BOARD,
                                                         "Processor(s) Name": "virtual Cortex-M4"}))
    return folder


def run_checker(tree: Path) -> tuple[str, list[dict]]:
    """The checker's log (it always exits 0: the verdict is in its lines) and its summary csv."""
    table = tree.parent / f"{tree.name}-summary.csv"
    proc = subprocess.run([sys.executable, str(CHECKER), "--input", str(tree), "--version", "v1.4",
                           "--csv", str(table)], capture_output=True, text=True, timeout=120, cwd=tree.parent)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    with open(table, newline="") as f:
        return proc.stdout + proc.stderr, list(csv.DictReader(f))


def scored(log: str) -> dict[str, str]:
    """{model folder: the checker's result} for every `Results` line."""
    return dict(re.findall(r"INFO:main:Results (\S+) (.+)", log))


def test_valid_runs_of_all_four_benchmarks_are_scored_with_their_exact_figures(tmp_path, runs):
    tree = tmp_path / "valid"
    for bench in MODELS:
        place(tree, "virtual-l4r5zi", bench, "accuracy", runs[f"{bench}-accuracy"])
        place(tree, "virtual-l4r5zi", bench, "performance", runs[f"{bench}-performance"])
        place(tree, "virtual-l4r5zi", bench, "energy", runs[f"{bench}-energy"])
    log, rows = run_checker(tree)
    (tmp_path / "checker-output.txt").write_text(log)
    assert "Results=4, NoResults=0" in log and "SUMMARY: submission looks OK" in log, log
    assert not [line for line in log.splitlines() if line.startswith("ERROR")], log
    results = scored(log)
    by_model = {row["Model"]: row for row in rows}
    for bench, model in MODELS.items():
        perf, energy = runs[f"{bench}-performance"], runs[f"{bench}-energy"]
        accuracy = runs[f"{bench}-accuracy"]
        assert perf["valid"] and energy["valid"] and accuracy["valid"]
        throughput = float(f"{perf['median_throughput_inf_per_s']:.3f}")
        uj = float(f"{energy['median_energy_uj_per_inf']:.4f}")
        name = f"closed/{SUBMITTER}/results/virtual-l4r5zi/{model}"
        assert results[name] == f"{throughput:f} with power_metric = {uj:f}"
        row = by_model[model]
        assert float(row["Result"]) == throughput and row["ResultUnit"] == "inf./sec."
        assert float(row["Power"]) == uj and row["HasPower"] == "True" and row["PowerUnit"] == "uJ/inf."
        # ad01 is scored by AUC, the classifiers by top-1, exactly as results.txt prints them
        expected = f"{accuracy['auc']:.3f}" if bench == "ad01" else f"{accuracy['top1_pct']:.1f}"
        assert row["Accuracy"] == expected
    # the figures the checker read are the ones the runner printed, to the digit
    energy_text = (tree / "closed" / SUBMITTER / "results/virtual-l4r5zi/kws/energy/results.txt").read_text()
    assert f"Median energy cost is {runs['kws01-energy']['median_energy_uj_per_inf']:.4f} uJ/inf." in energy_text


def test_runs_not_valid_for_submission_are_not_scored(tmp_path, runs):
    tree = tmp_path / "invalid"
    limit, synthetic = runs["kws01-limit"], runs["kws01-synthetic"]
    short_perf, short_energy = runs["kws01-short-performance"], runs["vww01-short-energy"]
    assert limit["violations"] == [f"--limit 5: 5 of {limit['stimuli']['files_in_dataset']} files; an accuracy "
                                   "result needs every file"]
    assert synthetic["valid"] is False and "agreement" in synthetic["violations"][0]
    failed = failed_after_the_figures(runs["kws01-performance"], "failed")
    interrupted = failed_after_the_figures(runs["kws01-energy"], "interrupted")
    cases = {
        # system: the benchmark, and the run not valid for submission that goes next to valid ones
        "limit": ("kws01", {"accuracy": (limit, None)}),
        "synthetic": ("kws01", {"accuracy": (synthetic, None)}),
        "short-windows": ("kws01", {"performance": (short_perf, None)}),
        "short-energy-windows": ("vww01", {"energy": (short_energy, None)}),
        "failed": ("kws01", {"performance": (failed, results_txt(failed))}),
        "interrupted": ("kws01", {"energy": (interrupted, results_txt(interrupted))}),
    }
    for system, (bench, special) in cases.items():
        folders = {"accuracy": (runs[f"{bench}-accuracy"], None),
                   "performance": (runs[f"{bench}-performance"], None)} | special
        for mode, (results, text) in folders.items():
            place(tree, system, bench, mode, results, text)
    log, rows = run_checker(tree)
    assert "Results=0, NoResults=2" in log, log
    assert scored(log) == {} and rows == []
    base = f"closed/{SUBMITTER}/results"
    for system in ("limit", "synthetic"):
        assert f"ERROR:main:{base}/{system}/kws/accuracy, accuracy not valid" in log
        assert f"ERROR:main:NoResults {base}/{system}/kws" in log
    assert f"ERROR:main:{base}/short-windows/kws/performance/ has issues" in log
    assert f"ERROR:main:{base}/failed/kws/performance/ has issues" in log
    for system, model in (("short-energy-windows", "vww"), ("interrupted", "kws")):
        assert f"ERROR:main:{base}/{system}/{model}/performance/ caused exception in check_power_dir" in log
        assert f"ERROR:main:{base}/{system}/{model}/performance/ has issues" in log


def test_an_invalid_run_keeps_its_figures_for_a_person(runs):
    text = (Path(runs["kws01-limit"]["run_dir"]) / "results.txt").read_text()
    # five files, each class at most once: top-1 agrees on all, no class has an AUC
    assert runs["kws01-limit"]["top1_pct"] == 100.0 and runs["kws01-limit"]["auc"] is None
    assert "ulp-mlperf: NOT VALID: top-1 100.0 %, AUC undefined\n" in text
    assert "ERROR: Not valid for submission. --limit 5" in text
    text = (Path(runs["kws01-synthetic"]["run_dir"]) / "results.txt").read_text()
    top1, auc = runs["kws01-synthetic"]["top1_pct"], runs["kws01-synthetic"]["auc"]
    assert f"NOT VALID: agreement with the reference model on a synthetic dataset: top-1 {top1:.1f} %, " \
           f"AUC {auc:.3f}\n" in text
    text = (Path(runs["vww01-short-energy"]["run_dir"]) / "results.txt").read_text()
    energy = runs["vww01-short-energy"]["median_energy_uj_per_inf"]
    assert f"NOT VALID: median energy {energy:.4f} uJ/inf\n" in text


def test_free_text_in_results_txt_cannot_be_scored():
    """Board names, DUT replies and stop reasons end up in results.txt; none can become a line
    the checker scores, nor a second line."""
    results = {"tiny_runner_version": "0", "board": "Top 1% = 99.9", "benchmark": "kws01", "mode": "accuracy",
               "status": "failed", "stop_reason": "e-[x]\nx Median throughput is 9.0 inf./sec. AUC = 0.99",
               "violations": ["Median energy cost is 1.0 uJ/inf"], "valid": False}
    text = results_txt(results)
    assert len(text.splitlines()) == 3
    checker = CHECKER.read_text()
    patterns = [r".* Median throughput is\s+([\d\.]+) inf\./sec\..*", r"Median energy cost is ([\d\.]+) uJ/inf",
                r".* Top[- ]1%?\s?[:=] ([\d\.]+).*", r".* AUC\s?[:=] ([\d\.]+).*"]
    for pattern in patterns:
        assert pattern in checker  # the checker's own patterns, character for character
        assert not any(re.search(pattern, line) for line in text.splitlines()), (pattern, text)
    assert "board top 1% = 99.9" in text and "median throughput is 9.0 inf./sec. auc = 0.99" in text


def test_a_synthetic_accuracy_run_is_called_agreement_in_every_line(cli, tmp_path, synth_datasets):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy", "--dataset",
                 str(synth_datasets["kws01"]), "--out", str(tmp_path))
    assert result.code == 3, result.stderr
    assert "kws01 agreement with the reference model (synthetic dataset): 16 files\n" in result.stderr  # progress
    lines = result.stdout.splitlines()
    assert lines[2].startswith("  agreement with the reference model: top-1 100.00 %, AUC ")
    assert lines[-3:-1] == ["  NOT VALID", "    - synthetic dataset (dataset.json): its labels are the reference "
                            "model's own top-1, so top-1 measures agreement with the reference model, not accuracy"]
    run_dir = Path(lines[-1].split(": ", 1)[1])
    assert "agreement with the reference model (synthetic dataset): 16 files" in (run_dir / "log.txt").read_text()
    figures = [line for line in (run_dir / "results.txt").read_text().splitlines() if "NOT VALID:" in line]
    assert len(figures) == 1 and "NOT VALID: agreement with the reference model on a synthetic dataset: top-1 " \
                                  "100.0 %, AUC " in figures[0]
