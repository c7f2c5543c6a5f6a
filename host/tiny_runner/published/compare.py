"""A lab's runs beside the published results: per benchmark, the same board's published rows
(the descriptor's `published.system_ids`, or for a virtual board the result its model is
calibrated from) and the best and median published results of the same processor class.

Ratios are this run's figure over the published one: above 1 is slower (latency) or costlier
(µJ/inf); for accuracy, above 1 is better.
"""

from __future__ import annotations

import re
import statistics

from ..benchmarks import find_benchmark
from ..boards import Board

# (class, pattern on the processor's name); the first match wins, biggest core first, so a
# dual-core "M4 + M0+" part is an M4. A row with an accelerator is in the accelerator class
# whatever its CPU, since the accelerator sets its figures.
_CLASSES = (
    ("Cortex-M85", r"M85"), ("Cortex-M55", r"M55"), ("Cortex-M7", r"M7"), ("Cortex-M33", r"M33"),
    ("Cortex-M4", r"M4"), ("Cortex-M0+", r"M0"), ("RISC-V", r"RISC-?V|\bRV\d|XuanTie|Andes"),
)
ACCELERATOR_CLASS = "with an accelerator"
FIGURES = {"latency_ms": "latency_ms", "energy_uj_per_inf": "energy_uJ_per_inf"}  # run key -> table column
_ACCURACY_COLUMN = {"top1": "top1_pct", "auc": "auc"}


def processor_class(processor: str, accelerator: str = "") -> str:
    if accelerator.strip():
        return ACCELERATOR_CLASS
    for name, pattern in _CLASSES:
        if re.search(pattern, processor, re.IGNORECASE):
            return name
    return "other"


def board_class(board: Board) -> str:
    return processor_class(board.data.get("core", ""))


def board_system_ids(board: Board) -> list[str]:
    """The system_ids under which the published results name this board."""
    ids = list((board.data.get("published") or {}).get("system_ids", []))
    calibrated = ((board.data.get("simulation") or {}).get("calibrated_from") or {}).get("system_id")
    return ids + ([calibrated] if calibrated and calibrated not in ids else [])


def compare_runs(runs: list[dict], board: Board, table_rows) -> list[dict]:
    """`runs`: results-database rows (db.rows.run_row) of one board; one entry per benchmark."""
    by_benchmark: dict[str, list[dict]] = {}
    for run in runs:
        by_benchmark.setdefault(run["benchmark"], []).append(run)
    wanted_class = board_class(board)
    ids = {i.lower() for i in board_system_ids(board)}
    entries = []
    for benchmark_id, members in sorted(by_benchmark.items()):
        benchmark = find_benchmark(benchmark_id)
        short = benchmark.short if benchmark else benchmark_id
        mine = _run_figures(members)
        if mine["accuracy_metric"] is None and benchmark:  # the metric the published accuracy is read in
            mine["accuracy_metric"] = benchmark.metric
        published = [r for r in table_rows if r["benchmark"] == short]
        same_board = [_published_entry(r, mine) for r in published if r["system_id"].lower() in ids]
        same_class = [r for r in published if r["division"] == "closed"
                      and processor_class(r["processor"], r["accelerator"]) == wanted_class]
        entries.append({"benchmark": benchmark_id, "published_benchmark": short, "class": wanted_class,
                        "run": mine, "same_board": same_board,
                        "class_best": _best(same_class, mine), "class_median": _median(same_class, mine),
                        "class_results": len(same_class)})
    return entries


def _run_figures(runs: list[dict]) -> dict:
    """This board's figures for one benchmark, each from its latest run of the mode that measures it."""
    latest = {}
    for run in sorted(runs, key=lambda r: r["started"] or ""):
        latest[run["mode"]] = run
    figures: dict = {"runs": {}}
    sources = {"latency_ms": ("performance", "median_latency_ms"),
               "energy_uj_per_inf": ("energy", "median_energy_uj_per_inf"), "accuracy": ("accuracy", "accuracy")}
    for figure, (mode, column) in sources.items():
        run = latest.get(mode)
        figures[figure] = run[column] if run else None
        if run:
            figures["runs"][figure] = {"run_dir": run["run_dir"], "valid": bool(run["valid"]), "round_ready":
                                       bool(run["valid"]) and run["status"] == "completed"}
    accuracy_run = latest.get("accuracy")
    figures["accuracy_metric"] = accuracy_run["accuracy_metric"] if accuracy_run else None
    return figures


def _accuracy_of(row: dict, metric: str | None):
    """The published accuracy in the run's metric; None for a metric the table has no column of
    (sww's detections)."""
    column = _ACCURACY_COLUMN.get(metric or "")
    return row.get(column) if column else None


def _ratio(mine, theirs):
    return mine / theirs if mine is not None and theirs else None


def _published_entry(row: dict, mine: dict) -> dict:
    accuracy = _accuracy_of(row, mine["accuracy_metric"])
    return {"round": row["round"], "division": row["division"], "submitter": row["submitter"],
            "system_id": row["system_id"], "latency_ms": row["latency_ms"],
            "energy_uj_per_inf": row["energy_uJ_per_inf"], "accuracy": accuracy,
            "ratios": {"latency_ms": _ratio(mine["latency_ms"], row["latency_ms"]),
                       "energy_uj_per_inf": _ratio(mine["energy_uj_per_inf"], row["energy_uJ_per_inf"]),
                       "accuracy": _ratio(mine["accuracy"], accuracy)}}


def _best(rows: list[dict], mine: dict) -> dict:
    best = {}
    for figure, column in FIGURES.items():
        having = [r for r in rows if r[column] is not None]
        if having:
            row = min(having, key=lambda r: r[column])
            best[figure] = {"value": row[column], "system_id": row["system_id"], "submitter": row["submitter"],
                            "round": row["round"], "ratio": _ratio(mine[figure], row[column])}
    having = [r for r in rows if _accuracy_of(r, mine["accuracy_metric"]) is not None]
    if having:
        row = max(having, key=lambda r: _accuracy_of(r, mine["accuracy_metric"]))
        value = _accuracy_of(row, mine["accuracy_metric"])
        best["accuracy"] = {"value": value, "system_id": row["system_id"], "submitter": row["submitter"],
                            "round": row["round"], "ratio": _ratio(mine["accuracy"], value)}
    return best


def _median(rows: list[dict], mine: dict) -> dict:
    median = {}
    for figure, column in {**FIGURES, "accuracy": None}.items():
        values = [(_accuracy_of(r, mine["accuracy_metric"]) if column is None else r[column], r["round"]) for r in rows]
        values = [(v, rnd) for v, rnd in values if v is not None]
        if values:
            value = statistics.median(v for v, _ in values)
            median[figure] = {"value": value, "results": len(values), "rounds": sorted({rnd for _, rnd in values}),
                              "ratio": _ratio(mine[figure], value)}
    return median
