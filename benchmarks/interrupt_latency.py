"""How long a run takes to stop after one Ctrl-C, and whether a lab process outlives it.

Starts `tiny-runner measure` on the virtual boards, sends SIGINT at several moments of the run
(starting the lab, calibrating, inside a window) and prints, per case, the seconds from the
signal to the runner's exit and the lab processes still running afterwards. Target: under 2 s,
none left.

    .venv/bin/python benchmarks/interrupt_latency.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0
CASES = [
    ("virtual-l4r5zi", ["--mode", "performance", "--lab-speed", "5"]),
    ("virtual-l4r5zi", ["--mode", "energy"]),
    ("qemu-m4", ["--mode", "performance"]),
    ("qemu-m4", ["--mode", "energy"]),
]
DELAYS_S = (0.8, 2.0, 5.0)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def one(board: str, options: list[str], delay_s: float) -> tuple[float, int, int]:
    """(seconds to exit, exit code, lab processes left running)."""
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen([sys.executable, "-m", "tiny_runner", "measure", "--board", board, "-b", "kws",
                                 "--out", out, "-q", *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay_s)
        lab = descendants(proc.pid)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        took = time.monotonic() - sent
        time.sleep(0.5)
        left = [pid for pid in lab if running(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return took, proc.returncode, len(left)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    worst = 0.0
    leftovers = 0
    print(f"{'board':16} {'options':28} {'after':>6} {'exit':>5} {'stop s':>7} {'left':>5}")
    for board, options in CASES:
        for delay in DELAYS_S:
            for _ in range(args.repeat):
                took, code, left = one(board, options, delay)
                worst, leftovers = max(worst, took), leftovers + left
                print(f"{board:16} {' '.join(options):28} {delay:6.1f} {code:5d} {took:7.2f} {left:5d}")
    verdict = "meets" if worst < TARGET_S and not leftovers else "MISSES"
    print(f"worst stop {worst:.2f} s, {leftovers} lab processes left: {verdict} the target ({TARGET_S:g} s, none)")
    return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    raise SystemExit(main())
