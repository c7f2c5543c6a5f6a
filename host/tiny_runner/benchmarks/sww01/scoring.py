"""Scoring a streaming wake word run as the official runner does (benchmark/runner/
streaming_ww_utils.py, calc_detection_stats and process_dutycycle), with its choices explicit.

Detections are the interface board's WW_DETECTED times in ms; the first is the DUT's sync mark
on its first frame, and the others are taken relative to it. An occurrence [start, stop] of the
wake word is a true positive if a detection falls in [start, stop + extension]: the runner's
code adds its 1 s suppression delay twice (extension 2 s, rule "code", the default, which is
what published results used), its README says 1 s (rule "readme"). Every detection in the
window is used up by it. Each occurrence without one is a false negative. The detections left
are false positives once those within 1 s after an earlier one are merged into it.

The duty cycle comes from the PROCESSING pin's edges in 10 µs ticks (the board keeps the first
100 frames): mean on time over mean period; throughput is one over the mean on time. A frame
period that varies by more than 2 % is warned about, as the runner does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RULES = {"code": 2.0, "readme": 1.0}  # seconds after an occurrence's stop a detection still counts
DEBOUNCE_S = 1.0
TICK_S = 10e-6  # the interface board's duty-cycle timer
MAX_FRAMES = 100  # the duty-cycle edges the interface board keeps
MIN_DETECTION_GAP_MS = 10  # the board drops a detection closer than this to the previous one
PERIOD_VARIATION_LIMIT = 0.02


@dataclass
class DetectionScore:
    true_positives: list[float]  # the start (s) of each occurrence found
    false_negatives: list[float]  # the start (s) of each occurrence missed
    false_positives: list[float]  # seconds after the sync detection, after debouncing
    rule: str
    window_extension_s: float

    @property
    def accuracy_line(self) -> str:
        """The line the submission checker reads for sww."""
        return (f"Accuracy: {len(self.true_positives)} True positives, {len(self.false_negatives)} False negatives, "
                f"{len(self.false_positives)} False positives")


def score_detections(detections_ms: list[int], windows: list[tuple[float, float]],
                     rule: str = "code") -> DetectionScore:
    if rule not in RULES:
        raise ValueError(f"detection window rule {rule!r}: one of {', '.join(RULES)}")
    if not detections_ms:
        raise ValueError("no detections: the DUT's sync detection on its first frame is missing, so no detection "
                         "time can be placed in the stream")
    extension = RULES[rule]
    stamps = np.asarray(detections_ms[1:], dtype=np.int64) - int(detections_ms[0])
    true_positives, false_negatives = [], []
    for start, stop in windows:
        seconds = stamps / 1000
        hits = np.where((seconds >= start) & (seconds <= stop + extension))[0]
        if len(hits):
            true_positives.append(float(start))
            stamps = np.delete(stamps, hits)
        else:
            false_negatives.append(float(start))
    index = 0
    while index < len(stamps):  # each false positive swallows those within the debounce after it
        current = stamps[index]
        stamps = np.delete(stamps, np.where((stamps > current) & (stamps <= current + int(DEBOUNCE_S * 1000)))[0])
        index += 1
    return DetectionScore(true_positives, false_negatives, [float(s) / 1000 for s in stamps], rule, extension)


@dataclass
class DutyCycle:
    duty_cycle: float
    period_s: float
    processing_time_s: float
    start_times_s: list[float]
    stop_times_s: list[float]
    warnings: list[str] = field(default_factory=list)

    @property
    def throughput_inf_per_s(self) -> float:
        return 1.0 / self.processing_time_s

    @property
    def period_variation(self) -> float:
        periods = np.diff(self.start_times_s)
        return float((periods.max() - periods.min()) / periods.mean())

    def result_lines(self) -> list[str]:
        """As the runner prints them (`:1.5` formats), which the submission checker reads."""
        return [f"Average duty cycle: {self.duty_cycle:1.5}", f"Average period: {self.period_s:1.5} s",
                f"Estimated throughput: {self.throughput_inf_per_s:1.5} inf./sec."]


def duty_cycle(start_ticks: list[int], stop_ticks: list[int]) -> DutyCycle:
    """From the PROCESSING pin's rising and falling edges in 10 µs ticks."""
    if len(start_ticks) != len(stop_ticks):
        raise ValueError(f"the interface board sent {len(start_ticks)} duty-cycle start times and "
                         f"{len(stop_ticks)} stop times: each frame needs both")
    if len(start_ticks) > MAX_FRAMES:
        raise ValueError(f"the interface board sent {len(start_ticks)} duty-cycle frames; it keeps {MAX_FRAMES}")
    if len(start_ticks) < 3:
        raise ValueError(f"{len(start_ticks)} duty-cycle frames: at least 3 are needed for a period")
    starts, stops = np.asarray(start_ticks) * TICK_S, np.asarray(stop_ticks) * TICK_S
    if np.any(np.diff(starts) <= 0) or np.any(stops < starts):
        raise ValueError("the duty-cycle times do not rise frame by frame, each stop after its start")
    on, periods = stops - starts, np.diff(starts)
    result = DutyCycle(float(on.mean() / periods.mean()), float(periods.mean()), float(on.mean()),
                       starts.tolist(), stops.tolist())
    if result.period_variation > PERIOD_VARIATION_LIMIT:
        result.warnings.append(f"the frame period varies by {100 * result.period_variation:.1f} % (more than 2 %): "
                               f"{periods.min() * 1e3:.3f} to {periods.max() * 1e3:.3f} ms")
    return result
