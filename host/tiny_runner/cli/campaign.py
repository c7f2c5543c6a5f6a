"""tiny-runner campaign FILE: measure a campaign's cells, in parallel across its benches, resumably."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..campaign.plan import load_campaign
from ..campaign.runner import CampaignRunner
from ..db.store import DEFAULT_DB_NAME
from ..errors import CampaignIncomplete, ResultNotValid


def add_parser(sub) -> None:
    p = sub.add_parser("campaign", help="measure a matrix of benches x benchmarks x modes x voltages, resumably",
                       description="Measure every cell of a campaign file; run it again to resume (see "
                                   "docs/campaigns.md).")
    p.add_argument("file", metavar="FILE", help="the campaign file (TOML)")
    p.add_argument("--out", default="runs", metavar="DIR", help="folder for run directories (default ./runs)")
    p.add_argument("--db", metavar="FILE", help=f"results database (default OUT/{DEFAULT_DB_NAME})")
    p.add_argument("--dry-run", action="store_true", help="list the cells and what a run would do with each")
    p.add_argument("--json", action="store_true", help="print the cells' outcomes as JSON on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run)


def run(args) -> int:
    campaign = load_campaign(args.file)
    out = Path(args.out)
    db = Path(args.db) if args.db else out / DEFAULT_DB_NAME
    if args.dry_run:
        previous = None
        for cell in campaign.cells:
            if cell.image and cell.image != previous:
                print(f"{'':12}  {cell.bench.name}: flash {cell.bench.flash_board} with image {cell.image.name} "
                      f"({cell.image.path}, sha256 {cell.image.sha256[:12]})")
            previous = cell.image
            print(f"{cell.key[:12]}  {cell.label}")
        print(f"{len(campaign.cells)} cells on {len(campaign.benches)} benches")
        return 0
    report = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    runner = CampaignRunner(campaign, db, out, report)
    tally = runner.run()
    outcomes = [{"key": o["cell"].key, "cell": o["cell"].label, "state": o["state"], "valid": o.get("valid"),
                 "run_dir": o.get("run_dir"), "reason": o.get("reason")} for o in runner.outcomes.values()]
    if args.json:
        print(json.dumps({"campaign": campaign.name, "cells": outcomes, "wall_s": runner.wall_s,
                          "cell_seconds": sum(tally.seconds),
                          "done": tally.done, "skipped": tally.skipped, "failed": tally.failed,
                          "not_valid": tally.not_valid}))
    else:
        for outcome in sorted(outcomes, key=lambda o: o["cell"]):
            state = {"skipped": "completed before"}.get(outcome["state"], outcome["state"])
            if outcome["valid"] is False:
                state += ", NOT VALID"
            print(f"{outcome['cell']:<48} {state}{': ' + outcome['reason'] if outcome['reason'] else ''}")
        print(f"campaign {campaign.name}: {tally.done} of {tally.total} cells done ({tally.skipped} before), "
              f"{tally.failed} failed, {tally.not_valid} not valid; {runner.wall_s:.1f} s; database {db}")
    if tally.failed:
        cells = f"{tally.failed} cell{'s' if tally.failed != 1 else ''}"
        raise CampaignIncomplete(f"campaign {campaign.name}: {cells} failed every attempt (the reasons are in {db}); "
                                 "run it again to retry")
    return ResultNotValid.exit_code if tally.not_valid else 0
