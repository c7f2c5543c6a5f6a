"""The windowed procedure performance and energy mode share (tiny_protocol.md §6.2-6.3):
5 stimuli (the first 5 files of the label list, ad01: window 0 of each, or synthetic ones),
one timed `infer N W` each, N calibrated from probe runs so each window lasts about the
target (>= 10 s), a window that comes out short re-run with a larger N.

Subclasses say where the timing comes from: the DUT's m-lap-us timer (performance) or the
energy monitor's timestamp edges (energy), by implementing `timed()` and `record()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...analysis.infer import TimedInfer
from ...benchmarks.synth import performance_stimuli
from ...errors import ProtocolError, UsageError
from .. import rules
from ..record import Calibration, Stimuli
from . import Procedure

FIRST_PROBE_TIMEOUT_S = 60.0  # one inference of an unknown model on an unknown MCU
STUCK_TIMER_PROBE = 10_000  # this many inferences in 0 s means the time source is not running


@dataclass
class Timed:
    """One timed infer: its duration on the device's time base, and what else it produced."""

    seconds: float | None  # None when the time base failed (a missing edge)
    reply: object
    details: dict = field(default_factory=dict)


class WindowedRun(Procedure):
    mode = "windowed"

    def timed(self, iterations: int, warmup: int, timeout_s: float) -> Timed:
        raise NotImplementedError

    def record(self, index: int, name: str, data: bytes, iterations: int, timed: Timed, attempts: list):
        """The finished window (record.PerformanceWindow, analysis.energy.EnergyWindow)."""
        raise NotImplementedError

    def stimuli(self) -> list[tuple[str, bytes]]:
        bench, dataset = self.req.benchmark, self.req.dataset
        if dataset is None:
            self.recorder.set_stimuli(Stimuli("synthetic", note="deterministic synthetic stimuli (no --dataset)"))
            return performance_stimuli(bench, count=rules.WINDOWS)
        self.recorder.set_stimuli(Stimuli("dataset", dataset=str(dataset.root), labels_file=dataset.labels_path.name,
                                          synthetic_dataset=dataset.synthetic))
        # ad01 files hold many windows; these modes send window 0 of each
        return [(e.file, dataset.read(e)[: bench.input_bytes]) for e in dataset.entries[: rules.WINDOWS]]

    slowdown = 1.0  # host seconds per DUT second, at least 1: an emulated DUT's clock may run slow

    def measured(self, iterations: int, warmup: int, timeout_s: float) -> Timed:
        """timed(), learning from the probes how much host time a DUT second takes, so reply
        timeouts also hold for a DUT whose time runs slower than the host's (an emulator)."""
        start = time.monotonic()
        timed = self.timed(iterations, warmup, timeout_s)
        if timed.seconds:
            host_s = time.monotonic() - start
            self.slowdown = max(self.slowdown, host_s / (timed.seconds * (iterations + warmup) / iterations))
        return timed

    def run(self) -> None:
        stimuli = self.stimuli()
        self.recorder.start_windows()
        iterations = self.req.iterations
        self.progress.start(f"{self.req.benchmark.id} {self.mode}: {len(stimuli)} windows")
        for index, (name, data) in enumerate(stimuli, start=1):
            self.log(f"window {index}: loading {name} ({len(data)} bytes)")
            self.dut.load(data)
            if index == 1:
                # Probe even when N is fixed: the latency estimate sizes every reply timeout.
                calibrated = self.calibrate()
                iterations = iterations or calibrated
            window, iterations = self.window(index, name, data, iterations)
            self.recorder.add_window(window)
            seconds = f"{window.seconds:.2f} s" if window.seconds is not None else "no timing"
            self.progress.update(index, len(stimuli), f"window {index}: {seconds}")

    def calibrate(self) -> int:
        """Probe with growing N until a probe lasts >= 0.5 s, then size N for the target window."""
        iterations, warmup, timeout = 1, self.req.warmup, FIRST_PROBE_TIMEOUT_S
        probes = []
        while True:
            timed = self.measured(iterations, warmup, timeout)
            if timed.seconds is None:
                raise ProtocolError(f"calibration probe 'infer {iterations} {warmup}' could not be timed: "
                                    f"{timed.details.get('problem', 'no timing')}")
            seconds = timed.seconds
            probes.append(TimedInfer(iterations, seconds))
            self.log(f"calibration probe: {iterations} inferences in {seconds:.6f} s")
            following = rules.next_probe(iterations, seconds)
            if following is None:
                break
            if seconds == 0 and iterations >= STUCK_TIMER_PROBE:
                raise ProtocolError(
                    f"{iterations} inferences took no time on the {self.mode} time base; check the firmware's "
                    "timestamp (th_timestamp: its microsecond timer, or its GPIO pulse)"
                )
            timeout = rules.infer_timeout_s(seconds * following / iterations * self.slowdown)
            iterations, warmup = following, 0
        latency_s = seconds / iterations
        if self.req.iterations is not None:
            too_long = rules.window_too_long(self.req.iterations, self.req.warmup, latency_s)
            if too_long:
                raise UsageError(f"--iterations {self.req.iterations}: {too_long}")
        chosen = rules.iterations_for(latency_s, self.req.target_window_s)
        self.recorder.set_calibration(Calibration(probes, latency_s * 1e3, self.req.target_window_s, chosen))
        self.log(f"calibrated: {latency_s * 1e3:.4f} ms per inference -> {chosen} inferences per window")
        return chosen

    def window(self, index: int, name: str, data: bytes, iterations: int) -> tuple[object, int]:
        """One timed window; a window that came out under 10 s is re-run with a larger N."""
        attempts = []
        latency_s = self.recorder.record.calibration.latency_estimate_ms / 1e3
        fixed = self.req.iterations is not None
        while True:
            expected = (iterations + self.req.warmup) * latency_s
            timed = self.timed(iterations, self.req.warmup, rules.infer_timeout_s(expected * self.slowdown))
            attempts.append(TimedInfer(iterations, timed.seconds))
            short = timed.seconds is not None and timed.seconds < rules.MIN_WINDOW_S
            if not short or fixed or len(attempts) > rules.MAX_WINDOW_RETRIES:
                break
            grown = rules.grow_iterations(iterations, timed.seconds, self.req.target_window_s)
            self.log(f"window {index}: {timed.seconds:.3f} s is under {rules.MIN_WINDOW_S:g} s; "
                     f"re-running with N={grown}")
            latency_s = timed.seconds / iterations
            iterations = grown
        window = self.record(index, name, data, iterations, timed, attempts)
        if self.golden:
            window.outputs_match_host = self.golden.check(name, data, timed.reply.results)
        seconds = window.seconds
        self.log(f"window {index}: {iterations} inferences, " + (f"{seconds:.6f} s" if seconds is not None
                                                                 else "not timed"))
        return window, iterations
