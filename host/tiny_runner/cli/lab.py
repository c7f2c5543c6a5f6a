"""tiny-runner lab serve: a virtual DUT on a pty (or TCP port) in the foreground, for manual
sessions, for `measure --dut socket://...` from this or another machine, and for trying other
hosts against it."""

from __future__ import annotations

from ..benchmarks import get_benchmark
from ..boards import load_board
from ..errors import UsageError
from ..lab.bench_process import BenchConfig, serve
from ..lab.firmware import DEFAULT_PULSE_HOLD_US
from ..lab.latency import LatencyModel
from ..modelinfo import model_info
from ..models import resolve_model
from ..session import DEFAULT_LAB_SPEED


def add_parser(sub) -> None:
    p = sub.add_parser("lab", help="run virtual lab devices by hand",
                       description="The virtual lab: devices that speak the real protocols on real ports.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser("serve", help="serve a virtual DUT until interrupted")
    s.add_argument("--board", required=True)
    s.add_argument("--benchmark", "-b", required=True)
    s.add_argument("--firmware-mode", choices=("performance", "energy"),
                   help="the build on the virtual board (default: performance; energy with --energy-bench)")
    s.add_argument("--energy-bench", action="store_true",
                   help="serve the energy bench instead: the DUT (energy build) behind an emulated interface board, "
                        "powered by an emulated LPM01A; prints both ports")
    s.add_argument("--monitor", choices=("lpm01a", "ppk2"), default="lpm01a",
                   help="with --energy-bench: the emulated serial instrument (default %(default)s); the emulated "
                        "Joulescope is reached through its fake driver, so only `measure` on a virtual board uses it")
    s.add_argument("--truth", metavar="FILE", help="with --energy-bench: append the bench's ground truth here")
    s.add_argument("--tcp", type=int, metavar="PORT", help="listen on a TCP port instead of a pty (0: any free one)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp (default %(default)s)")
    s.add_argument("--speed", type=float, default=DEFAULT_LAB_SPEED)
    s.add_argument("--model", metavar="FILE")
    s.add_argument("--model-dir", metavar="DIR")
    s.set_defaults(handler=run_serve)


def run_serve(args) -> int:
    board = load_board(args.board)
    if not board.virtual:
        raise UsageError(f"{board.name} is a real board; `lab serve` needs a virtual one")
    if not args.speed > 0:
        raise UsageError("--speed must be > 0")
    benchmark = get_benchmark(args.benchmark)
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    if args.truth and not args.energy_bench:
        raise UsageError("--truth goes with --energy-bench")
    if args.energy_bench and args.tcp is not None:
        raise UsageError("the energy bench serves on ptys, not --tcp")
    if args.energy_bench and "power" not in board.simulation:
        raise UsageError(f"{board.name} has no [simulation.power] for an energy bench")
    mode = args.firmware_mode or ("energy" if args.energy_bench else "performance")
    config = BenchConfig(
        benchmark_id=benchmark.id,
        model_path=str(model.path),
        inference_us=LatencyModel.from_board(board).inference_us(model_info(model.path).macs),
        mode=mode,
        baud=board.baud(mode),
        speed=args.speed,
        vendor=board.vendor_string,
        boot_us=int(board.simulation.get("boot_us", 0)),
        pulse_hold_us=float(board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
        listen=f"tcp:{args.host}:{args.tcp}" if args.tcp is not None else "pty",
        boot_on_start=True,
        wiring="energy" if args.energy_bench else "direct",
        power_ma=board.simulation.get("power", {}),
        truth_path=args.truth,
        monitor=args.monitor,
        supply_mv=board.supply.get("default_mv", 1800),
    )
    what = "energy bench" if args.energy_bench else f"{mode} firmware"
    print(f"virtual {board.name} with {benchmark.id} ({what}); Ctrl-C stops it", flush=True)
    serve(config, control=False)
    return 0
