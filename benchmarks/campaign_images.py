"""A campaign's firmware-image axis on this machine: what flashing between cells costs.

    python benchmarks/campaign_images.py

Builds the native-posix port's kws and ad images, then runs a campaign that flashes a
native-posix bench with each in turn (5-window performance runs, windows calibrated to the
default 12 s, 2 repeats an image) beside a virtual-lab bench with the same kws cells (its
emulated clock runs ahead of real time, so its cells take about a second each). Figures: each
flash's time, the campaign's wall time against its cells' summed time, the database's rows per
image, and a re-run that flashes and measures nothing. Needs TINY_RUNNER_MODEL_DIR (e.g. ../shared/reference).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAMPAIGN = """name = "images"
benchmarks = ["kws"]
modes = ["performance"]
repeats = 2
[[benches]]
name = "host"
board = "native-posix"
[[benches.images]]
name = "kws-build"
path = "kws"
[[benches.images]]
name = "ad-build"
path = "ad"
benchmarks = ["ad"]
[[benches]]
name = "lab"
board = "virtual-l4r5zi"
"""


def tiny_runner(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiny_runner", *args], capture_output=True, text=True, env=env)


def campaign(folder: Path, env: dict) -> tuple[dict, str, float]:
    began = time.monotonic()
    proc = tiny_runner("campaign", str(folder / "campaign.toml"), "--out", str(folder / "runs"), "--json", env=env)
    if proc.returncode not in (0, 3):
        sys.exit(f"campaign failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout), proc.stderr, time.monotonic() - began


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = dict(os.environ, TINY_RUNNER_STATE=str(folder / "state"))
        for benchmark in ("kws", "ad"):
            built = tiny_runner("firmware", "--board", "native-posix", "-b", benchmark, "--json", env=env)
            if built.returncode:
                sys.exit(f"building the {benchmark} image failed: {built.stderr.strip()}")
            shutil.copyfile(json.loads(built.stdout)["path"], folder / benchmark)
        (folder / "campaign.toml").write_text(CAMPAIGN)
        first, stderr, wall = campaign(folder, env)
        flashes = re.findall(r"flashed image (\S+) \(\w+\) on native-posix in ([\d.]+) s", stderr)
        again, again_err, again_wall = campaign(folder, env)
        db = sqlite3.connect(folder / "runs" / "tiny-runner.db")
        rows = db.execute("SELECT board, benchmark, substr(firmware_sha256, 1, 12), COUNT(*), SUM(valid) FROM runs "
                          "GROUP BY 1, 2, 3 ORDER BY 1, 2").fetchall()
        broken = db.execute("SELECT board, benchmark, violations FROM runs WHERE NOT valid").fetchall()
    for name, seconds in flashes:
        print(f"flash: image {name} in {seconds} s")
    print(f"campaign: {first['done']} cells in {wall:.1f} s wall (the cells' own times add up to "
          f"{first['cell_seconds']:.1f} s), {first['not_valid']} not valid, {first['failed']} failed")
    print(f"resumed: {again['skipped']} of {again['done']} skipped, "
          f"{again_err.count('flashed image')} flashes, {again_wall:.1f} s wall")
    for board, benchmark, sha, count, valid in rows:
        print(f"database: {board} {benchmark} firmware {sha or '-'}: {count} runs, {valid} valid")
    for board, benchmark, violations in broken:
        print(f"not valid: {board} {benchmark}: {violations}")


if __name__ == "__main__":
    main()
