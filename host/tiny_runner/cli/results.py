"""tiny-runner results [list|compare|reindex|show]: the runs recorded in the results database.

`list` prints the runs that match the filters, `compare` sets repeats of the same benchmark and
mode side by side per board or per supply voltage, `reindex` records the run directories of a
runs folder again, `show` prints one run and its windows. Reading never creates a database: one
that does not exist is an error naming its path.

In `compare` only completed, valid runs contribute figures; the others that match the filters
(not valid, failed, interrupted) are counted in the group's `not valid` column, never averaged in.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..benchmarks import get_benchmark
from ..db.store import DEFAULT_DB_NAME, ResultsDb, open_existing, run_columns
from ..errors import UsageError

ACTIONS = ("list", "compare", "reindex", "show")
MODES = ("performance", "accuracy", "energy")
DEFAULT_RUNS_DIR = "runs"
FILTER_OPTIONS = {"board": "--board", "benchmark": "--benchmark", "mode": "--mode", "voltage": "--voltage",
                  "since": "--since", "until": "--until", "campaign": "--campaign", "valid_only": "--valid-only"}
# compare --by: the option's value -> the run column that forms the groups
GROUP_COLUMNS = {"board": "board", "voltage": "supply_mv", "firmware": "firmware_sha256"}
# the figure whose spread across repeats compare shows: the score of energy mode; accuracy runs have no latency
SPREAD_OF = {"energy": "median_energy_uj_per_inf", "accuracy": "accuracy", "performance": "median_latency_ms"}
STARTED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how results.json writes `started` (UTC), so text order is time order


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="list, filter, compare and reindex the runs in the results database",
                       description="Read the results database `measure` records every run in (default "
                                   f"RUNS_DIR/{DEFAULT_DB_NAME}): list and filter runs, compare repeats per board "
                                   "or supply voltage, rebuild it from the run directories, show one run.")
    p.add_argument("action", nargs="?", choices=ACTIONS, default="list", help="what to do (default list)")
    p.add_argument("target", nargs="?", metavar="RUNS_DIR|RUN",
                   help="reindex: the runs folder (default --out, else ./runs); show: a run's id or directory")
    p.add_argument("--db", metavar="FILE", help=f"results database (default RUNS_DIR/{DEFAULT_DB_NAME})")
    p.add_argument("--out", metavar="RUNS_DIR", help=f"runs folder whose {DEFAULT_DB_NAME} is read (default ./runs)")
    filters = p.add_argument_group("filters (list and compare)")
    filters.add_argument("--board", help="board descriptor name")
    filters.add_argument("--benchmark", "-b", metavar="NAME", help="benchmark, by short name or id (kws, kws01)")
    filters.add_argument("--mode", choices=MODES)
    filters.add_argument("--voltage", type=float, metavar="MV", help="supply voltage in millivolts (energy runs)")
    filters.add_argument("--since", metavar="DATE", help="runs started at or after DATE (ISO date or date-time, UTC "
                                                         "unless it has an offset)")
    filters.add_argument("--until", metavar="DATE", help="runs started before DATE; a date alone includes that day")
    filters.add_argument("--campaign", help="runs of this campaign")
    filters.add_argument("--valid-only", action="store_true", help="only valid runs")
    p.add_argument("--by", choices=tuple(GROUP_COLUMNS),
                   help="compare: group by board (default), supply voltage or firmware image (its sha256: the "
                        "images a campaign flashed, one per clock setting)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV (list and compare)")
    p.set_defaults(handler=run)


def run(args) -> int:
    _check_options(args)
    if args.action == "reindex":
        return _reindex(args)
    with open_existing(_db_path(args)) as db:
        if args.action == "show":
            return _show(db, args)
        runs = db.runs(**_filters(args))
        if args.action == "compare":
            by = args.by or "board"
            _print_rows(compare_groups(runs, by), compare_fields(by), _compare_table(by), args)
        else:
            _print_rows(runs, run_columns(), _LIST_TABLE, args)
    return 0


# -- options ---------------------------------------------------------------------------------------
def _check_options(args) -> None:
    """Options another action would use are refused rather than silently ignored."""
    action = args.action
    if action in ("reindex", "show"):
        given = [flag for name, flag in FILTER_OPTIONS.items() if getattr(args, name) not in (None, False)]
        if given:
            raise UsageError(f"{given[0]} filters list and compare, not results {action}")
        if args.csv:
            raise UsageError(f"--csv is for list and compare, not results {action}")
    if args.by and action != "compare":
        raise UsageError(f"--by is for results compare, not results {action}")
    if action == "show" and not args.target:
        raise UsageError("results show needs a RUN: its id (results list shows it) or its run directory")
    if action in ("list", "compare") and args.target:
        raise UsageError(f"results {action} takes no {args.target!r}: filter with --board, --benchmark, --mode, ...")
    if action == "reindex" and args.target and args.out and Path(args.target) != Path(args.out):
        raise UsageError(f"results reindex: give the runs folder once ({args.target!r} or --out {args.out!r})")


def _filters(args) -> dict:
    since = _instant("--since", args.since, end_of_day=False)
    until = _instant("--until", args.until, end_of_day=True)
    if since and until and since >= until:
        raise UsageError(f"--since {args.since} is not before --until {args.until}: no run can match")
    if args.voltage is not None and not 0 < args.voltage < float("inf"):
        raise UsageError(f"--voltage {args.voltage:g}: a supply voltage is a positive number of millivolts")
    return {"board": args.board, "benchmark": get_benchmark(args.benchmark).id if args.benchmark else None,
            "mode": args.mode, "campaign": args.campaign, "voltage_mv": args.voltage, "since": since,
            "until": until, "valid_only": args.valid_only}


def _instant(flag: str, text: str | None, *, end_of_day: bool) -> str | None:
    """An ISO date or date-time as results.json writes `started` (UTC). A date alone means its
    midnight, or for --until the next one, so that `--until 2025-03-01` includes that day."""
    if text is None:
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r}: not an ISO date or date-time (for example 2025-03-01 or "
                         "2025-03-01T14:30)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime(STARTED_FORMAT)


def _db_path(args) -> Path:
    if args.db:
        return Path(args.db)
    runs_dir = args.target if args.action == "reindex" and args.target else args.out or DEFAULT_RUNS_DIR
    return Path(runs_dir) / DEFAULT_DB_NAME


# -- compare ---------------------------------------------------------------------------------------
def compare_fields(by: str) -> list[str]:
    """What compare says of each group, in order (the --csv header)."""
    return ["benchmark", "mode", GROUP_COLUMNS[by], "runs", "not_valid", "median_energy_uj_per_inf",
            "median_latency_ms", "accuracy_metric", "median_accuracy", "spread_of", "spread_pct", "run_ids",
            "not_valid_run_ids"]


def compare_groups(runs: list[dict], by: str) -> list[dict]:
    """One entry per benchmark x mode x board (or supply voltage): the medians over its completed,
    valid runs, and the other runs counted apart."""
    column = GROUP_COLUMNS[by]
    groups: dict[tuple, list[dict]] = {}
    for one in runs:
        groups.setdefault((one["benchmark"], one["mode"], one[column]), []).append(one)
    entries = []
    for (benchmark, mode, value), members in sorted(groups.items(), key=lambda item: _group_order(item[0])):
        valid = [r for r in members if r["valid"] and r["status"] == "completed"]
        not_valid = [r for r in members if r not in valid]
        spread_of = SPREAD_OF.get(mode, "median_latency_ms")
        metrics = sorted({r["accuracy_metric"] for r in valid if r["accuracy_metric"]})
        entries.append({
            "benchmark": benchmark, "mode": mode, column: value,
            "runs": len(valid), "not_valid": len(not_valid),
            "median_energy_uj_per_inf": _median(valid, "median_energy_uj_per_inf"),
            "median_latency_ms": _median(valid, "median_latency_ms"),
            "accuracy_metric": "/".join(metrics) or None,
            "median_accuracy": _median(valid, "accuracy"),
            "spread_of": spread_of, "spread_pct": _spread_pct(valid, spread_of),
            "run_ids": [r["id"] for r in valid], "not_valid_run_ids": [r["id"] for r in not_valid],
        })
    return entries


def _group_order(key: tuple) -> tuple:
    benchmark, mode, value = key
    return (benchmark or "", MODES.index(mode) if mode in MODES else len(MODES), mode, value is None,
            "" if value is None else value)


def _figures(runs: list[dict], column: str) -> list[float]:
    return [r[column] for r in runs if r[column] is not None]


def _median(runs: list[dict], column: str) -> float | None:
    figures = _figures(runs, column)
    return statistics.median(figures) if figures else None


def _spread_pct(runs: list[dict], column: str) -> float | None:
    """(max - min) / median across the repeats, in percent."""
    figures = _figures(runs, column)
    if not figures or statistics.median(figures) == 0:
        return None
    return (max(figures) - min(figures)) / statistics.median(figures) * 100


# -- output ----------------------------------------------------------------------------------------
def _fixed(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def _general(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


_ACCURACY_FORMATS = {"top1": lambda value: f"{value:.2f}% top1"}  # a percentage; auc and f1 are fractions


def _accuracy(metric: str | None, value: float | None) -> str | None:
    if value is None:
        return None
    return _ACCURACY_FORMATS.get(metric, lambda v: f"{v:.4f} {metric or ''}".rstrip())(value)


def _valid(run: dict) -> str:
    if run["status"] != "completed":
        return run["status"]
    return "yes" if run["valid"] else "no"


# a table: (header, the cell's text or None for `-`, right-aligned)
_LIST_TABLE = (
    ("id", lambda r: str(r["id"]), True),
    ("started", lambda r: r["started"], False),
    ("board", lambda r: r["board"], False),
    ("benchmark", lambda r: r["benchmark"], False),
    ("mode", lambda r: r["mode"], False),
    ("supply mV", lambda r: _general(r["supply_mv"]), True),
    ("valid", _valid, False),
    ("latency ms", lambda r: _fixed(r["median_latency_ms"]), True),
    ("uJ/inf", lambda r: _fixed(r["median_energy_uj_per_inf"]), True),
    ("accuracy", lambda r: _accuracy(r["accuracy_metric"], r["accuracy"]), True),
    ("run_dir", lambda r: r["run_dir"], False),
)


def _compare_table(by: str) -> tuple:
    column = GROUP_COLUMNS[by]
    group = {"board": ("board", lambda g: g[column], False),
             "voltage": ("supply mV", lambda g: _general(g[column]), True),
             "firmware": ("firmware", lambda g: (g[column] or "-")[:12], False)}[by]
    return (
        ("benchmark", lambda g: g["benchmark"], False),
        ("mode", lambda g: g["mode"], False),
        group,
        ("runs", lambda g: str(g["runs"]), True),
        ("not valid", lambda g: str(g["not_valid"]), True),
        ("uJ/inf", lambda g: _fixed(g["median_energy_uj_per_inf"]), True),
        ("latency ms", lambda g: _fixed(g["median_latency_ms"]), True),
        ("accuracy", lambda g: _accuracy(g["accuracy_metric"], g["median_accuracy"]), True),
        ("spread %", lambda g: _fixed(g["spread_pct"]), True),
    )


def _print_rows(rows: list[dict], fields: list[str], table: tuple, args) -> None:
    if args.json:
        print(json.dumps(rows))
    elif args.csv:
        _print_csv(rows, fields)
    else:
        _print_table(rows, table)


def _print_csv(rows: list[dict], header: list[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in header])


def _csv_cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _print_table(rows: list[dict], table: tuple) -> None:
    cells = [[header for header, _, _ in table]]
    for row in rows:
        cells.append([_or_dash(text(row)) for _, text, _ in table])
    widths = [max(len(line[i]) for line in cells) for i in range(len(table))]
    for line in cells:
        parts = [cell.rjust(width) if right else cell.ljust(width)
                 for cell, width, (_, _, right) in zip(line, widths, table)]
        print("  ".join(parts).rstrip())
    if not rows:
        print("(no runs match)")


def _or_dash(text: str | None) -> str:
    return "-" if text is None else text


# -- reindex ---------------------------------------------------------------------------------------
def _reindex(args) -> int:
    runs_dir = Path(args.target or args.out or DEFAULT_RUNS_DIR)
    if not runs_dir.is_dir():
        raise UsageError(f"results reindex: {runs_dir} is not a folder of run directories")
    db_path = _db_path(args)
    with ResultsDb(db_path) as db:
        recorded, skipped = db.reindex(runs_dir)
    if args.json:
        print(json.dumps({"database": str(db_path), "runs_dir": str(runs_dir), "recorded": recorded,
                          "skipped": skipped}))
        return 0
    print(f"recorded {recorded} run{'' if recorded == 1 else 's'} from {runs_dir} in {db_path}")
    for reason in skipped:
        print(f"skipped {reason}")
    return 0


# -- show ------------------------------------------------------------------------------------------
# a window's column -> (header, its text)
_WINDOW_COLUMNS = {"idx": ("window", str), "input": ("input", str), "inferences": ("inferences", str),
                   "seconds": ("seconds", _fixed), "throughput_inf_per_s": ("inf/s", _fixed),
                   "latency_ms": ("latency ms", _fixed), "energy_uj": ("energy uJ", _fixed),
                   "power_mw": ("power mW", _fixed), "energy_uj_per_inf": ("uJ/inf", _fixed),
                   "quantisation_uj": ("quant. uJ", _fixed)}


def _show(db: ResultsDb, args) -> int:
    run_row = _find_run(db, args.target)
    windows = db.windows(run_row["id"])
    if args.json:
        print(json.dumps({"run": run_row, "windows": windows}))
        return 0
    width = max(len(name) for name in run_row)
    for name, value in run_row.items():
        shown = "-" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else value
        print(f"{name:<{width}}  {shown}")
    if windows:
        print()
        # performance windows have no energy columns: leave them out rather than print dashes
        table = tuple((header, lambda w, key=key, text=text: None if w[key] is None else text(w[key]), key != "input")
                      for key, (header, text) in _WINDOW_COLUMNS.items() if any(w[key] is not None for w in windows))
        _print_table(windows, table)
    return 0


def _find_run(db: ResultsDb, wanted: str) -> dict:
    """A run by its id, its run directory, or (when that is not here) the directory's name."""
    runs = db.runs()
    if wanted.isdigit():
        found = [r for r in runs if r["id"] == int(wanted)]
    else:
        path = Path(wanted).resolve()
        found = [r for r in runs if r["run_dir"] and Path(r["run_dir"]).resolve() == path]
        if not found and "/" not in wanted.rstrip("/"):
            found = [r for r in runs if r["run_dir"] and Path(r["run_dir"]).name == wanted.rstrip("/")]
    if len(found) != 1:
        how = "no run" if not found else f"{len(found)} runs"
        raise UsageError(f"results database {db.path} has {how} {wanted!r} (`tiny-runner results list` shows the "
                         "ids and run directories)")
    return found[0]
