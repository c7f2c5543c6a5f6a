"""When a sww01 run is valid for submission (the MLPerf Tiny v1.3 rules as the submission
checker applies them): an energy run (the official runner measures sww01 in energy mode only)
of the official long test stream (50 occurrences: the checker requires TP + FN = 50), scored by
the rule published results used, with every figure present."""

from __future__ import annotations

OFFICIAL_OCCURRENCES = 50


def stream_violations(mode: str, stream: dict) -> list[str]:
    problems = []
    if mode != "energy":
        problems.append("a bring-up run without an energy monitor: sww01 is measured in energy mode, its detections, "
                        "duty cycle and power from one stream")
    if not stream:
        return problems + ["no stream was played"]
    if stream.get("synthetic"):
        problems.append(f"synthetic stream ({stream['synthetic']}): not the official test stream")
    if stream.get("occurrences") != OFFICIAL_OCCURRENCES:
        problems.append(f"the stream has {stream.get('occurrences')} occurrences of the wake word; the official long "
                        f"test (sww_long_test.json) has {OFFICIAL_OCCURRENCES}, which the submission checker requires "
                        "(TP + FN = 50)")
    if stream.get("rule", "code") != "code":
        problems.append(f"detection window rule {stream['rule']!r}: published results were scored by the official "
                        "runner's code rule ([start, stop + 2 s])")
    if "score" not in stream or "duty_cycle" not in stream:
        problems.append("the stream was not scored: no detections or duty cycle")
    return problems
