"""results.json (the record's JSON view) and results.txt (the lines the submission checker greps,
tiny_protocol.md §6.5): the verdict is drawn on the run's record, the text from its JSON view."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

from ..analysis.stats import window_stats
from ..benchmarks import find_benchmark
from ..benchmarks.sww01.rules import stream_violations
from ..run import rules
from ..run.record import EnergyFigures, ModelUsed, PerformanceFigures, RunRecord, Violation, json_view


def finalise(record: RunRecord, request) -> None:
    """Add the summary figures and the validity verdict once the procedure has finished."""
    bench = request.benchmark
    if request.model is not None:
        record.model = ModelUsed(str(request.model.path), request.model.sha256, request.model.reference)
    if bench is not None:
        record.quality_target = bench.quality_target
    windows = record.windows or []
    if bench is not None and bench.streaming:
        _finalise_stream(record, windows)
    elif record.mode == "performance":
        throughput = window_stats([w.throughput_inf_per_s for w in windows if w.throughput_inf_per_s])
        latency = window_stats([w.latency_ms for w in windows])
        record.figures = PerformanceFigures(throughput["median"], latency["median"], throughput)
        record.violations = _window_rules([w.seconds for w in windows]) + record.violations
    elif record.mode == "energy":
        _finalise_energy(record, windows)
    check = record.check_outputs
    if check and check["mismatches"]:
        record.violations.append(Violation(
            f"--check-outputs: {check['mismatches']} of {check['checked']} DUT result vectors differ from the "
            f"host's TFLM run (max difference {check['max_abs_diff']:.4f})", "check outputs"))
    record.valid = not record.violations


def _window_rules(seconds: list[float]) -> list[Violation]:
    return [Violation(text, "windows") for text in rules.window_violations(seconds)]


def _finalise_energy(record: RunRecord, windows: list) -> None:
    measured = [w for w in windows if w.energy_uj_per_inf is not None]
    per_inf = window_stats([w.energy_uj_per_inf for w in measured])
    throughput = window_stats([w.throughput_inf_per_s for w in measured])
    # the edges' one-sample uncertainty, as a share of each window's energy: the worst window
    shares = [100 * w.quantisation_uj / w.energy_uj for w in measured if w.energy_uj]
    record.figures = EnergyFigures(
        median_energy_uj_per_inf=per_inf["median"],
        energy_stats=per_inf,
        median_power_mw=window_stats([w.power_mw for w in measured])["median"],
        median_throughput_inf_per_s=throughput["median"],
        median_latency_ms=1e3 / throughput["median"] if throughput["median"] else None,
        quantisation_pct_max=max(shares) if shares else None,
    )
    # an unmeasured window is reported by its own problem, not as one that lasted 0 s
    problems = _window_rules([w.seconds for w in windows if w.seconds is not None])
    problems += [Violation(f"window {w.index}: {p}", "windows") for w in windows for p in w.problems]
    record.violations = problems + record.violations


def _finalise_stream(record: RunRecord, windows: list) -> None:
    """A stream is one window: its energy (energy mode), and the run rules of sww01."""
    stream = record.stream or {}
    duty = stream.get("duty_cycle") or {}
    if record.mode == "energy":
        measured = [w for w in windows if w.energy_uj_per_inf is not None]
        if measured:
            window = measured[0]
            throughput = duty.get("throughput_inf_per_s")
            record.figures = EnergyFigures(
                median_energy_uj_per_inf=window.energy_uj_per_inf,
                energy_stats=window_stats([window.energy_uj_per_inf]),
                median_power_mw=window.power_mw,
                median_throughput_inf_per_s=throughput,
                median_latency_ms=1e3 / throughput if throughput else None,
                quantisation_pct_max=100 * window.quantisation_uj / window.energy_uj if window.energy_uj else None)
        problems = [Violation(f"stream energy window: {p}", "windows") for w in windows for p in w.problems]
        problems += [Violation(f"the stream's energy window lasted {w.seconds:.3f} s; it must last at least "
                               f"{rules.MIN_WINDOW_S:g} s", "windows")
                     for w in measured if w.seconds < rules.MIN_WINDOW_S]
        record.violations = problems + record.violations
    record.violations += [Violation(text, "stream") for text in stream_violations(record.mode, stream)]


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# What the official submission checker (tools/submission/submission_checker.py) scores in a
# results.txt, line by line: throughput, energy, top-1, AUC. Only a valid, completed run may
# carry a line that one of them matches.
CHECKER_PATTERNS = (
    (re.match, re.compile(r".* Median throughput is\s+([\d\.]+) inf\./sec\..*")),
    (re.search, re.compile(r"Median energy cost is ([\d\.]+) uJ/inf")),
    (re.match, re.compile(r".* Top[- ]1%?\s?[:=] ([\d\.]+).*")),
    (re.match, re.compile(r".* AUC\s?[:=] ([\d\.]+).*")),
    # sww (sww_perf_acc, check_power_dir)
    (re.search, re.compile(r"Estimated throughput:\s*([\d\.]+) inf\./sec\..*")),
    (re.search, re.compile(r"Accuracy: ([\d]+) True positives, ([\d]+) False negatives, ([\d]+) False positives")),
    (re.search, re.compile(r"Average duty cycle:\s*([\d\.]+)")),
    (re.search, re.compile(r"Power\s+: ([\d\.]+) mW.*")),
)
# the words each pattern keys on, and what a line of free text says instead
_DEFUSED = (("Median", "median"), ("Top", "top"), ("AUC", "auc"), ("Estimated", "estimated"),
            ("Accuracy", "accuracy"), ("Average", "average"), ("Power", "power"))


def scored_by_checker(line: str) -> bool:
    return any(find(pattern, line) for find, pattern in CHECKER_PATTERNS)


def _plain(line: str) -> str:
    """A line of free text (names, DUT replies, violations) that the checker cannot score and
    that stays one ASCII line."""
    line = "".join(" " if unicodedata.category(c) == "Cc" else c for c in line)
    line = line.encode("ascii", "backslashreplace").decode("ascii")
    if scored_by_checker(line):  # the patterns are case-sensitive
        for word, plain_word in _DEFUSED:
            line = line.replace(word, plain_word)
    return line


def _accuracy_lines(results: dict, prefix: str, scored: bool) -> list[str]:
    """The benchmark's accuracy lines: the MLCommons runner's two (ad01 too: its 'Top 1%' is the
    precision/recall figure), or, when the run is not valid, the same figures in words the checker
    ignores. A record of a benchmark no longer installed keeps its figures in results.json only."""
    benchmark = find_benchmark(results["benchmark"])
    if benchmark is None:
        return [f"{prefix} NOT VALID: benchmark {results['benchmark']!r} is not installed; figures in results.json"]
    return benchmark.result_lines(results, prefix, scored)


def results_txt(results: RunRecord | dict) -> str:
    """The graded lines, in the MLCommons runner's wording so the submission checker finds them;
    a run that is not valid for submission keeps its figures in words the checker does not score.
    Drawn from the record's JSON view, so a results.json read back gives the same text."""
    results = json_view(results)
    stamp = _stamp()
    prefix = f"{stamp} ulp-mlperf:"
    scored = bool(results.get("valid")) and results["status"] == "completed"
    lines = [
        f"{prefix} tiny-runner {results['tiny_runner_version']}, board {results['board']}, "
        f"benchmark {results['benchmark']}, mode {results['mode']}, status {results['status']}"
    ]
    figures = []
    benchmark = find_benchmark(results["benchmark"])
    stream = results.get("stream")
    if benchmark is not None and benchmark.streaming:
        if stream:
            lines.append(f"{prefix} Stream {stream['wav_file']} ({stream['length_s']:g} s, {stream['occurrences']} "
                         f"occurrences), truth {stream['truth_file']}, detection window rule {stream['rule']}")
        figures += benchmark.result_lines(results, prefix, scored)
    elif results["mode"] == "performance":
        for w in results.get("windows", []):
            met = "Runtime requirements have been met." if w["meets_min_window"] else "Runtime requirements NOT met."
            lines.append(
                f"{prefix} Window {w['index']}: {w['inferences']} inferences in {w['seconds']:.3f} s, "
                f"{w['throughput_inf_per_s']:.3f} inf./sec. {met}"
            )
        if results.get("median_throughput_inf_per_s") is not None:
            figures.append(_throughput_line(results, prefix, scored))
    elif results["mode"] == "energy":
        for w in results.get("windows", []):
            if w["energy_uj"] is None:
                lines.append(f"{prefix} Energy data for window {w['index']}: not measured ({'; '.join(w['problems'])})")
                continue
            lines.append(
                f"{prefix} Energy data for window {w['index']} for {w['seconds']:.3f} sec.: "
                f"Energy {w['energy_uj']:.3f} uJ, Power {w['power_mw'] * 1e3:.3f} uW, "
                f"Energy/Inf. {w['energy_uj_per_inf']:.3f} uJ/inf., {w['inferences']} inferences"
            )
        if results.get("median_energy_uj_per_inf") is not None:
            energy = results["median_energy_uj_per_inf"]
            # the MLCommons runner's %5.4f: one space before the figure, as the checker's pattern wants
            figures.append(f"{prefix} Median energy cost is {energy:.4f} uJ/inf." if scored
                           else f"{prefix} NOT VALID: median energy {energy:.4f} uJ/inf")
            if results.get("median_throughput_inf_per_s") is not None:
                figures.append(_throughput_line(results, prefix, scored))
    elif results["mode"] == "accuracy" and results["status"] == "completed":
        figures += _accuracy_lines(results, prefix, scored)
    errors = [f"{prefix} ERROR: Not valid for submission. {problem}" for problem in results.get("violations", [])]
    if results["status"] != "completed":
        errors.append(f"{prefix} ERROR: run {results['status']}: {results.get('stop_reason', '')}")
    # the figures are this module's own words; everything else may carry names and DUT replies
    return "\n".join([_plain(line) for line in lines] + figures + [_plain(line) for line in errors]) + "\n"


def _throughput_line(results: dict, prefix: str, scored: bool) -> str:
    throughput = results["median_throughput_inf_per_s"]
    if scored:
        return f"{prefix} Median throughput is {throughput:>10.3f} inf./sec."
    return f"{prefix} NOT VALID: median throughput {throughput:.3f} inf/s"
