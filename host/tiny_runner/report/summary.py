"""The short human summary printed at the end of `tiny-runner measure`."""

from __future__ import annotations


def _where(results: dict) -> str:
    dut = results.get("dut") or {}
    if dut.get("virtual"):
        return f"virtual DUT, lab speed x{results.get('lab', {}).get('speed', 0):g}"
    return dut.get("url", "?")


def summary(results: dict) -> str:
    head = f"{results['benchmark']} {results['mode']} on {results['board']} ({_where(results)})"
    lines = [head]
    if results["mode"] == "performance":
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
    else:
        stimuli = results.get("stimuli", {})
        lines.append(f"  {results.get('files', 0)} files, {results.get('inferences', 0)} inferences")
        if results["benchmark"] == "ad01":
            lines.append(f"  AUC {results['auc']:.4f}" if results.get("auc") is not None else "  AUC undefined")
        else:
            auc = results.get("auc")
            auc_text = f", AUC {auc:.4f}" if auc is not None else ""
            if auc is not None and results.get("auc_classes") != results.get("classes"):
                auc_text += f" (over the {results['auc_classes']} of {results['classes']} classes present)"
            lines.append(f"  top-1 {results['top1_pct']:.2f} %{auc_text}")
        if stimuli.get("synthetic_dataset"):
            lines.append(f"  synthetic dataset; labels: {stimuli.get('labels')}")
    check = results.get("check_outputs")
    if check:
        lines.append(
            f"  check-outputs: {check['checked']} vectors compared with the host's TFLM run, "
            f"{check['mismatches']} mismatches (max difference {check['max_abs_diff']:.4f})"
        )
    verdict = "VALID" if results["valid"] else "NOT VALID"
    lines.append(f"  {verdict}" + "".join(f"\n    - {v}" for v in results.get("violations", [])))
    lines.append(f"  run directory: {results['run_dir']}")
    return "\n".join(lines)
