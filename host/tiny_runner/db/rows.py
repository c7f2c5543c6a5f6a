"""A run's rows, drawn from its results.json (any tiny-runner version's: keys a record lacks
are NULL). The accuracy column holds the figure the submission checker scores: top-1 (%) for
the classifiers, AUC for ad01, F1 of the detections for sww01."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ..benchmarks import find_benchmark

# the benchmark's metric -> where its value is in results.json
_ACCURACY_KEYS = {"top1": "top1_pct", "auc": "auc"}


def run_row(results: dict) -> dict:
    provenance = results.get("provenance") or {}
    firmware = provenance.get("firmware") or {}
    monitor = results.get("monitor") or {}
    instrument = provenance.get("monitor") or {}
    dut = results.get("dut") or {}
    relay = results.get("relay") or {}
    bench = results.get("bench") or {}
    stream = results.get("stream") or {}
    score = stream.get("score") or {}
    counts = {k: len(score[k]) for k in ("true_positives", "false_negatives", "false_positives") if k in score}
    metric, accuracy = _accuracy(results, counts)
    return {
        "run_dir": results["run_dir"],
        "tool_version": results["tiny_runner_version"],
        "board": results["board"],
        "benchmark": results.get("benchmark"),
        "mode": results["mode"],
        "status": results.get("status", "running"),
        "valid": int(bool(results.get("valid"))),
        "started": results.get("started"),
        "finished": results.get("finished"),
        "host": results.get("host"),
        "bench": bench.get("name"),
        "place": (results.get("place") or {}).get("place"),
        # a real board reports no image; a campaign that flashed it (and read it back) knows it
        "firmware_sha256": firmware.get("sha256") or _cell_definition(results).get("firmware_sha256"),
        "firmware_mode": dut.get("firmware_mode"),
        "dut_vendor": dut.get("vendor"),
        "monitor_model": instrument.get("model"),
        "monitor_serial": instrument.get("serial"),
        "monitor_firmware": instrument.get("firmware"),
        "relay": relay.get("kind"),
        "supply_mv": monitor.get("voltage_mv"),
        "measured_supply_mv": monitor.get("measured_voltage_mv"),
        "virtual": None if "virtual" not in dut else int(bool(dut["virtual"])),
        "campaign": (results.get("cell") or {}).get("campaign"),
        "cell": json.dumps(results["cell"], sort_keys=True) if results.get("cell") else None,
        "median_throughput_inf_per_s": results.get("median_throughput_inf_per_s"),
        "median_latency_ms": results.get("median_latency_ms"),
        "median_energy_uj_per_inf": results.get("median_energy_uj_per_inf"),
        "median_power_mw": results.get("median_power_mw"),
        "accuracy_metric": metric,
        "accuracy": accuracy,
        "sww_true_positives": counts.get("true_positives"),
        "sww_false_negatives": counts.get("false_negatives"),
        "sww_false_positives": counts.get("false_positives"),
        "sww_duty_cycle": (stream.get("duty_cycle") or {}).get("duty_cycle"),
        "violations": json.dumps(results.get("violations", [])),
        "stop_reason": results.get("stop_reason"),
        "record_json": json.dumps(results, sort_keys=True),
        "recorded": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _accuracy(results: dict, counts: dict) -> tuple[str | None, float | None]:
    if len(counts) == 3:
        tp, fn, fp = counts["true_positives"], counts["false_negatives"], counts["false_positives"]
        return "f1", (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None)
    benchmark = find_benchmark(results.get("benchmark"))
    key = _ACCURACY_KEYS.get(benchmark.metric) if benchmark else None
    if key is None or results.get(key) is None:
        return None, None
    return benchmark.metric, results[key]


def window_rows(results: dict) -> list[dict]:
    rows = []
    for window in results.get("windows") or []:
        rows.append({
            "idx": window["index"], "input": window.get("input"), "inferences": window.get("inferences"),
            "seconds": window.get("seconds"), "throughput_inf_per_s": window.get("throughput_inf_per_s"),
            "latency_ms": window.get("latency_ms"), "energy_uj": window.get("energy_uj"),
            "power_mw": window.get("power_mw"), "energy_uj_per_inf": window.get("energy_uj_per_inf"),
            "quantisation_uj": window.get("quantisation_uj"),
        })
    return rows


def _cell_definition(results: dict) -> dict:
    return (results.get("cell") or {}).get("definition") or {}
