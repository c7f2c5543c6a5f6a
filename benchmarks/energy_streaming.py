"""Streaming at rate: what the energy capture costs at 1 MS/s.

    python benchmarks/energy_streaming.py analysis   reducer throughput vs a plain numpy reduction
    python benchmarks/energy_streaming.py memory     peak memory, 300 s vs 30 s of 1 MS/s capture
    python benchmarks/energy_streaming.py cpu        CPU share streaming the fake JS220 in real time
    python benchmarks/energy_streaming.py            all three

analysis: the capture's reducer (energy = I x V x dt, running sum, edges) over the same
  current/voltage arrays as `np.sum(i * v)`, the memory-bound floor; spill to disk excluded
  (spilled to a null sink) so the figure is the analysis itself. Target: ratio <= 4.
memory: a fresh process streams 30 s, another 300 s, of 1 MS/s chunks through the capture with
  the raw spill to a temporary folder; peak RSS compared. Target: ratio <= 1.2.
cpu: the Joulescope emulator (in its own process, fed by a constant load with a timestamp
  pulse each second) streams 1 MS/s in real time to this process, where FakeDriver, the
  Joulescope driver and the capture (with spill to disk) run. Target: < 50 % of one core, 0
  dropped samples.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from energy_monitor.base import Chunk
from tiny_runner.run.capture import Capture

RATE = 1_000_000
CHUNK = 50_000  # samples per message: the driver publishes about 20 times a second


def chunk_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    amps = (0.0227 * (1 + 0.01 * rng.standard_normal(CHUNK))).astype(np.float32)
    volts = (1.8 * (1 + 0.001 * rng.standard_normal(CHUNK))).astype(np.float32)
    return amps, volts


class NullFile:
    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def new_capture(folder: Path) -> Capture:
    capture = Capture(monitor=None, directory=folder, voltage_v=None, identity={"model": "synthetic"})
    capture.rate_hz = RATE
    return capture


def analysis(repeats: int = 400) -> float:
    amps, volts = chunk_arrays()
    with tempfile.TemporaryDirectory() as folder:
        capture = new_capture(Path(folder))
        capture._samples.close()
        capture._samples = NullFile()  # the analysis alone
        chunks = [Chunk(first_index=k * CHUNK, rate_hz=RATE, current_a=amps, voltage_v=volts,
                        edges=[k * CHUNK + 100] if k % 20 == 0 else []) for k in range(repeats)]
        start = time.perf_counter()
        for chunk in chunks:
            capture._take(chunk)
        reducer_s = time.perf_counter() - start
        start = time.perf_counter()
        total = 0.0
        for _ in range(repeats):
            total += float(np.sum(amps * volts, dtype=np.float64))
        floor_s = time.perf_counter() - start
    samples = repeats * CHUNK
    ratio = reducer_s / floor_s
    print(f"analysis: {samples / reducer_s / 1e6:.1f} MS/s through the reducer, {samples / floor_s / 1e6:.1f} MS/s "
          f"for np.sum(i * v); ratio {ratio:.2f} (target <= 4)")
    return ratio


def _stream_seconds(seconds: int) -> None:
    """Child: stream `seconds` of 1 MS/s through a capture with spill; print peak RSS (KiB)."""
    amps, volts = chunk_arrays()
    with tempfile.TemporaryDirectory() as folder:
        capture = new_capture(Path(folder))
        for k in range(seconds * RATE // CHUNK):
            capture._take(Chunk(first_index=k * CHUNK, rate_hz=RATE, current_a=amps, voltage_v=volts,
                                edges=[k * CHUNK + 100] if k % 20 == 0 else []))
        capture._samples.close()
        size = (Path(folder) / "energy.f4").stat().st_size
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, size)


def memory() -> float:
    peaks = {}
    for seconds in (30, 300):
        out = subprocess.run([sys.executable, __file__, "_stream", str(seconds)], capture_output=True, text=True,
                             check=True).stdout.split()
        peaks[seconds] = int(out[0])
        print(f"memory: {seconds:>3} s of 1 MS/s ({int(out[1]) / 1e6:.0f} MB spilled): "
              f"peak RSS {peaks[seconds] / 1024:.1f} MiB")
    ratio = peaks[300] / peaks[30]
    print(f"memory: ratio 300 s / 30 s = {ratio:.3f} (target <= 1.2)")
    return ratio


def _emulator(connection) -> None:
    from monitor_figures import RealTimeBench  # a 40 mW load, its pin low for 2 ms once a second

    from energy_monitor.joulescope.emulator import JoulescopeEmulator

    emulator = JoulescopeEmulator(RealTimeBench(power_w=0.04, pulse_us=2000))
    emulator.start()
    connection.send(emulator.url)
    connection.recv()  # until the parent is done
    emulator.shutdown()


def cpu(seconds: float = 20.0) -> float:
    from energy_monitor.joulescope import Joulescope
    from energy_monitor.joulescope.emulator import FakeDriver

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_emulator, args=(child,))
    process.start()
    url = parent.recv()
    monitor = Joulescope(driver=FakeDriver(url))
    monitor.open()
    monitor.power(True)
    with tempfile.TemporaryDirectory() as folder:
        capture = Capture(monitor, Path(folder), None, monitor.identity)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic()
        capture.start(RATE)
        time.sleep(seconds)
        received, dropped = capture.received, sum(count for _, count in capture.dropped)
        edges = len(capture.edges)
        after = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - wall
        capture.stop()
    monitor.close()
    parent.send("done")
    process.join()
    share = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / wall
    print(f"cpu: {received / wall / 1e6:.3f} MS/s streamed for {wall:.1f} s, {edges} edges, {dropped} samples dropped; "
          f"{100 * share:.1f} % of one core (target < 50 %, 0 dropped)")
    return share


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what == "_stream":
        _stream_seconds(int(sys.argv[2]))
    else:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        if what in ("analysis", "all"):
            analysis()
        if what in ("memory", "all"):
            memory()
        if what in ("cpu", "all"):
            cpu()
