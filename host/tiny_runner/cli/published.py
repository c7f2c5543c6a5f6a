"""tiny-runner published: the published MLPerf Tiny results the package ships, listed and kept
up to date."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..printable import printable
from ..published.table import BENCHMARKS, COLUMNS, load_table, reset_table, shipped_path, update_table

ACTIONS = ("info", "list", "update", "reset")
# the columns `list` shows as a table (all of them with --json or --csv)
_SHOWN = (("round", "round"), ("benchmark", "bench"), ("system_id", "system"), ("processor", "processor"),
          ("latency_ms", "latency ms"), ("energy_uJ_per_inf", "uJ/inf"), ("top1_pct", "top-1 %"), ("auc", "AUC"))


def add_parser(sub) -> None:
    p = sub.add_parser("published", help="the published MLPerf Tiny results: list them, update the table",
                       description="The published MLPerf Tiny results (v0.5 to v1.3, every row with its source "
                                   "repository, commit and results folder) ship with tiny-runner. `update FILE` "
                                   "checks a newer table and keeps it for this user (the installed package is never "
                                   "written); `reset` goes back to the shipped one.")
    p.add_argument("action", nargs="?", choices=ACTIONS, default="info", help="what to do (default info)")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="update: the new table (CSV, same columns)")
    p.add_argument("--round", help="list: one round (v1.3)")
    p.add_argument("--benchmark", "-b", choices=BENCHMARKS, help="list: one benchmark")
    p.add_argument("--system", metavar="ID", help="list: one system_id")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="list: print CSV, every column")
    p.set_defaults(handler=run)


def run(args) -> int:
    if (args.file is not None) != (args.action == "update"):
        raise UsageError("published update takes the new table's FILE; the other actions take none")
    filters = {"round": args.round, "benchmark": args.benchmark, "system_id": args.system}
    if args.action != "list" and (any(filters.values()) or args.csv):
        raise UsageError("--round, --benchmark, --system and --csv are for published list")
    if args.action == "update":
        table = update_table(args.file)
        _info(table, args, f"updated from {args.file}")
    elif args.action == "reset":
        removed = reset_table()
        _info(load_table(), args, "updated copy removed" if removed else "no updated copy was kept")
    elif args.action == "info":
        _info(load_table(), args, None)
    else:
        rows = [r for r in load_table().rows if all(v is None or r[k] == v for k, v in filters.items())]
        _list(rows, args)
    return 0


def _info(table, args, done: str | None) -> None:
    counts = {b: sum(r["benchmark"] == b for r in table.rows) for b in BENCHMARKS}
    summary = {"path": str(table.path), "updated": table.updated, "rows": len(table.rows), "rounds": table.rounds,
               "benchmarks": counts, "shipped": str(shipped_path())}
    if args.json:
        print(json.dumps({**summary, **({"done": done} if done else {})}))
        return
    if done:
        print(f"published results: {done}")
    which = "updated copy" if table.updated else "shipped with tiny-runner"
    print(f"{len(table.rows)} published results ({which}: {table.path})")
    print(f"  rounds {', '.join(table.rounds)}; " + ", ".join(f"{b} {n}" for b, n in counts.items()))


def _list(rows: list[dict], args) -> None:
    if args.json:
        print(json.dumps(rows))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_text(row[c]) for c in COLUMNS])
    else:
        cells = [[_cell(row[key]) for key, _ in _SHOWN] for row in rows]
        widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title) in enumerate(_SHOWN)]
        print("  ".join(title.ljust(w) for (_, title), w in zip(_SHOWN, widths)).rstrip())
        for line in cells:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        print(f"{len(rows)} results")


def _text(value) -> str:
    """A CSV field: a number exactly (the shortest text that reads back the same float)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return printable(value)[:40]
