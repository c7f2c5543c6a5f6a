"""tiny-runner campaign: a matrix of cells over two virtual benches, in parallel across benches and
never two at once on one; every run in the results database with its cell; a re-run that
measures nothing again; a bench that stops answering recorded with its reason and retried while
the other bench carries on; an interrupted campaign resumed without re-measuring; bad campaign
files refused with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli
from support.campaign_files import ENV, write
from tiny_runner.db.store import ResultsDb

BENCHES = """
[[benches]]
name = "lab-a"
board = "virtual-l4r5zi"

[[benches]]
name = "lab-b"
board = "virtual-l4r5zi"
"""
FAST = """
[measure]
target_window = 10
lab_speed = 1000
"""


def campaign(path: Path, out: Path, *args: str, code: int = 0) -> dict:
    result = run_cli("campaign", str(path), "--out", str(out), "--json", *args, env=ENV, timeout=600)
    assert result.code == code, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaign")
    path = write(folder, 'name = "sweep"\nbenchmarks = ["kws"]\nmodes = ["performance", "energy"]\n'
                         'voltages_mv = [1800, 3000]\n' + BENCHES + FAST)
    return folder, path, campaign(path, folder / "runs")


def test_cells_run_in_parallel_across_benches_and_one_at_a_time_on_each(first_run):
    folder, _, outcome = first_run
    assert outcome["done"] == 6 and outcome["failed"] == 0 and outcome["skipped"] == 0
    assert sorted(c["cell"] for c in outcome["cells"]) == sorted(
        f"{bench}: kws01 {mode} #1" for bench in ("lab-a", "lab-b")
        for mode in ("energy 1800 mV", "energy 3000 mV", "performance"))
    # two benches at once: the campaign took well under the cells' summed time
    assert outcome["wall_s"] < 0.8 * outcome["cell_seconds"]
    with ResultsDb(folder / "runs" / "tiny-runner.db") as db:
        runs = db.runs(campaign="sweep")
        assert len(runs) == 6 and all(r["status"] == "completed" for r in runs)
        assert {r["cell"]["key"] for r in runs} == {c["key"] for c in outcome["cells"]}
        assert sorted(r["supply_mv"] for r in runs if r["mode"] == "energy") == [1800, 1800, 3000, 3000]
        for bench in ("lab-a", "lab-b"):
            mine = sorted((r for r in runs if r["cell"]["definition"]["bench"] == bench), key=lambda r: r["started"])
            for earlier, later in zip(mine, mine[1:]):
                assert later["started"] >= earlier["finished"]  # never two cells on one bench at once
        assert {c["state"] for c in db.cells("sweep")} == {"completed"}


def test_a_re_run_measures_nothing_again(first_run):
    folder, path, first = first_run
    before = sorted(p.name for p in (folder / "runs").iterdir() if p.is_dir())
    again = campaign(path, folder / "runs")
    assert again["skipped"] == 6 and again["done"] == 6
    assert {c["run_dir"] for c in again["cells"]} == {c["run_dir"] for c in first["cells"]}
    assert sorted(p.name for p in (folder / "runs").iterdir() if p.is_dir()) == before


def test_a_changed_definition_measures_only_the_new_cells(first_run, tmp_path):
    folder, path, _ = first_run
    grown = write(tmp_path, path.read_text().replace("[1800, 3000]", "[1800, 3000, 2400]"))
    outcome = campaign(grown, folder / "runs")
    measured = [c for c in outcome["cells"] if c["state"] == "completed"]
    assert sorted(c["cell"] for c in measured) == ["lab-a: kws01 energy 2400 mV #1", "lab-b: kws01 energy 2400 mV #1"]
    assert outcome["skipped"] == 6


def test_a_bench_that_stops_answering_is_recorded_and_the_other_carries_on(tmp_path):
    path = write(tmp_path, 'name = "flaky"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n'
                           'retries = 1\n' + BENCHES.replace('name = "lab-b"\nboard = "virtual-l4r5zi"',
                                                             'name = "lab-b"\nboard = "virtual-l4r5zi"\n'
                                                             'lab_fault = ["silent_after=3"]') + FAST)
    result = run_cli("campaign", str(path), "--out", str(tmp_path / "runs"), "--json", env=ENV, timeout=600)
    assert_one_line_error(result, 36, "campaign flaky: 1 cell failed every attempt")
    outcome = json.loads(result.stdout)
    states = {c["cell"]: c["state"] for c in outcome["cells"]}
    assert states == {"lab-a: kws01 performance #1": "completed", "lab-b: kws01 performance #1": "failed"}
    with ResultsDb(tmp_path / "runs" / "tiny-runner.db") as db:
        failed = [c for c in db.cells("flaky") if c["state"] == "failed"]
        assert len(failed) == 1 and failed[0]["attempts"] == 2 and "no reply" in failed[0]["reason"]
        assert len(db.runs(status="failed")) == 2  # every attempt is a run of its own, kept
    # resumed, a failed cell gets its attempts again; the completed one is not measured again
    again = run_cli("campaign", str(path), "--out", str(tmp_path / "runs"), "--json", env=ENV, timeout=600)
    assert again.code == 36 and json.loads(again.stdout)["skipped"] == 1
    with ResultsDb(tmp_path / "runs" / "tiny-runner.db") as db:
        assert {c["attempts"] for c in db.cells("flaky") if c["state"] == "failed"} == {4}


def test_an_interrupted_campaign_keeps_what_it_measured_and_resumes(tmp_path):
    path = write(tmp_path, 'name = "stopped"\nbenchmarks = ["kws", "ad"]\nmodes = ["performance"]\nrepeats = 3\n'
                           + BENCHES.split("[[benches]]\nname = \"lab-b\"")[0] + FAST)
    process = subprocess.Popen([sys.executable, "-m", "tiny_runner", "campaign", str(path), "--out",
                                str(tmp_path / "runs"), "--json"], env=dict(os.environ, **ENV),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    db_path = tmp_path / "runs" / "tiny-runner.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the first cell to complete
        time.sleep(0.5)
        if db_path.exists():
            with ResultsDb(db_path) as db:
                if any(c["state"] == "completed" for c in db.cells("stopped")):
                    break
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    with ResultsDb(db_path) as db:
        states = [c["state"] for c in db.cells("stopped")]
        done = states.count("completed")
        assert done >= 1 and "running" not in states and len(states) == 6
        kept = {r["run_dir"] for r in db.runs(status="completed")}
    resumed = campaign(path, tmp_path / "runs")
    assert resumed["skipped"] == done and resumed["done"] == 6
    assert kept <= {c["run_dir"] for c in resumed["cells"]}


@pytest.mark.parametrize("text, words", [
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\ncolour = 1\n' + BENCHES, "unknown key 'colour'"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["turbo"]\n' + BENCHES, "mode 'turbo'"),
    ('name = "x"\nbenchmarks = ["nope"]\nmodes = ["performance"]\n' + BENCHES, "unknown benchmark 'nope'"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["accuracy"]\n' + BENCHES, "needs its folder in [datasets]"),
    ('name = "x y"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n' + BENCHES, "name must be a plain name"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[measure]\nspeed = 3\n' + BENCHES,
     "[measure] speed: not an option"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[[benches]]\nname = "a"\n', "give board"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[[benches]]\nname = "a"\nplace = "p"\n'
     'bench = "b.toml"\n', "a place bench has no bench file"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[[benches]]\nname = "a"\nboard = "virtual-l4r5zi"\n'
     'wait = 5\n', "wait is a place bench's seconds"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[[benches]]\nname = "a"\nplace = "p"\n'
     'modes = ["fast"]\n', "bench a: modes must be a list of performance, accuracy, energy"),
    ('name = "x"\nbenchmarks = ["kws"]\nmodes = ["performance"]\n[[benches]]\nname = "a"\nplace = "p"\n'
     'benchmarks = ["nope"]\n', "unknown benchmark 'nope'"),
    ("name = [", "not valid TOML"),
])
def test_bad_campaign_files(tmp_path, text, words):
    path = write(tmp_path, text)
    result = run_cli("campaign", str(path), "--out", str(tmp_path / "runs"), env=ENV)
    assert_one_line_error(result, 35, words)
    assert not (tmp_path / "runs").exists()
