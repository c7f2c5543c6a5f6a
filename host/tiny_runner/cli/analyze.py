"""tiny-runner analyze DIR: re-analyse an EEMBC EnergyRunner energy session, or report a
tiny-runner run directory again from its record (results.json, any version's)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..analysis.eembc import analyze_session
from ..report.summary import summary
from ..run.record import read_record

EEMBC_TRACE = "trace1-energy.bin"


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="re-analyse an EEMBC EnergyRunner energy session or a tiny-runner run",
                       description="Reads trace1-energy.bin, trace1-timestamps.json and log.txt of an EEMBC "
                                   "energy session and prints each window's energy and the median; of a tiny-runner "
                                   "run directory, reads results.json and prints the run's summary.")
    p.add_argument("session", metavar="SESSION_DIR|RUN_DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args) -> int:
    folder = Path(args.session)
    if (folder / "results.json").exists() and not (folder / EEMBC_TRACE).exists():
        return _run_dir(folder, args)
    result = analyze_session(folder)
    if args.json:
        out = dict(result, windows=[dict(asdict(w), energy_uj_per_inf=w.energy_uj_per_inf, power_mw=w.power_mw,
                                         difference_pct=w.difference_pct) for w in result["windows"]])
        print(json.dumps(out))
        return 0
    print(f"{result['session']}: {result['samples']} samples at {result['rate_hz']:g} Hz")
    print(f"{'window':>6} {'start s':>8} {'seconds':>8} {'energy uJ':>12} {'inf':>5} {'uJ/inf':>10} "
          f"{'power mW':>9} {'reported uJ':>12} {'diff %':>8}")
    for w in result["windows"]:
        per_inf = f"{w.energy_uj_per_inf:>10.3f}" if w.energy_uj_per_inf is not None else f"{'?':>10}"
        reported = f"{w.reported_energy_uj:>12.3f}" if w.reported_energy_uj else f"{'':>12}"
        diff = f"{w.difference_pct:>8.4f}" if w.difference_pct is not None else ""
        print(f"{w.number:>6} {w.start_s:>8.3f} {w.seconds:>8.3f} {w.energy_uj:>12.3f} {w.inferences or '?':>5} "
              f"{per_inf} {w.power_mw:>9.3f} {reported} {diff}")
    if result["median_energy_uj_per_inf"] is not None:
        line = f"median energy {result['median_energy_uj_per_inf']:.3f} uJ/inf"
        if result["reported_median_energy_uj_per_inf"] is not None:
            line += f" (EnergyRunner reported {result['reported_median_energy_uj_per_inf']:.3f})"
        print(line)
    return 0


def _run_dir(folder: Path, args) -> int:
    """A tiny-runner run directory: its record read back, shown as `measure` showed it."""
    record = read_record(folder / "results.json")
    print(json.dumps(record.to_json()) if args.json else summary(record))
    return 0
