"""Energy plots, headless (matplotlib Agg): each window's power trace with its edges marked,
and energy per inference across windows. Samples are read from the run's capture on disk, a
window at a time, so plotting never holds a whole capture in memory. The figures come from the
record's JSON view (the windows' edges and energies, the median), as results.json holds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..run.capture import read_capture
from ..run.record import RunRecord, json_view

MAX_POINTS = 4000  # per trace: min/max envelope and mean of buckets beyond this


def _buckets(values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start index, mean, min, max) of equal buckets: a faithful envelope of a long trace."""
    size = max(1, int(np.ceil(len(values) / points)))
    starts = np.arange(0, len(values), size)
    return (starts, np.add.reduceat(values, starts) / np.diff(np.append(starts, len(values))),
            np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts))


def plot_energy_run(run_dir: Path, results: RunRecord | dict) -> list[str]:
    results = json_view(results)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    meta, samples, _ = read_capture(run_dir / "capture")
    rate = meta["rate_hz"]
    written = []
    for window in results.get("windows", []):
        if len(window.get("edges", [])) < 2:
            continue
        first, last = window["edges"][0], window["edges"][-1]
        margin = max(int(0.05 * (last - first)), int(0.2 * rate))
        low, high = max(0, first - margin), min(len(samples), last + margin + 1)
        power_mw = np.nan_to_num(np.asarray(samples[low:high], dtype=np.float64)) * rate * 1e3
        starts, mean, lowest, highest = _buckets(power_mw, MAX_POINTS)
        t = (low + starts - first) / rate
        fig, ax = plt.subplots(figsize=(10, 4))
        ax.fill_between(t, lowest, highest, color="tab:blue", alpha=0.25, linewidth=0, label="min-max")
        ax.plot(t, mean, color="tab:blue", linewidth=0.8, label="mean")
        for edge in window["edges"]:
            ax.axvline((edge - first) / rate, color="tab:red", linewidth=1)
        ax.set_xlabel("seconds from the first timestamp edge")
        ax.set_ylabel("power (mW)")
        ax.set_title(f"{results['benchmark']} window {window['index']}: {window['inferences']} inferences, "
                     f"{window['energy_uj_per_inf']:.1f} uJ/inf")
        ax.legend(loc="center right")
        name = f"window-{window['index']}.png"
        fig.tight_layout()
        fig.savefig(run_dir / name, dpi=100)
        plt.close(fig)
        written.append(name)
    measured = [w for w in results.get("windows", []) if w.get("energy_uj_per_inf") is not None]
    if measured:
        fig, ax = plt.subplots(figsize=(7, 4))
        ids = [w["index"] for w in measured]
        values = [w["energy_uj_per_inf"] for w in measured]
        bounds = [(w["quantisation_uj"] or 0) / w["inferences"] for w in measured]
        ax.errorbar(ids, values, yerr=bounds, fmt="o", capsize=5, color="tab:green",
                    label="window, with its edge quantisation bound")
        if results.get("median_energy_uj_per_inf") is not None:
            ax.axhline(results["median_energy_uj_per_inf"], color="black", linestyle="--", label="median")
        truths = [w.get("truth_energy_uj") for w in measured]
        if all(t is not None for t in truths):
            ax.plot(ids, [t / w["inferences"] for t, w in zip(truths, measured)], "kx", label="lab ground truth")
        ax.set_xticks(ids)
        ax.set_xlabel("window")
        ax.set_ylabel("energy per inference (uJ)")
        ax.set_title(f"{results['benchmark']} on {results['board']}")
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(run_dir / "energy-summary.png", dpi=100)
        plt.close(fig)
        written.append("energy-summary.png")
    return written
