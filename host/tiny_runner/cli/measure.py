"""tiny-runner measure: performance, accuracy or energy of one benchmark on one board."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .. import rules
from ..bench_file import BENCHES_ENV, BenchFile, load_bench
from ..benchmarks import get_benchmark
from ..boards import load_board
from ..datasets import LABELS_FILE, load_dataset
from ..detect import find_dut_port, find_monitor, find_relay
from ..errors import ResultNotValid, RunDirError, UsageError
from ..models import resolve_model
from ..monitors import DEFAULT_MONITOR, get_plugin, parse_spec, plugins
from ..progress import Progress
from ..relay import DEFAULT_RELAY
from ..relay import get_plugin as get_relay
from ..relay import specs as relay_specs
from ..report.summary import summary
from ..rules import DEFAULT_TARGET_WINDOW_S, MIN_WINDOW_S
from ..session import DEFAULT_LAB_SPEED, DEFAULT_SUPPLY_MV, MeasureRequest, Session


def add_parser(sub) -> None:
    p = sub.add_parser("measure", help="run performance, accuracy or energy mode on a board",
                       description="Run one benchmark in one mode on a board and write a run directory.")
    p.add_argument("--board", help="board descriptor name (see `tiny-runner boards`); a bench file may name it")
    p.add_argument("--bench", metavar="FILE|NAME", help="a bench file: the board, the DUT's port, the pass-through "
                   f"board and the energy monitor of one bench; NAME is looked up in ${BENCHES_ENV}, then ./benches")
    p.add_argument("--benchmark", "-b", help="kws, vww, ic, ic2, ad (or kws01, ...); default: what the DUT reports")
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
    energy.add_argument("--monitor-rate", type=float, metavar="HZ",
                        help="monitor sample rate (default: " + "; ".join(
                            f"{m.name} {m.default_rate_hz:,.0f} of {min(m.rates_hz):,.0f}..{max(m.rates_hz):,.0f}"
                            for m in monitors) + " Hz)")
    p.add_argument("--dataset", metavar="DIR", help="dataset folder (y_labels.csv + .bin files)")
    p.add_argument("--labels", default=LABELS_FILE, help="label list inside the dataset folder (default %(default)s)")
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
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
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
                          "busy_on_connect=SECONDS, stray_rx=TEXT")
    lab.add_argument("--lab-monitor-quirk", action="append", default=[], metavar="KEY=VALUE",
                     help="make the emulated monitor behave like a real unit. " + ". ".join(
                         f"{m.name}: {', '.join(switch.name for switch in m.switches)}" for m in monitors))
    lab.add_argument("--lab-firmware-mode", choices=("performance", "energy"),
                     help="build flashed on the virtual board (default: the one the run needs)")
    p.set_defaults(handler=run)


def parse_faults(items: list[str]) -> dict:
    faults: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--lab-fault {item!r}: expected KEY=VALUE")
        if key.startswith("error_reply."):
            faults.setdefault("error_reply", {})[key.split(".", 1)[1]] = value
        elif key in ("drop_rx_every", "silent_after", "skip_pulse"):
            try:
                faults[key] = int(value)
            except ValueError:
                raise UsageError(f"--lab-fault {key} needs an integer, got {value!r}") from None
        elif key in ("no_banner", "abort_on_infer", "extra_pulse"):
            faults[key] = value.lower() in ("1", "true", "yes")
        elif key == "busy_on_connect":
            try:
                faults[key] = float(value)
            except ValueError:
                raise UsageError(f"--lab-fault {key} needs seconds, got {value!r}") from None
        elif key == "stray_rx":
            faults[key] = value
        else:
            raise UsageError(f"--lab-fault: unknown fault {key!r}")
    return faults


def parse_monitor_quirks(items: list[str], monitor: str) -> dict:
    """--lab-monitor-quirk KEY=VALUE items as the emulated monitor's plug-in declares its switches."""
    plugin = get_plugin(monitor)
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--lab-monitor-quirk {item!r}: expected KEY=VALUE; the emulated {monitor} has "
                             f"{', '.join(s.name for s in plugin.switches)}")
        pairs[key] = value
    try:
        return plugin.parse_switches(pairs)
    except ValueError as exc:
        raise UsageError(f"--lab-monitor-quirk: {exc}") from None


