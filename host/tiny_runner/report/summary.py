"""The short human summary printed at the end of `tiny-runner measure` (and by `analyze` of a run
directory): drawn from the record's JSON view, so a results.json read back gives the same lines."""

from __future__ import annotations

from ..benchmarks import find_benchmark
from ..run.record import RunRecord, json_view


def _where(results: dict) -> str:
    dut = results.get("dut") or {}
    lab = results.get("lab") or {}
    firmware = lab.get("firmware")
    if lab.get("dry_run"):
        return f"dry run: the DUT on {lab['dut']}, emulated {lab['relay']} and {lab['monitor']}"
    if dut.get("virtual") and firmware:
        flashed = f", flashed image {firmware['installed']['source']}" if "installed" in firmware else ""
        return f"C firmware, {firmware['port']} port{flashed}"
    if dut.get("virtual"):
        return f"virtual DUT, lab speed x{results.get('lab', {}).get('speed', 0):g}"
    return dut.get("url", "?")


def _energy_lines(results: dict) -> list[str]:
    monitor = results.get("monitor", {})
    if monitor.get("voltage_mv") is not None:
        supply = f"supplying {monitor['voltage_mv']} mV"
    else:
        supply = f"external supply measured at {monitor.get('measured_voltage_mv', float('nan')):.1f} mV"
    firmware = f" {monitor['firmware']}" if monitor.get("firmware") else ""
    lines = [f"  monitor {monitor.get('model')}{firmware}, {supply}, {monitor.get('rate_hz', 0):,.0f} samples/s"]
    if results.get("stimuli", {}).get("source") == "synthetic":
        lines.append("  inputs: synthetic (no --dataset given)")
    truth = "truth uJ" if any("truth_energy_uj" in w for w in results.get("windows", [])) else ""
    lines.append(f"  {'window':>6} {'inferences':>10} {'seconds':>9} {'energy uJ':>12} {'uJ/inf':>10} "
                 f"{'power mW':>9} {truth:>12}")
    for w in results.get("windows", []):
        if w["energy_uj"] is None:
            lines.append(f"  {w['index']:>6} {w['inferences']:>10}   not measured: {'; '.join(w['problems'])}")
            continue
        flag = "" if w["meets_min_window"] else "  < 10 s"
        true = f"{w['truth_energy_uj']:>12.1f}" if "truth_energy_uj" in w else ""
        lines.append(f"  {w['index']:>6} {w['inferences']:>10} {w['seconds']:>9.3f} {w['energy_uj']:>12.1f} "
                     f"{w['energy_uj_per_inf']:>10.3f} {w['power_mw']:>9.3f} {true}{flag}")
    if results.get("median_energy_uj_per_inf") is not None:
        stats = results["energy_stats"]
        lines.append(
            f"  median energy {results['median_energy_uj_per_inf']:.3f} uJ/inf (spread {stats['spread_pct']:.3f} %, "
            f"edge quantisation <= {results['quantisation_pct_max']:.3f} %), "
            f"throughput {results['median_throughput_inf_per_s']:.3f} inf/s"
        )
    truth_summary = results.get("lab", {}).get("truth")
    if truth_summary:
        lines.append(f"  lab ground truth: {truth_summary['median_energy_uj_per_inf']:.3f} uJ/inf; largest window "
                     f"error {truth_summary['max_abs_error_pct']:.4f} %")
    return lines


def _accuracy_lines(results: dict) -> list[str]:
    stimuli = results.get("stimuli", {})
    synthetic = stimuli.get("synthetic_dataset")
    lines = [f"  {results.get('files', 0)} files, {results.get('inferences', 0)} inferences"]
    benchmark = find_benchmark(results["benchmark"])
    if benchmark is not None:  # else the figures are in results.json only
        lines += benchmark.summary_lines(results)
    if synthetic:
        lines.append(f"  synthetic dataset; labels: {stimuli.get('labels')}")
    return lines


def _stream_truth_lines(truth: dict) -> list[str]:
    """On the virtual lab: the stream's figures against what the lab knows they are."""
    lines = []
    if truth.get("stream_energy_error_pct") is not None:
        lines.append(f"  lab truth: stream energy {truth['stream_energy_uj']:.1f} uJ, measured "
                     f"{truth['stream_energy_error_pct']:+.4f} % off")
    if truth.get("duty_cycle") is not None:
        lines.append(f"  lab truth: duty cycle {truth['duty_cycle']:.5f}, detections "
                     f"{', '.join(f'{t:.3f}' for t in truth.get('detections_s', []))} s after the sync")
    return lines


def summary(results: RunRecord | dict) -> str:
    results = json_view(results)
    head = f"{results['benchmark']} {results['mode']} on {results['board']} ({_where(results)})"
    lines = [head]
    benchmark = find_benchmark(results["benchmark"])
    if benchmark is not None and benchmark.streaming:
        lines += benchmark.summary_lines(results)
        if results.get("lab", {}).get("truth"):
            lines += _stream_truth_lines(results["lab"]["truth"])
    elif results["mode"] == "performance":
        stimuli = results.get("stimuli", {})
        if stimuli.get("source") == "synthetic":
            lines.append("  inputs: synthetic (no --dataset given)")
        lines.append(
            f"  {'window':>6}  {'input':<28} {'inferences':>10} {'seconds':>9} {'inf/s':>9} {'latency ms':>11}"
        )
        for w in results.get("windows", []):
            flag = "" if w["meets_min_window"] else "  < 10 s"
            lines.append(
                f"  {w['index']:>6}  {w['input'][:28]:<28} {w['inferences']:>10} {w['seconds']:>9.3f} "
                f"{w['throughput_inf_per_s']:>9.3f} {w['latency_ms']:>11.3f}{flag}"
            )
        if results.get("median_throughput_inf_per_s") is not None:
            stats = results["throughput_stats"]
            lines.append(
                f"  median throughput {results['median_throughput_inf_per_s']:.3f} inf/s "
                f"(latency {results['median_latency_ms']:.3f} ms), spread {stats['spread_pct']:.2f} %"
            )
    elif results["mode"] == "energy":
        lines += _energy_lines(results)
    else:
        lines += _accuracy_lines(results)
    check = results.get("check_outputs")
    if check:
        lines.append(
            f"  check-outputs: {check['checked']} vectors compared with the host's TFLM run, "
            f"{check['mismatches']} mismatches (max difference {check['max_abs_diff']:.4f})"
        )
    verdict = "VALID" if results["valid"] else "NOT VALID"
    lines.append(f"  {verdict}" + "".join(f"\n    - {v}" for v in results.get("violations", [])))
    lines.append(f"  run directory: {results['run_dir']}")
    return "\n".join(line.rstrip() for line in lines)
