"""tiny-runner compare: a board's runs beside the published MLPerf Tiny results."""

from __future__ import annotations

import json
from pathlib import Path

from ..boards import load_board
from ..db.rows import run_row
from ..db.store import open_existing
from ..errors import UsageError
from ..published.compare import compare_runs
from ..published.table import load_table
from ..run.record import read_record


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="set a board's runs beside the published MLPerf Tiny results",
                       description="For each benchmark of the runs: their latency, µJ/inf and accuracy beside the "
                                   "same board's published results and the best and median published results of "
                                   "its processor class (closed division), with ratios (this run / published) and "
                                   "the rounds they come from. The runs are run directories, or the runs of one "
                                   "board in a results database (--db with --board).")
    p.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="run directories (of one board)")
    p.add_argument("--db", type=Path, metavar="FILE", help="take the runs from this results database instead")
    p.add_argument("--board", help="--db: the board whose runs are compared")
    p.add_argument("--campaign", help="--db: only this campaign's runs")
    p.add_argument("--valid-only", action="store_true", help="--db: only valid runs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    if bool(args.runs) == (args.db is not None):
        raise UsageError("give run directories, or --db FILE --board NAME")
    if args.db is None and (args.board or args.campaign or args.valid_only):
        raise UsageError("--board, --campaign and --valid-only select runs from --db")
    rows = _from_db(args) if args.db is not None else [run_row(read_record(r / "results.json").to_json())
                                                        for r in args.runs]
    boards = sorted({r["board"] for r in rows})
    if len(boards) != 1:
        raise UsageError(f"the runs are of {len(boards)} boards ({', '.join(boards)}); compare one board's runs")
    board = load_board(boards[0])
    table = load_table()
    entries = compare_runs(rows, board, table.rows)
    if args.json:
        print(json.dumps({"board": board.name, "table": str(table.path), "benchmarks": entries}))
    else:
        _print(board.name, entries)
    return 0


def _from_db(args) -> list[dict]:
    if not args.board:
        raise UsageError("--db needs --board NAME: compare one board's runs")
    with open_existing(args.db) as db:
        rows = db.runs(board=args.board, campaign=args.campaign, valid_only=args.valid_only)
    if not rows:
        raise UsageError(f"{args.db} has no runs of {args.board} that match")
    return rows


def _print(board: str, entries: list[dict]) -> None:
    for entry in entries:
        mine = entry["run"]
        print(f"{entry['benchmark']} on {board} ({entry['class']}; {entry['class_results']} published closed-division "
              f"results of that class)")
        for figure, unit in (("latency_ms", "ms"), ("energy_uj_per_inf", "uJ/inf"), ("accuracy", "")):
            value = mine[figure]
            if value is None:
                continue
            source = mine["runs"][figure]
            flag = "" if source["round_ready"] else "  (NOT VALID for submission)"
            print(f"  this run  {figure:<18} {value:>10.4g} {unit}{flag}")
            for row in entry["same_board"]:
                if row[figure] is not None:
                    print(f"    same board, {row['round']} {row['submitter']} {row['system_id']}: {row[figure]:.4g}"
                          f"  (x{row['ratios'][figure]:.3g})")
            for kind in ("class_best", "class_median"):
                ref = entry[kind].get(figure)
                if ref:
                    where = (f"{ref['round']} {ref['submitter']} {ref['system_id']}" if kind == "class_best"
                             else f"{ref['results']} results, {', '.join(ref['rounds'])}")
                    ratio = f"  (x{ref['ratio']:.3g})" if ref["ratio"] is not None else ""
                    print(f"    {kind.replace('class_', 'class ')}: {ref['value']:.4g} ({where}){ratio}")
        if not (entry["same_board"] or entry["class_results"]):
            print(f"  no published {entry['published_benchmark']} results to compare with")
