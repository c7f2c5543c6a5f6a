"""How a streaming wake word run is worded: its results.txt lines (the official runner's, which
the submission checker reads, only for a run valid for submission), its summary and its line in
the demo's table. The figures come from results.json's "stream" section (modes/streaming.py)."""

from __future__ import annotations

from ..scoring import Scoring

ENERGY_RULE = "-" * 57  # the official runner's separator around the median energy line


class StreamScoring(Scoring):
    metric = "detections"

    def figure_name(self, synthetic: bool) -> str:
        return "detections on a synthetic stream" if synthetic else "detections"

    def result_lines(self, results: dict, prefix: str, scored: bool) -> list[str]:
        """The official runner's sww lines (main.py print_energy_results, streaming_ww_utils.py
        summarize_sww_result), or the same figures in words the checker does not score."""
        stream = results.get("stream")
        if not stream or "score" not in stream:
            return []
        lines = energy_lines(results, prefix, scored) if results["mode"] == "energy" else []
        score, duty = stream["score"], stream.get("duty_cycle")
        tp, fn, fp = (len(score[k]) for k in ("true_positives", "false_negatives", "false_positives"))
        if scored:
            lines.append(f"{prefix} Accuracy: {tp} True positives, {fn} False negatives, {fp} False positives")
            if duty:
                lines += [f"{prefix} Average duty cycle: {duty['duty_cycle']:1.5}",
                          f"{prefix} Average period: {duty['period_s']:1.5} s",
                          f"{prefix} Estimated throughput: {duty['throughput_inf_per_s']:1.5} inf./sec."]
            return lines
        lines.append(f"{prefix} NOT VALID: detections {tp} true positives, {fn} false negatives, {fp} false positives")
        if duty:
            lines.append(f"{prefix} NOT VALID: duty cycle {duty['duty_cycle']:.5f}, period {duty['period_s']:.5f} s, "
                         f"estimated throughput {duty['throughput_inf_per_s']:.3f} inf/s")
        return lines

    def summary_lines(self, results: dict) -> list[str]:
        stream = results.get("stream")
        if not stream:
            return []
        lines = [f"  stream {stream['wav_file']} ({stream['length_s']:g} s, {stream['occurrences']} occurrences"
                 + (", synthetic" if stream.get("synthetic") else "") + ")"]
        if "score" in stream:
            score = stream["score"]
            lines.append(f"  {len(score['true_positives'])} true positives, {len(score['false_negatives'])} false "
                         f"negatives, {len(score['false_positives'])} false positives (detection window rule "
                         f"{score['rule']}: [start, stop + {score['window_extension_s']:g} s])")
        duty = stream.get("duty_cycle")
        if duty:
            lines.append(f"  duty cycle {duty['duty_cycle']:.5f}, period {duty['period_s'] * 1e3:.3f} ms, processing "
                         f"{duty['processing_time_s'] * 1e3:.3f} ms, estimated throughput "
                         f"{duty['throughput_inf_per_s']:.3f} inf/s")
            lines += [f"  warning: {text}" for text in duty.get("warnings", [])]
        if results.get("median_power_mw") is not None:
            lines.append(f"  stream power {results['median_power_mw']:.4f} mW, energy "
                         f"{results['median_energy_uj_per_inf']:.1f} uJ over the stream")
        return lines

    def quality_text(self, results: dict) -> str:
        score = results["stream"]["score"]
        return (f"{len(score['true_positives'])} TP / {len(score['false_negatives'])} FN / "
                f"{len(score['false_positives'])} FP")


def energy_lines(results: dict, prefix: str, scored: bool) -> list[str]:
    """The official runner's energy block for the stream's one window (Inferences: 1)."""
    windows = results.get("windows") or []
    window = windows[0] if windows else None
    if window is None or window.get("energy_uj") is None:
        problems = "; ".join(window["problems"]) if window else "no energy window"
        return [f"{prefix} NOT VALID: stream energy not measured ({problems})"]
    energy_uj, seconds, power_mw = window["energy_uj"], window["seconds"], window["power_mw"]
    if not scored:
        return [f"{prefix} NOT VALID: stream energy {energy_uj:.3f} uJ in {seconds:.3f} s, power {power_mw:.4f} mW"]
    short = "" if seconds >= 10.0 else "  <<<< below minimum duration"
    return [f"{prefix} Power Edition Output",
            f"{prefix} Energy data for trial 0",
            f"{prefix}   Elapsed time  : {seconds}{short}",
            f"{prefix}   Inferences    : {window['inferences']}",
            f"{prefix}   Power         : {power_mw:5.4f} mW.",
            f"{prefix}   Total Energy  : {energy_uj:.3f} uJ",
            f"{prefix}   Energy/Inf    : {window['energy_uj_per_inf']:.3f} uJ/inf",
            f"{prefix} {ENERGY_RULE}",
            f"{prefix} Median energy cost is {window['energy_uj_per_inf']:5.4f} uJ/inf.",
            f"{prefix} {ENERGY_RULE}"]
