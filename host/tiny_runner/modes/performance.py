"""Performance mode (tiny_protocol.md §6.2): 5 stimuli, one timed window each, N calibrated
so each window lasts at least 10 s on the DUT's own clock; the score is the median throughput."""

from __future__ import annotations

from .. import rules
from ..errors import ProtocolError
from ..synth import performance_stimuli
from . import Procedure

_FIRST_PROBE_TIMEOUT_S = 60.0  # one inference of an unknown model on an unknown MCU
_STUCK_TIMER_PROBE = 10_000  # this many inferences in 0 us means the timer is not running


class PerformanceRun(Procedure):
    def stimuli(self) -> list[tuple[str, bytes]]:
        """The first 5 files of the label list (ad01: window 0 of each), or synthetic ones."""
        bench, dataset = self.req.benchmark, self.req.dataset
        if dataset is None:
            self.results["stimuli"] = {"source": "synthetic", "note": "deterministic synthetic stimuli (no --dataset)"}
            return performance_stimuli(bench, count=rules.WINDOWS)
        self.results["stimuli"] = {
            "source": "dataset",
            "dataset": str(dataset.root),
            "labels_file": dataset.labels_path.name,
            "synthetic_dataset": dataset.synthetic,
        }
        chosen = dataset.entries[: rules.WINDOWS]
        # ad01 files hold many windows; performance mode sends window 0 of each
        return [(e.file, dataset.read(e)[: bench.input_bytes]) for e in chosen]

    def run(self) -> None:
        stimuli = self.stimuli()
        windows = self.results.setdefault("windows", [])
        iterations = self.req.iterations
        self.progress.start(f"{self.req.benchmark.id} performance: {len(stimuli)} windows")
        for index, (name, data) in enumerate(stimuli, start=1):
            self.log(f"window {index}: loading {name} ({len(data)} bytes)")
            self.dut.load(data)
            if index == 1:
                # Probe even when N is fixed: the latency estimate sizes every reply timeout.
                calibrated = self.calibrate()
                iterations = iterations or calibrated
            window, iterations = self.window(index, name, data, iterations)
            windows.append(window)
            self.session.run_dir.append_window(window)
            self.progress.update(index, len(stimuli), f"window {index}: {window['seconds']:.2f} s")

    def calibrate(self) -> int:
        """Probe with growing N until a probe lasts >= 0.5 s, then size N for the target window."""
        iterations, warmup, timeout = 1, self.req.warmup, _FIRST_PROBE_TIMEOUT_S
        probes = []
        while True:
            reply = self.dut.infer(iterations, warmup, timeout)
            seconds = reply.elapsed_us / 1e6
            probes.append({"inferences": iterations, "seconds": seconds})
            self.log(f"calibration probe: {iterations} inferences in {seconds:.6f} s")
            following = rules.next_probe(iterations, seconds)
            if following is None:
                break
            if seconds == 0 and iterations >= _STUCK_TIMER_PROBE:
                raise ProtocolError(
                    f"the DUT's m-lap-us timer did not advance over {iterations} inferences; "
                    "check the firmware's microsecond timer (th_timestamp)"
                )
            timeout = rules.infer_timeout_s(seconds * following / iterations)
            iterations, warmup = following, 0
        latency_s = seconds / iterations
        chosen = rules.iterations_for(latency_s, self.req.target_window_s)
        self.results["calibration"] = {
            "probes": probes,
            "latency_estimate_ms": latency_s * 1e3,
            "target_window_s": self.req.target_window_s,
            "iterations": chosen,
        }
        self.log(f"calibrated: {latency_s * 1e3:.4f} ms per inference -> {chosen} inferences per window")
        return chosen

    def window(self, index: int, name: str, data: bytes, iterations: int) -> tuple[dict, int]:
        """One timed window; a window that came out under 10 s is re-run with a larger N."""
        attempts = []
        latency_guess_s = self.results["calibration"]["latency_estimate_ms"] / 1e3
        fixed = self.req.iterations is not None
        while True:
            expected = (iterations + self.req.warmup) * latency_guess_s
            reply = self.dut.infer(iterations, self.req.warmup, rules.infer_timeout_s(expected))
            seconds = reply.elapsed_us / 1e6
            attempts.append({"inferences": iterations, "seconds": seconds})
            if seconds >= rules.MIN_WINDOW_S or fixed or len(attempts) > rules.MAX_WINDOW_RETRIES:
                break
            grown = rules.grow_iterations(iterations, seconds, self.req.target_window_s)
            self.log(f"window {index}: {seconds:.3f} s is under {rules.MIN_WINDOW_S:g} s; re-running with N={grown}")
            latency_guess_s = seconds / iterations
            iterations = grown
        window = {
            "index": index,
            "input": name,
            "inferences": iterations,
            "warmup": self.req.warmup,
            "lap_us": list(reply.lap_us),
            "elapsed_us": reply.elapsed_us,
            "seconds": seconds,
            "throughput_inf_per_s": iterations / seconds if seconds > 0 else None,
            "latency_ms": seconds * 1e3 / iterations,
            "meets_min_window": seconds >= rules.MIN_WINDOW_S,
            "attempts": attempts,
            "results": reply.results,
        }
        if self.golden:
            window["outputs_match_host"] = self.golden.check(name, data, reply.results)
        self.log(
            f"window {index}: {iterations} inferences in {seconds:.6f} s ({window['latency_ms']:.4f} ms each)"
        )
        return window, iterations
