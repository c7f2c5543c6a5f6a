"""Benches on labgrid places: what a place costs a run, and a campaign over a local bench and two
places.

    python benchmarks/place_figures.py

Starts the deployment the tests start (tests/support/labgrid_deployment.py: a real labgrid-coordinator
and labgrid-exporter on 127.0.0.1, the exporter's ser2net in front of the virtual lab's ptys),
with place `desk` (a kws DUT's UART) and place `rack` (an ad energy bench: interface board and
LPM01A). Figures:
- acquire and release per run (from each run's results.json), over 5 runs through `desk`;
- a campaign of 4 benchmarks x 2 modes x 3 voltages on a local virtual bench (16 cells), with
  kws performance on `desk` and ad energy at 3 voltages on `rack` beside it: wall time against
  the cells' own times added up, rows in the database, and a resumed re-run.
Each place serves one DUT with one firmware, as a real one does, so a place bench runs the
benchmarks and modes its wiring serves (the bench's own `benchmarks` and `modes`).
Needs TINY_RUNNER_MODEL_DIR (the reference folder, e.g. ../shared/reference).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' own deployment
from support.labgrid_deployment import Labgrid, served_lab  # noqa: E402

RUNS = 5
CAMPAIGN = """name = "places"
benchmarks = ["kws", "vww", "ic", "ad"]
modes = ["performance", "energy"]
voltages_mv = [1800, 2400, 3000]

[[benches]]
name = "local"
board = "virtual-l4r5zi"

[[benches]]
name = "desk"
place = "desk"
benchmarks = ["kws"]
modes = ["performance"]

[[benches]]
name = "rack"
place = "rack"
benchmarks = ["ad"]
modes = ["energy"]

[measure]
target_window = 10
"""


def tiny_runner(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiny_runner", *args], capture_output=True, text=True,
                          env=dict(os.environ, **env))


def place_overhead(lab: Labgrid, folder: Path) -> None:
    acquire, release, wall = [], [], []
    for i in range(RUNS):
        began = time.monotonic()
        proc = tiny_runner(lab.env, "measure", "--place", "desk", "-b", "kws", "--iterations", "20", "--json", "-q",
                           "--out", str(folder / "overhead"))
        wall.append(time.monotonic() - began)
        if proc.returncode not in (0, 3):
            sys.exit(f"run {i} through place desk failed ({proc.returncode}): {proc.stderr.strip()}")
        place = json.loads(proc.stdout)["place"]
        acquire.append(place["acquire_s"])
        release.append(place["release_s"])
    print(f"place overhead over {RUNS} runs: acquire median {statistics.median(acquire):.3f} s "
          f"(max {max(acquire):.3f}), release median {statistics.median(release):.3f} s (max {max(release):.3f}); "
          f"each run {statistics.median(wall):.1f} s wall")


def campaign(lab: Labgrid, folder: Path) -> None:
    path = folder / "places.toml"
    path.write_text(CAMPAIGN)
    outcomes = []
    for _ in range(2):
        began = time.monotonic()
        proc = tiny_runner(lab.env, "campaign", str(path), "--out", str(folder / "runs"), "--json", "--quiet")
        if proc.returncode not in (0, 3):
            sys.exit(f"campaign failed ({proc.returncode}): {proc.stderr.strip()}")
        outcomes.append((json.loads(proc.stdout), time.monotonic() - began))
    (first, wall), (again, again_wall) = outcomes
    rows = sqlite3.connect(folder / "runs" / "tiny-runner.db").execute(
        "SELECT COALESCE(place, 'local'), COUNT(*), SUM(valid) FROM runs GROUP BY place ORDER BY place").fetchall()
    print(f"campaign: {first['done']} cells ({first['failed']} failed) on a local bench and 2 places in {wall:.1f} s "
          f"wall; the cells' own times add up to {first['cell_seconds']:.1f} s "
          f"({first['cell_seconds'] / wall:.2f}x)")
    print(f"resumed:  {again['skipped']} of {again['done']} cells skipped, {again_wall:.1f} s wall")
    for bench, count, valid in rows:
        print(f"database: {bench}: {count} runs, {valid} valid")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lab = Labgrid(folder)
        try:
            with served_lab("-b", "kws", "--speed", "100") as desk, \
                    served_lab("-b", "ad", "--energy-bench", "--speed", "10") as rack:
                lab.export("exp1", {"desk": {"uart0": desk["dut"]},
                                    "rack": {"interface": rack["relay"], "monitor": rack["monitor"]}})
                lab.place("desk", {"exp1/desk/NetworkSerialPort/uart0": "uart0"}, {"board": "virtual-l4r5zi"})
                lab.place("rack", {"exp1/rack/NetworkSerialPort/interface": "interface",
                                   "exp1/rack/NetworkSerialPort/monitor": "monitor"},
                          {"board": "virtual-l4r5zi", "monitor": "lpm01a"})
                place_overhead(lab, folder)
                campaign(lab, folder)
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
