"""On the virtual lab: a streamed run's figures next to what the lab knows they are. The virtual
sww DUT notes each stream it processed (lab/sww_firmware.py): every WW_DETECTED edge, the first
100 frames' PROCESSING edges, the modelled processing time and period, all in exact virtual
microseconds. The measured figures come through the interface board's ms and 10 µs timers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def attach_stream_truth(record, truth_path: Path) -> None:
    """results["lab"]["truth"] gains the stream's true detections and duty cycle, with the
    measured ones' errors, and the energy window's truth when attach_truth found it."""
    notes = [json.loads(line) for line in truth_path.read_text().splitlines() if line]
    streams = [n["sww_stream"] for n in notes if "sww_stream" in n]
    if not streams or not record.stream:
        return
    truth, measured = streams[-1], record.stream
    detections = np.asarray(truth["detections_us"], dtype=float)
    edges = np.asarray(truth["processing_edges_us"], dtype=float).reshape(-1, 2)
    found = {
        "frames": truth["frames"],
        "detections_s": ((detections[1:] - detections[0]) / 1e6).round(6).tolist() if len(detections) else [],
        "modelled_duty_cycle": truth["processing_us"] / truth["period_us"],
        "modelled_throughput_inf_per_s": 1e6 / truth["processing_us"],
    }
    if len(edges) >= 3:
        on, periods = edges[:, 1] - edges[:, 0], np.diff(edges[:, 0])
        found["duty_cycle"] = float(on.mean() / periods.mean())
        found["throughput_inf_per_s"] = float(1e6 / on.mean())
    duty = measured.get("duty_cycle")
    if duty and "duty_cycle" in found:
        found["duty_cycle_error_pct"] = (duty["duty_cycle"] / found["duty_cycle"] - 1) * 100
        found["throughput_error_pct"] = (duty["throughput_inf_per_s"] / found["throughput_inf_per_s"] - 1) * 100
    if "detections_s" in measured and len(measured["detections_s"]) == len(found["detections_s"]):
        errors = np.abs(np.asarray(measured["detections_s"]) - np.asarray(found["detections_s"]))
        found["detections_max_error_ms"] = float(errors.max() * 1e3) if len(errors) else 0.0
    if measured.get("activations") is not None:
        found["activations_match"] = measured["activations"] == truth["activations"]
    window = (record.windows or [None])[0]
    if window is not None and window.truth is not None:
        found["stream_energy_uj"] = window.truth.energy_uj
        found["stream_energy_error_pct"] = window.truth.error_pct
    record.bench_records.setdefault("lab", {}).setdefault("truth", {}).update(found)
