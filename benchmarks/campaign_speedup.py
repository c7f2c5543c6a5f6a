"""Campaigns on the virtual lab: what running benches in parallel buys, and what resuming costs.

    python benchmarks/campaign_speedup.py

A campaign of 4 benchmarks (kws, vww, ic, ad) x 2 modes (performance, energy) x 3 supply
voltages (energy cells) over two virtual benches: 16 cells per bench, 32 in all, run in
parallel across the benches. The same 32 cells' work is then run one after the other (one bench,
two repeats), and the campaign is run again to show a resume measures nothing. Figures: wall
times, the speed-up, the rows in the results database. This machine has 2 cores: two benches is
what it runs at once without the benches slowing each other.
Needs TINY_RUNNER_MODEL_DIR (the reference folder, e.g. ../shared/reference).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MATRIX = """
benchmarks = ["kws", "vww", "ic", "ad"]
modes = ["performance", "energy"]
voltages_mv = [1800, 2400, 3000]

[measure]
target_window = 10
lab_speed = 1000
"""
BENCH = '\n[[benches]]\nname = "{name}"\nboard = "virtual-l4r5zi"\n'


def campaign(folder: Path, name: str, text: str) -> tuple[dict, float]:
    path = folder / f"{name}.toml"
    path.write_text(text)
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tiny_runner", "campaign", str(path), "--out", str(folder / "runs"),
                           "--json", "--quiet"], capture_output=True, text=True)
    wall = time.monotonic() - began
    if proc.returncode not in (0, 3):
        sys.exit(f"campaign {name} failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout), wall


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parallel_text = f'name = "parallel"\n{MATRIX}' + BENCH.format(name="lab-a") + BENCH.format(name="lab-b")
        parallel, parallel_wall = campaign(folder, "parallel", parallel_text)
        serial, serial_wall = campaign(folder, "serial", f'name = "serial"\nrepeats = 2\n{MATRIX}'
                                       + BENCH.format(name="lab-a"))
        resumed, resumed_wall = campaign(folder, "parallel", parallel_text)
        rows = sqlite3.connect(folder / "runs" / "tiny-runner.db").execute(
            "SELECT campaign, COUNT(*), SUM(valid) FROM runs GROUP BY campaign ORDER BY campaign").fetchall()
    print(f"parallel: {parallel['done']} cells on 2 benches in {parallel_wall:.1f} s wall "
          f"(the cells' own times add up to {parallel['cell_seconds']:.1f} s)")
    print(f"serial:   {serial['done']} cells on 1 bench in {serial_wall:.1f} s wall")
    print(f"speed-up: {serial_wall / parallel_wall:.2f}x")
    print(f"resumed:  {resumed['skipped']} of {resumed['done']} cells skipped, "
          f"{resumed['done'] - resumed['skipped']} measured, {resumed_wall:.1f} s wall")
    for name, count, valid in rows:
        print(f"database: campaign {name}: {count} runs, {valid} valid")


if __name__ == "__main__":
    main()
