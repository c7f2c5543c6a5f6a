"""Statistics over the timed windows of a run: the median the rules score, and its spread."""

from __future__ import annotations

import statistics


def window_stats(values: list[float]) -> dict:
    """Median (the score), min, max, and the spread (max-min)/median in percent."""
    if not values:
        return {"median": None, "min": None, "max": None, "spread_pct": None, "stdev": None}
    median = statistics.median(values)
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread_pct": 100.0 * (max(values) - min(values)) / median if median else None,
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }
