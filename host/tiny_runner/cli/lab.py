"""tiny-runner lab serve: a virtual DUT on a pty (or TCP port) in the foreground, for manual
sessions, for `measure --dut socket://...` from this or another machine, and for trying other
hosts against it (the official MLCommons runner among them).

The emulated reference firmware runs in real time unless --speed says otherwise: a host that
times windows by its own clock would see a faster one's windows as too short. A board with a
C firmware port (native-posix, qemu-m4) serves that firmware instead, built as `measure` builds it.
"""

from __future__ import annotations

import sys
import time

from ..bench.monitors import DEFAULT_MONITOR
from ..bench.monitors import get_plugin as get_monitor
from ..bench.relays import DEFAULT_RELAY
from ..bench.relays import get_plugin as get_relay
from ..benchmarks import get_benchmark
from ..boards import load_board
from ..errors import UsageError
from ..image.build import build_image
from ..lab.bench_process import BenchConfig, serve
from ..lab.firmware import DEFAULT_PULSE_HOLD_US
from ..lab.firmware_dut import FirmwareDut
from ..lab.latency import LatencyModel
from ..model.info import model_info
from ..model.reference import resolve_model

SERVE_SPEED = 1.0  # real time: outside hosts judge windows by their own clock
_WATCH_S = 0.5  # how often a served firmware process is checked


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
    s.add_argument("--monitor", default=DEFAULT_MONITOR,
                   help="with --energy-bench: the emulated instrument (default %(default)s; `tiny-runner "
                        "monitors` lists them), on a pty or, for the Otii, a TCP port; one reached through its own "
                        "driver (the Joulescope) has no port to serve, so only `measure` on a virtual board uses it")
    s.add_argument("--relay", default=DEFAULT_RELAY, metavar="KIND",
                   help="with --energy-bench: the emulated pass-through board (default %(default)s)")
    s.add_argument("--truth", metavar="FILE", help="with --energy-bench: append the bench's ground truth here")
    s.add_argument("--tcp", type=int, metavar="PORT", help="listen on a TCP port instead of a pty (0: any free one)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp (default %(default)s)")
    s.add_argument("--speed", "--lab-speed", dest="speed", type=float, metavar="F",
                   help="emulated firmware: virtual time runs F times faster than real time (default: real time, "
                        "as a host that times windows by its own clock needs)")
    s.add_argument("--model", metavar="FILE")
    s.add_argument("--model-dir", metavar="DIR")
    s.set_defaults(handler=run_serve)


def run_serve(args) -> int:
    board = load_board(args.board)
    if not board.virtual:
        raise UsageError(f"{board.name} is a real board; `lab serve` needs a virtual one")
    if args.speed is not None and not args.speed > 0:
        raise UsageError("--speed must be > 0")
    benchmark = get_benchmark(args.benchmark)
    if args.truth and not args.energy_bench:
        raise UsageError("--truth goes with --energy-bench")
    if args.energy_bench and args.tcp is not None:
        raise UsageError("the energy bench serves on ptys, not --tcp")
    check_served_instruments(args)
    if board.firmware_port:
        return _serve_c_firmware(args, board, benchmark)
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    if args.energy_bench and "power" not in board.simulation:
        raise UsageError(f"{board.name} has no [simulation.power] for an energy bench")
    mode = args.firmware_mode or ("energy" if args.energy_bench else "performance")
    speed = SERVE_SPEED if args.speed is None else args.speed
    config = BenchConfig(
        benchmark_id=benchmark.id,
        model_path=str(model.path),
        inference_us=LatencyModel.from_board(board).inference_us(model_info(model.path).macs),
        mode=mode,
        baud=board.baud(mode),
        speed=speed,
        realtime=speed == 1,  # outside hosts time the DUT's lines by their own clock: it must not fall behind
        vendor=board.vendor_string,
        boot_us=int(board.simulation.get("boot_us", 0)),
        pulse_hold_us=float(board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
        listen=f"tcp:{args.host}:{args.tcp}" if args.tcp is not None else "pty",
        boot_on_start=True,
        wiring="energy" if args.energy_bench else "direct",
        power_ma=board.simulation.get("power", {}),
        truth_path=args.truth,
        monitor=args.monitor,
        relay=args.relay,
        supply_mv=board.supply.get("default_mv", 1800),
    )
    what = "energy bench" if args.energy_bench else f"{mode} firmware"
    pace = _pace(speed)
    print(f"virtual {board.name} with {benchmark.id} ({what}, {pace}); Ctrl-C stops it", flush=True)
    if speed != 1:
        print(f"tiny-runner: note: the virtual clock runs at {pace}: a host that times windows by its own clock "
              "(the official MLCommons runner) measures other windows than the DUT's timer; leave out --speed for "
              "real time", file=sys.stderr, flush=True)
    serve(config, control=False)
    return 0


def check_served_instruments(args) -> None:
    """--monitor and --relay name plug-ins whose emulators the energy bench serves on ptys."""
    given = [option for option, value, default in (("--monitor", args.monitor, DEFAULT_MONITOR),
                                                   ("--relay", args.relay, DEFAULT_RELAY)) if value != default]
    if given and not args.energy_bench:
        raise UsageError(f"{given[0]} goes with --energy-bench")
    if not args.energy_bench:
        return
    monitor = get_monitor(args.monitor)
    if not monitor.can_be_served:
        raise UsageError(f"the emulated {monitor.name} is reached through its own driver, not a port: `lab serve` "
                         "cannot serve it; measure on the virtual board with --monitor " + monitor.name)
    get_relay(args.relay)


def _pace(speed: float) -> str:
    if speed == 1:
        return "real time"
    return f"x{speed:g} faster than real time" if speed > 1 else f"x{1 / speed:g} slower than real time"


def _serve_c_firmware(args, board, benchmark) -> int:
    """The board's C firmware image, built (or found built) as `measure` does, on a pty until
    Ctrl-C or SIGTERM. It runs at its own pace (the host CPU, or QEMU's instruction count)."""
    for option, given in (("--energy-bench", args.energy_bench), ("--tcp", args.tcp is not None),
                          ("--speed", args.speed is not None)):
        if given:
            raise UsageError(f"{option} is for the emulated reference firmware; {board.name} serves its C firmware "
                             "on a pty, at its own speed")
    mode = args.firmware_mode or "performance"
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    print(f"building the {board.firmware_port} firmware for {benchmark.id} ({mode})", file=sys.stderr, flush=True)
    image = build_image(board.firmware_port, model.path, benchmark.id, mode, board.vendor_string)
    dut = FirmwareDut.qemu(board.qemu, image.path, None) if board.qemu else FirmwareDut.posix(image.path, None)
    try:
        print(f"virtual {board.name} with {benchmark.id} ({mode} firmware, C image {image.path}); Ctrl-C stops it",
              flush=True)
        print(f"ready {dut.url}", flush=True)
        while dut.alive():
            dut.take_output()
            time.sleep(_WATCH_S)
        raise dut.failure()
    finally:
        dut.stop()
