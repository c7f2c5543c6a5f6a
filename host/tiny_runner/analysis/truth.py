"""On the virtual lab: each measured energy window next to the energy the bench really drew.

The bench records every falling edge of the DUT's timestamp pin with the exact cumulative
energy at that instant, and where in virtual time the monitor's acquisition started. A
measured edge (a sample index) is matched to the recorded edge nearest to its sample's middle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .energy import WindowTruth


def attach_truth(record, truth_path: Path) -> None:
    """Each measured window of the record (run/record.py RunRecord) gets its truth, and the lab's
    record the largest error and the true median."""
    records = [json.loads(line) for line in truth_path.read_text().splitlines() if line]
    starts = [r for r in records if "acquisition_start_us" in r]
    edges = [r for r in records if "edge_us" in r]
    if not starts or not edges:
        return
    # an instrument that timestamps its readings leaves the grid to its driver: the run's rate
    start = starts[-1]["acquisition_start_us"]
    rate = starts[-1].get("rate_hz") or (record.monitor.rate_hz if record.monitor else None)
    if not rate:
        return
    times = np.array([e["edge_us"] for e in edges])
    energies = np.array([e["energy_j"] for e in edges])
    errors, truth_per_inf = [], []
    for window in record.windows or []:
        if window.energy_uj is None:
            continue
        nearest = [int(np.argmin(np.abs(times - (start + (i + 0.5) * 1e6 / rate))))
                   for i in (window.edges[0], window.edges[-1])]
        truth_uj = float(energies[nearest[1]] - energies[nearest[0]]) * 1e6
        error_pct = (window.energy_uj / truth_uj - 1) * 100 if truth_uj else None
        window.truth = WindowTruth(truth_uj, float(times[nearest[1]] - times[nearest[0]]) / 1e6, error_pct)
        if error_pct is not None:  # a window the bench drew nothing in has no relative error
            errors.append(abs(error_pct))
        truth_per_inf.append(truth_uj / window.inferences)
    if errors:
        record.bench_records.setdefault("lab", {})["truth"] = {
            "max_abs_error_pct": max(errors),
            "median_energy_uj_per_inf": float(np.median(truth_per_inf)),
        }
