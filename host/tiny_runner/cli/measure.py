"""tiny-runner measure: performance, accuracy or energy of one benchmark on one board."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..bench.file import BENCHES_ENV
from ..bench.monitors import DEFAULT_MONITOR, plugins
from ..bench.relays import DEFAULT_RELAY
from ..bench.relays import specs as relay_specs
from ..benchmarks.datasets import LABELS_FILE
from ..benchmarks.sww01.scoring import RULES
from ..benchmarks.sww01.streams import DEFAULT_TRUTH_FILE
from ..db.store import DEFAULT_DB_NAME, ResultsDb, check_database
from ..errors import DatabaseError, ResultNotValid, RunDirError, TinyRunnerError
from ..lab.start import DEFAULT_LAB_SPEED
from ..report.summary import summary
from ..run.preflight import MeasureOptions, build_request
from ..run.progress import Progress
from ..run.rules import DEFAULT_TARGET_WINDOW_S, MIN_WINDOW_S
from ..run.session import DEFAULT_SUPPLY_MV, Session


def add_parser(sub) -> None:
    p = sub.add_parser("measure", help="run performance, accuracy or energy mode on a board",
                       description="Run one benchmark in one mode on a board and write a run directory.")
    p.add_argument("--board", help="board descriptor name (see `tiny-runner boards`); a bench file may name it")
    p.add_argument("--bench", metavar="FILE|NAME", help="a bench file: the board, the DUT's port, the pass-through "
                   f"board and the energy monitor of one bench; NAME is looked up in ${BENCHES_ENV}, then ./benches")
    p.add_argument("--place", metavar="NAME", help="a labgrid place (coordinator at $LG_COORDINATOR): acquired for "
                   "the run, its resources named dut, interface and monitor give the ports, its tags the board and "
                   "instruments; released at the end (docs/places.md)")
    p.add_argument("--wait", type=float, metavar="SECONDS", help="with --place: wait up to SECONDS for a place "
                   "someone else holds (default: stop at once, naming who holds it)")
    p.add_argument("--benchmark", "-b", help="kws, vww, ic, ic2, ad, sww (or kws01, ...); default: what the DUT "
                   "reports")
    p.add_argument("--mode", choices=("performance", "accuracy", "energy"), default="performance")
    p.add_argument("--dut", metavar="URL", help="DUT port: /dev/ttyACM0, COM3, socket://host:port, rfc2217://...; "
                   "omit on a virtual board to start its virtual DUT, on a real one to find its port by USB ID "
                   "(see `tiny-runner detect`)")
    p.add_argument("--baud", type=int, help="UART baud rate (default: the board descriptor's for this mode)")
    energy = p.add_argument_group("energy mode")
    monitors = plugins().values()
    energy.add_argument("--monitor", metavar="SPEC", help=f"energy monitor: {', '.join(m.spec for m in monitors)}; "
                        "on a virtual board the name alone picks the emulated one "
                        f"(default {DEFAULT_MONITOR})")
    energy.add_argument("--relay", metavar="SPEC", help=f"pass-through board to the DUT: {relay_specs('[:PORT_URL]')}; "
                        "without the port it is found by USB ID; on a virtual board the name alone picks the emulated "
                        f"one (default {DEFAULT_RELAY})")
    energy.add_argument("--voltage", type=int, metavar="MV", help="DUT supply in millivolts (default: the board's "
                        f"supply.default_mv, else {DEFAULT_SUPPLY_MV})")
    energy.add_argument("--dry-run", action="store_true",
                        help="a dry run of the energy wiring on a real board: its DUT on its own port (--dut, the "
                             "bench file's or found by USB ID) behind the virtual lab's emulated pass-through board "
                             "and monitor; checks the energy build and the procedure, never valid")
    energy.add_argument("--monitor-rate", type=float, metavar="HZ",
                        help="monitor sample rate (default: " + "; ".join(
                            f"{m.name} {m.default_rate_hz:,.0f} of {min(m.rates_hz):,.0f}..{max(m.rates_hz):,.0f}"
                            for m in monitors) + " Hz)")
    p.add_argument("--dataset", metavar="DIR", help="dataset folder (y_labels.csv + .bin files); sww: the folder with "
                   "the truth file and, on the virtual lab, its WAV files (the interface board's SD card)")
    p.add_argument("--labels", default=LABELS_FILE, help="label list inside the dataset folder (default %(default)s; "
                   f"sww: the truth file, default {DEFAULT_TRUTH_FILE})")
    p.add_argument("--detection-window", choices=tuple(RULES), help="sww: when a detection counts for an occurrence "
                   "[start, stop]: code = until stop + 2 s, as the official runner's code and the published results "
                   "(default), readme = until stop + 1 s, as its README says")
    p.add_argument("--limit", type=int, metavar="K", help="accuracy mode: only the first K files (result not valid)")
    p.add_argument("--model", metavar="FILE", help="a .tflite model of your own instead of the reference one")
    p.add_argument("--model-dir", metavar="DIR", help="reference models folder (default: $TINY_RUNNER_MODEL_DIR)")
    p.add_argument("--check-outputs", action="store_true",
                   help="compare every DUT result vector with the host's own TFLM run of the model")
    p.add_argument("--warmup", type=int, help="performance and energy mode: warm-up inferences before each window "
                   "(default 1)")
    p.add_argument("--iterations", type=int, metavar="N", help="inferences per window (default: calibrated)")
    p.add_argument("--target-window", type=float, metavar="S",
                   help=f"performance and energy mode: calibrate windows to last about S seconds "
                        f"(default {DEFAULT_TARGET_WINDOW_S:g}, minimum {MIN_WINDOW_S:g})")
    p.add_argument("--out", default="runs", metavar="DIR", help="folder for run directories (default ./runs)")
    p.add_argument("--run-dir", metavar="DIR", help="exact run directory to create")
    p.add_argument("--db", metavar="FILE", help=f"results database the run is recorded in (default: "
                   f"{DEFAULT_DB_NAME} in the folder the run directory is made in; see `tiny-runner results`)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    p.add_argument("--campaign-cell", metavar="JSON", help=argparse.SUPPRESS)  # set by `tiny-runner campaign`
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    lab = p.add_argument_group("virtual lab")
    lab.add_argument("--lab-speed", type=float, metavar="F",
                     help=f"virtual time runs F times faster than real time (default {DEFAULT_LAB_SPEED:g}; "
                          "1 = real time)")
    lab.add_argument("--lab-timer-start-us", type=int, metavar="US",
                     help="start value of the virtual DUT's 32-bit microsecond timer")
    lab.add_argument("--lab-fault", action="append", default=[], metavar="KEY=VALUE",
                     help="make the virtual DUT misbehave: error_reply.CMD=TEXT, drop_rx_every=N, "
                          "silent_after=N, no_banner=1, abort_on_infer=1, extra_pulse=1, skip_pulse=N, "
                          "busy_on_connect=SECONDS, stray_rx=TEXT; sww: ignore_start=1, ignore_stop=1, and the "
                          "interface board's play_hangs=1, no_reboot=1, detect_wire_open=1, duty_unequal=1")
    lab.add_argument("--lab-monitor-quirk", action="append", default=[], metavar="KEY=VALUE",
                     help="make the emulated monitor behave like a real unit. " + ". ".join(
                         f"{m.name}: {', '.join(switch.name for switch in m.switches)}" for m in monitors))
    lab.add_argument("--lab-firmware-mode", choices=("performance", "energy"),
                     help="build flashed on the virtual board (default: the one the run needs)")
    p.set_defaults(handler=run)


def run(args) -> int:
    request = build_request(MeasureOptions.from_args(args))
    runs_folder = Path(args.run_dir).parent if args.run_dir else Path(args.out)  # where the run directory goes
    db_path = Path(args.db) if args.db else runs_folder / DEFAULT_DB_NAME
    check_database(db_path)  # one that exists is checked before the run; a new one is made at its end
    session = Session(request, Progress(enabled=not args.quiet))
    if not args.quiet:
        print(f"run directory: {session.run_dir.path}", file=sys.stderr)
    try:
        results = session.run()
    except RunDirError:
        if session.measured:  # the numbers exist: show them, though the run directory could not keep them
            _print_results(session.results, args)
        _record_stopped(db_path, session)
        raise
    except TinyRunnerError:
        _record_stopped(db_path, session)
        raise
    _print_results(results, args)
    with ResultsDb(db_path) as db:  # a database that fails now stops with its own error; the run directory has it all
        db.record(results)
    if not results["valid"]:
        return ResultNotValid.exit_code
    return 0


def _record_stopped(db_path: Path, session: Session) -> None:
    """A run that stopped is recorded as it stopped; the run's own error is what the person sees."""
    try:
        with ResultsDb(db_path) as db:
            db.record(session.results)
    except DatabaseError as exc:
        print(f"tiny-runner: warning: {exc.message}", file=sys.stderr)


def _print_results(results: dict, args) -> None:
    print(json.dumps(results) if args.json else summary(results))
