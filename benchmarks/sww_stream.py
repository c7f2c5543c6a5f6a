"""Streaming wake word (sww01) on the virtual lab: what a stream measures against the lab's truth.

    python benchmarks/sww_stream.py short   the public 10 s stream at the LPM01A's 100 kHz
    python benchmarks/sww_stream.py long    a 1200 s synthetic stream (50 occurrences), LPM01A 1 kHz
    python benchmarks/sww_stream.py         both

short: the virtual DUT's detections frame by frame (every frame whose output[0] passed 115, and
  the sync frame), TP/FN/FP; duty cycle and throughput against the lab's truth (target within
  0.5 %); stream energy against the truth (target within 0.05 %).
long: `dataset synth --benchmark sww` writes the stream; one energy run plays it on the virtual
  lab (the DUT's work at x100, the host's waits in real time); wall time, peak memory of the
  runner and of the lab process, the same figures, and the calibrated model (throughput, mean
  power at 3000 mV) against the published v1.3 result it was calibrated from.
Needs TINY_RUNNER_MODEL_DIR (the reference folder, e.g. ../shared/reference).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tiny_runner.benchmarks.sww01.features import DETECT_THRESHOLD
from tiny_runner.boards import load_board

BOARD = "virtual-l4r5zi"


def measure(out: Path, dataset: Path, labels: str, *extra: str) -> tuple[dict, float]:
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tiny_runner", "measure", "--board", BOARD, "--benchmark", "sww",
                           "--mode", "energy", "--dataset", str(dataset), "--labels", labels, "--voltage", "3000",
                           "--out", str(out), "--json", "--quiet", *extra], capture_output=True, text=True)
    wall = time.monotonic() - began
    if proc.returncode not in (0, 3):
        sys.exit(f"measure failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout), wall


def figures(results: dict) -> None:
    stream, truth, window = results["stream"], results["lab"]["truth"], results["windows"][0]
    score, duty = stream["score"], stream["duty_cycle"]
    print(f"  TP {len(score['true_positives'])} / FN {len(score['false_negatives'])} / "
          f"FP {len(score['false_positives'])} (rule {score['rule']}); missed at {score['false_negatives']} s, "
          f"false positives at {score['false_positives']} s")
    print(f"  detections: {len(stream['detections_ms'])} (sync included); largest error against the lab's "
          f"{truth['detections_max_error_ms']:.3f} ms")
    print(f"  duty cycle {duty['duty_cycle']:.5f} (truth {truth['duty_cycle']:.5f}, "
          f"{truth['duty_cycle_error_pct']:+.4f} %), period {duty['period_s'] * 1e3:.4f} ms")
    print(f"  throughput {duty['throughput_inf_per_s']:.4f} inf./sec. (truth {truth['throughput_inf_per_s']:.4f}, "
          f"{truth['throughput_error_pct']:+.4f} %)  target: within 0.5 %")
    print(f"  stream energy {window['energy_uj']:.2f} uJ over {window['seconds']:.4f} s (truth "
          f"{truth['stream_energy_uj']:.2f} uJ, {truth['stream_energy_error_pct']:+.5f} %), power "
          f"{window['power_mw']:.4f} mW")


def short() -> None:
    folder = Path(os.environ["TINY_RUNNER_MODEL_DIR"]) / "sww01"
    with tempfile.TemporaryDirectory() as out:
        results, wall = measure(Path(out), folder, "sww_short_test.json", "--monitor-rate", "100000")
    print(f"short_wav_easy10s.wav at 100 kHz: {wall:.1f} s wall")
    activations = results["stream"]["activations"]
    fired = [(i, a) for i, a in enumerate(activations) if a > DETECT_THRESHOLD]
    print(f"  frames {len(activations)}; frame 0 is the sync detection; frames over {DETECT_THRESHOLD}: "
          + ", ".join(f"{i} ({i * 0.032:.3f} s: {a})" for i, a in fired))
    peaks = [(i, a) for i, a in enumerate(activations) if 6.8 <= i * 0.032 <= 8.0]
    best = max(peaks, key=lambda p: p[1])
    print(f"  around the third word (7.0 s): highest output {best[1]} at frame {best[0]} ({best[0] * 0.032:.3f} s)")
    figures(results)
    met = abs(results["lab"]["truth"]["stream_energy_error_pct"]) < 0.05
    print(f"  target: energy within 0.05 %: {'met' if met else 'NOT met'}")


def long() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "stream"
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", "tiny_runner", "dataset", "synth", "--benchmark", "sww", "--out",
                        str(data), "--length", "1200", "--occurrences", "50"], check=True, capture_output=True)
        print(f"synthetic 1200 s stream written in {time.monotonic() - began:.1f} s")
        results, wall = measure(Path(tmp) / "runs", data, "sww_synth_test.json")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"1200 s stream at LPM01A 1 kHz: {wall:.1f} s wall ({1200 / wall:.1f}x real time), largest process "
          f"peak RSS {peak_mb:.0f} MB (the runner or the lab, whichever is larger)")
    figures(results)
    board = load_board(BOARD)
    sww = board.simulation["sww"]
    duty = results["stream"]["duty_cycle"]
    print(f"calibration ({sww['calibrated_from']}):")
    print(f"  throughput {duty['throughput_inf_per_s']:.3f} inf./sec. against the published 55.742 "
          f"({(duty['throughput_inf_per_s'] / 55.742 - 1) * 100:+.3f} %)")
    power, published = results["median_power_mw"], sww["published_power_mw"]
    around = results["windows"][0]["seconds"] - 1200
    print(f"  mean power {power:.4f} mW at 3000 mV against the published {published} mW "
          f"({(power / published - 1) * 100:+.3f} %); the window holds {around:.2f} s around the audio (the host's "
          "commands and its 0.25 s pause, in real time)")


if __name__ == "__main__":
    parts = sys.argv[1:] or ["short", "long"]
    for part in parts:
        {"short": short, "long": long}[part]()