def check_energy_options(args, board) -> None:
    """What can be checked of the energy options before any port is opened."""
    energy_only = {"--monitor": args.monitor, "--relay": args.relay, "--voltage": args.voltage,
                   "--monitor-rate": args.monitor_rate, "--lab-monitor-quirk": args.lab_monitor_quirk or None}
    if args.mode != "energy":
        given = [option for option, value in energy_only.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to energy mode only")
        return
    if args.dut:
        raise UsageError("energy mode reaches the DUT through --relay, not --dut")
    kind, target = parse_spec(args.monitor or DEFAULT_MONITOR)
    relay_kind, _, relay_port = (args.relay or "").partition(":")
    if args.relay:
        get_relay(relay_kind, args.relay)  # a registered pass-through board, else UsageError naming them
    if not board.virtual:
        return
    # A virtual board is measured on the virtual lab's own emulated instruments, or, given the
    # pass-through board's port, through an outside bench (a served lab, a remote one) like a real board.
    if relay_port and kind.port_required and not target:
        raise UsageError(f"--relay {args.relay} measures through an outside bench: name its monitor's port too "
                         f"(--monitor {kind.spec})")
    if target and not relay_port:
        raise UsageError(f"the virtual lab wires its own emulated monitor: name it alone ({' | '.join(plugins())}), "
                         "or give the pass-through board's port too (--relay ifboard:PORT) to measure through an "
                         "outside bench")


def check_energy_bench(args, board, monitor: str, relay: str | None) -> None:
    """The checks that depend on which monitor and pass-through board the run uses."""
    kind, _ = parse_spec(monitor)
    dut_baud = args.baud or board.baud("energy")
    relay_kind = get_relay((relay or DEFAULT_RELAY).split(":", 1)[0])
    if relay_kind.dut_bauds and dut_baud not in relay_kind.dut_bauds:
        raise UsageError(f"the {relay_kind.description} talks to the DUT at "
                         f"{' or '.join(map(str, relay_kind.dut_bauds))} baud, not {dut_baud}")
    rate = kind.default_rate_hz if args.monitor_rate is None else args.monitor_rate
    if rate not in kind.rates_hz:
        raise UsageError(f"--monitor-rate: the {kind.name} samples at "
                         f"{', '.join(f'{r:,.0f}' for r in kind.rates_hz)} Hz")
    if kind.voltage_range_mv is None:
        if args.voltage is not None:
            raise UsageError(f"the {kind.name} cannot set the DUT voltage: set the external supply yourself and "
                             "leave out --voltage (the measured voltage is recorded)")
        return
    low, high = kind.voltage_range_mv
    low, high = max(low, board.supply.get("min_mv", low)), min(high, board.supply.get("max_mv", high))
    voltage = board.supply.get("default_mv", DEFAULT_SUPPLY_MV) if args.voltage is None else args.voltage
    if not low <= voltage <= high:
        source = "--voltage" if args.voltage is not None else f"{board.name}'s supply.default_mv"
        raise UsageError(f"{source} {voltage}: the {kind.name} and {board.name} allow {low}..{high} mV")


def check_counts(args) -> None:
    """Counts and durations: each option in its mode, each value within what a DUT and a run allow."""
    windowed_only = {"--iterations": args.iterations, "--warmup": args.warmup, "--target-window": args.target_window}
    for option, value in windowed_only.items():
        if value is not None and args.mode == "accuracy":
            raise UsageError(f"{option} applies to performance and energy mode only")
    if args.limit is not None and args.mode != "accuracy":
        raise UsageError("--limit applies to accuracy mode only")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: K must be at least 1")
    if args.iterations is not None and not 1 <= args.iterations <= rules.MAX_INFER_COUNT:
        raise UsageError(f"--iterations {args.iterations}: N must be 1..{rules.MAX_INFER_COUNT} (the DUT counts "
                         "inferences in a signed 32-bit integer)")
    if args.warmup is not None and not 0 <= args.warmup <= rules.MAX_WARMUP:
        raise UsageError(f"--warmup {args.warmup}: must be 0..{rules.MAX_WARMUP}")
    window = args.target_window
    if window is not None and not (math.isfinite(window) and rules.MIN_WINDOW_S <= window <= rules.MAX_WINDOW_S):
        raise UsageError(f"--target-window {window:g}: must be at least {rules.MIN_WINDOW_S:g} s (the run rules' "
                         f"minimum) and at most {rules.MAX_WINDOW_S:g} s (the DUT's 32-bit microsecond timer)")


def apply_bench(args) -> BenchFile | None:
    """--bench: the bench file's board and ports, taken as if they had been given as options."""
    if not args.bench:
        if not args.board:
            raise UsageError("--board BOARD is required (or --bench with a bench file that names its board)")
        return None
    bench = load_bench(args.bench)
    for option, value in (("--dut", args.dut), ("--relay", args.relay), ("--monitor", args.monitor)):
        if value is not None:
            raise UsageError(f"{option} and --bench: bench {bench.name} names its own ports; pass one or the other")
    if args.board and bench.board and args.board != bench.board:
        raise UsageError(f"--board {args.board}, but bench {bench.name} ({bench.path}) holds {bench.board}")
    args.board = args.board or bench.board
    if not args.board:
        raise UsageError(f"bench {bench.name} ({bench.path}) names no board: pass --board")
    if args.mode == "energy":
        args.relay, args.monitor = bench.relay, bench.monitor
    else:
        args.dut = bench.dut
    return bench


def build_request(args) -> MeasureRequest:
    """Check everything that can be checked before a run directory exists or a port opens."""
    bench = apply_bench(args)
    board = load_board(args.board)
    benchmark = get_benchmark(args.benchmark) if args.benchmark else None
    check_energy_options(args, board)
    if benchmark is None and board.virtual and args.dut is None:
        raise UsageError("a virtual board needs --benchmark (kws, vww, ic, ic2 or ad)")
    if args.mode == "accuracy" and not args.dataset:
        raise UsageError("accuracy mode needs --dataset DIR; `tiny-runner dataset synth` writes a synthetic one")
    check_counts(args)
    if args.baud is not None and args.baud <= 0:
        raise UsageError("--baud must be a positive integer")
    lab_options = {"--lab-speed": args.lab_speed, "--lab-timer-start-us": args.lab_timer_start_us,
                   "--lab-fault": args.lab_fault or None, "--lab-firmware-mode": args.lab_firmware_mode,
                   "--lab-monitor-quirk": args.lab_monitor_quirk or None}
    given = [option for option, value in lab_options.items() if value is not None]
    outside_bench = args.dut is not None or ":" in (args.relay or "")
    if given and (outside_bench or not board.virtual):
        raise UsageError(f"{given[0]} configures the virtual lab; it has no effect with --dut, --relay PORT or a "
                         "real board")
    emulated_only = [option for option in given if option not in ("--lab-firmware-mode", "--lab-monitor-quirk")]
    if emulated_only and board.firmware_port:
        raise UsageError(f"{emulated_only[0]} configures the emulated reference firmware; {board.name} runs the C "
                         "firmware, timed by its own clock")
    if args.mode == "energy" and board.firmware_port and not board.qemu:
        raise UsageError(f"{board.name} measures performance and accuracy; energy runs need an energy bench "
                         "(board qemu-m4, or a real board)")
    if args.lab_speed is not None and not (math.isfinite(args.lab_speed) and args.lab_speed > 0):
        raise UsageError(f"--lab-speed must be a finite number > 0, not {args.lab_speed:g}")
    if args.model and args.model_dir:
        raise UsageError("pass --model or --model-dir, not both")

    model = None
    on_the_lab = board.virtual and args.dut is None and ":" not in (args.relay or "")
    if benchmark and (args.model or on_the_lab or args.check_outputs):
        model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    dataset = None
    if args.dataset:
        if benchmark is None:
            raise UsageError("--dataset needs --benchmark so the files can be checked before the run")
        dataset = load_dataset(args.dataset, benchmark, args.labels)
    # last, as the one step that may open ports: what the user did not name, detection finds
    dut_url, found_by = dut_port(args, board)
    monitor, relay = args.monitor, args.relay
    if args.mode == "energy":
        monitor, relay, found_by = energy_bench(args, board)
        check_energy_bench(args, board, monitor or DEFAULT_MONITOR, relay)
    if bench:
        named = {"dut": args.dut, "relay": args.relay, "monitor": args.monitor}
        for part, value in named.items():
            if value is not None and part not in found_by:
                found_by[part] = f"{part} {value} named by bench {bench.name} ({bench.path})"
    return MeasureRequest(
        bench=bench.describe() if bench else None,
        board=board,
        mode=args.mode,
        benchmark=benchmark,
        dut_url=dut_url,
        found_by=found_by,
        baud=args.baud,
        dataset=dataset,
        limit=args.limit,
        model=model,
        model_dir=args.model_dir,
        check_outputs=args.check_outputs,
        warmup=1 if args.warmup is None else args.warmup,
        iterations=args.iterations,
        target_window_s=args.target_window or DEFAULT_TARGET_WINDOW_S,
        runs_root=Path(args.out),
        run_dir=Path(args.run_dir) if args.run_dir else None,
        lab_speed=args.lab_speed or DEFAULT_LAB_SPEED,
        lab_timer_start_us=args.lab_timer_start_us or 0,
        lab_faults=parse_faults(args.lab_fault),
        lab_firmware_mode=args.lab_firmware_mode,
        lab_monitor_quirks=parse_monitor_quirks(args.lab_monitor_quirk, (args.monitor or DEFAULT_MONITOR).split(":")[0])
        if args.mode == "energy" else {},
        monitor=monitor,
        relay=relay,
        voltage_mv=args.voltage,
        monitor_rate_hz=args.monitor_rate,
    )


def dut_port(args, board) -> tuple[str | None, dict[str, str]]:
    """(--dut, {}), or for a real board without it (outside energy mode, where the relay
    reaches the DUT) the port found by its USB ID and how it was found."""
    if args.dut is not None or board.virtual or args.mode == "energy":
        return args.dut, {}
    url, how = find_dut_port(board, args.baud or board.baud(args.mode))
    return url, {"dut": how}


def energy_bench(args, board) -> tuple[str | None, str | None, dict[str, str]]:
    """(--monitor, --relay, how each was found): on a real board, a monitor named without its
    port (or not named) and a pass-through board not named are found among the attached ones."""
    monitor, relay, found_by = args.monitor, args.relay, {}
    if board.virtual:
        return monitor, relay, found_by
    kind, target = parse_spec(monitor) if monitor else (None, None)
    if kind is None or (kind.port_required and not target):
        monitor, found_by["monitor"] = find_monitor(kind.name if kind else None)
    if relay is None or ":" not in relay:  # like the monitor: a kind without its port is found by USB ID
        relay, found_by["relay"] = find_relay(relay)
    return monitor, relay, found_by


def run(args) -> int:
    request = build_request(args)
    session = Session(request, Progress(enabled=not args.quiet))
    if not args.quiet:
        print(f"run directory: {session.run_dir.path}", file=sys.stderr)
    try:
        results = session.run()
    except RunDirError:
        if session.measured:  # the numbers exist: show them, though the run directory could not keep them
            _print_results(session.results, args)
        raise
    _print_results(results, args)
    if not results["valid"]:
        return ResultNotValid.exit_code
    return 0


def _print_results(results: dict, args) -> None:
    print(json.dumps(results) if args.json else summary(results))
