"""Figures for one energy monitor plug-in, measured through its emulator.

    python benchmarks/monitor_figures.py accuracy --monitor otii   energy mode, all four benchmarks
    python benchmarks/monitor_figures.py stream --monitor otii     top rate for 300 s (and 30 s)
    ... --monitor scpi --quirk model=2450                          an emulator switch, for both

accuracy: `tiny-runner measure --mode energy` on the virtual lab for kws, vww, ic and ad with
  the monitor, and with the LPM01A for comparison. Printed per benchmark: the largest window
  error against the lab's ground truth (target: within what one sample at the monitor's rate
  allows, and never looser than 0.5 %; the bound that window states is printed beside it), and
  the median against the LPM01A's (target: 2 %).
stream: the monitor's emulator in its own process, fed by a constant 20 mW load in real time
  with a timestamp pulse every second; in this process the plug-in's driver and the capture
  (samples spilled to disk) stream at the top rate. Printed: samples, dropped samples (target
  0), edges, CPU share of one core, peak RSS of 300 s over 30 s (target <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = ("kws", "vww", "ic", "ad")
BOARD = "virtual-l4r5zi"


def measure(monitor: str, benchmark: str, out: Path, quirks=()) -> dict:
    switches = [arg for quirk in quirks for arg in ("--lab-monitor-quirk", quirk)]
    result = subprocess.run([sys.executable, "-m", "tiny_runner", "measure", "--board", BOARD, "-b", benchmark,
                             "--mode", "energy", "--monitor", monitor, "--json", "-q", "--out", str(out), *switches],
                            capture_output=True, text=True, check=False)
    if result.returncode not in (0, 3):
        sys.exit(f"{monitor} {benchmark}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def accuracy(monitor: str, quirks=()) -> None:
    print(f"{'benchmark':>9} {'uJ/inf':>12} {'LPM01A':>12} {'vs LPM01A':>10} {'worst window vs truth':>22} "
          f"{'its stated bound':>17} valid")
    with tempfile.TemporaryDirectory() as folder:
        for benchmark in BENCHMARKS:
            data = measure(monitor, benchmark, Path(folder), quirks)
            reference = measure("lpm01a", benchmark, Path(folder))
            ours, theirs = data["median_energy_uj_per_inf"], reference["median_energy_uj_per_inf"]
            worst = max(data["windows"], key=lambda w: abs(w.get("truth_error_pct") or 0))
            bound = 100 * worst["quantisation_uj"] / worst["energy_uj"]  # what that window says it can be off by
            print(f"{benchmark:>9} {ours:>12.3f} {theirs:>12.3f} {100 * (ours / theirs - 1):>+9.3f}% "
                  f"{data['lab']['truth']['max_abs_error_pct']:>21.4f}% {bound:>16.4f}% {data['valid']}")


# -- streaming -------------------------------------------------------------------------------------
class RealTimeBench:
    """A constant load in real time; the timestamp pin pulses low for pulse_us every second."""

    def __init__(self, power_w: float = 0.02, pulse_us: float = 1000):
        self.power_w, self.pulse_us, self.t0 = power_w, pulse_us, time.monotonic()
        self.volts, self.powered, self._next_pulse_us = 1.8, False, 1e6

    def horizon_us(self):
        return (time.monotonic() - self.t0) * 1e6

    now_exact_us = horizon_us

    def energy_at(self, times_us):
        import numpy as np

        return self.power_w * np.asarray(times_us, dtype=np.float64) * 1e-6

    def pin_events_until(self, t_us):
        events = []
        while self._next_pulse_us <= t_us:
            events += [(self._next_pulse_us, 0), (self._next_pulse_us + self.pulse_us, 1)]
            self._next_pulse_us += 1e6
        return events

    def falling_edges_until(self, t_us):
        return [t for t, level in self.pin_events_until(t_us) if level == 0]

    def forget_before(self, t_us):
        pass

    def note(self, record):
        pass

    def set_power(self, on):
        self.powered = on

    def set_voltage(self, volts):
        self.volts = volts

    def supply_v(self):
        return self.volts if self.powered else 0.0


def serve_emulator(monitor: str, quirks=()) -> None:
    """Child process: the emulator, until stdin closes."""
    from tiny_runner.bench.monitors import get_plugin

    plugin = get_plugin(monitor)
    switches = plugin.parse_switches(dict(quirk.split("=", 1) for quirk in quirks))
    emulator = plugin.emulator(RealTimeBench(), switches, 0)
    emulator.start()
    print(emulator.address, flush=True)
    sys.stdin.read()
    emulator.shutdown()


def stream(monitor: str, seconds: float, quirks=()) -> dict:
    """This process: the driver and the capture at the top rate for `seconds`."""
    from tiny_runner.bench.monitors import get_plugin
    from tiny_runner.run.capture import Capture

    plugin = get_plugin(monitor)
    child = subprocess.Popen([sys.executable, __file__, "serve", "--monitor", monitor,
                              *[arg for quirk in quirks for arg in ("--quirk", quirk)]], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    address = child.stdout.readline().strip()
    rate = max(plugin.rates_hz)
    driver = plugin.emulated_driver(address, None)
    identity = driver.open()
    if plugin.supplies_dut:
        driver.set_voltage(1800)
    driver.power(True)
    with tempfile.TemporaryDirectory() as folder:
        capture = Capture(driver, Path(folder), None if plugin.supplies_dut else 1.8, identity)
        cpu0, wall0 = time.process_time(), time.monotonic()
        capture.start(rate)
        time.sleep(seconds)
        capture.stop()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        figures = {"samples": capture.received, "dropped": sum(count for _, count in capture.dropped),
                   "edges": len(capture.edges), "cpu_share_pct": 100 * cpu / wall,
                   "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    driver.close()
    child.stdin.close()
    child.wait(timeout=10)
    return figures


def stream_figures(monitor: str, quirks=()) -> None:
    runs = {}
    for seconds in (30, 300):
        result = subprocess.run([sys.executable, __file__, "stream-once", "--monitor", monitor, "--seconds",
                                 str(seconds), *[arg for quirk in quirks for arg in ("--quirk", quirk)]],
                                capture_output=True, text=True, check=True)
        runs[seconds] = json.loads(result.stdout)
        print(f"{seconds:>4} s: {json.dumps(runs[seconds])}")
    print(f"peak RSS 300 s / 30 s: {runs[300]['peak_rss_kb'] / runs[30]['peak_rss_kb']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("accuracy", "stream", "serve", "stream-once"))
    parser.add_argument("--monitor", required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--quirk", action="append", default=[], metavar="KEY=VALUE",
                        help="an emulator switch (as --lab-monitor-quirk), e.g. model=2450 for the scpi monitor")
    args = parser.parse_args()
    if args.what == "accuracy":
        accuracy(args.monitor, args.quirk)
    elif args.what == "stream":
        stream_figures(args.monitor, args.quirk)
    elif args.what == "serve":
        serve_emulator(args.monitor, args.quirk)
    else:
        print(json.dumps(stream(args.monitor, args.seconds, args.quirk)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
