"""The rules a measurement request must meet before a run directory exists or a port opens, in
one place: the options of one run (from the command line, or built by the demo or a campaign)
are checked, their bench is completed by a bench file and by detection, and they become a
MeasureRequest."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..bench.bench import Part, PortsBench
from ..bench.detect import find_dut_port, find_monitor, find_relay
from ..bench.file import BenchFile, load_bench
from ..bench.monitors import DEFAULT_MONITOR, get_plugin, parse_spec, plugins
from ..bench.place import PlaceBench, PlacePlan, plan_place
from ..bench.relays import DEFAULT_RELAY
from ..bench.relays import get_plugin as get_relay
from ..benchmarks import get_benchmark
from ..benchmarks.datasets import LABELS_FILE, load_dataset
from ..benchmarks.sww01.streams import DEFAULT_TRUTH_FILE, StreamSelection, select_stream
from ..boards import load_board
from ..errors import UsageError
from ..lab.start import DEFAULT_LAB_SPEED, LabSettings, VirtualLab, WiringDryRun
from ..lab.sww_firmware import STREAM_FAULTS
from ..model.reference import resolve_model
from . import rules
from .rules import DEFAULT_TARGET_WINDOW_S
from .session import DEFAULT_SUPPLY_MV, MeasureRequest


@dataclass
class MeasureOptions:
    """What one run asks for, as `tiny-runner measure`'s options name it; None: not given."""

    board: str | None = None
    bench: str | None = None
    place: str | None = None  # a labgrid place (bench/place.py)
    wait: float | None = None  # seconds to wait for a place someone else holds
    benchmark: str | None = None
    mode: str = "performance"
    dut: str | None = None
    baud: int | None = None
    monitor: str | None = None
    relay: str | None = None
    voltage: int | None = None
    monitor_rate: float | None = None
    dataset: str | None = None
    labels: str = LABELS_FILE
    limit: int | None = None
    model: str | None = None
    model_dir: str | None = None
    check_outputs: bool = False
    warmup: int | None = None
    iterations: int | None = None
    target_window: float | None = None
    out: str = "runs"
    run_dir: str | None = None
    lab_speed: float | None = None
    lab_timer_start_us: int | None = None
    lab_fault: list[str] = field(default_factory=list)
    lab_monitor_quirk: list[str] = field(default_factory=list)
    lab_firmware_mode: str | None = None
    dry_run: bool = False  # energy mode: the real DUT behind the virtual lab's emulated instruments
    detection_window: str | None = None  # a streamed benchmark's scoring rule: "code" (default) or "readme"
    campaign_cell: str | None = None  # JSON: the campaign cell a campaign runs this measurement for

    @classmethod
    def from_args(cls, args) -> "MeasureOptions":
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


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
        elif key in STREAM_FAULTS:  # the streaming DUT's and the interface board's switches (sww01)
            faults[key] = value.lower() in ("1", "true", "yes")
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


def check_energy_options(opts: MeasureOptions, board, streamed: bool = False) -> None:
    """What can be checked of the energy options before any port is opened. A streamed
    benchmark reaches its DUT through the interface board in every mode."""
    energy_only = {"--monitor": opts.monitor, "--relay": None if streamed else opts.relay, "--voltage": opts.voltage,
                   "--monitor-rate": opts.monitor_rate, "--lab-monitor-quirk": opts.lab_monitor_quirk or None}
    if streamed and opts.mode != "energy":
        if opts.dut:
            raise UsageError("a streamed benchmark reaches the DUT through the interface board (--relay), not --dut")
        if opts.relay:
            get_relay(opts.relay.partition(":")[0], opts.relay)
    if opts.mode != "energy":
        given = [option for option, value in energy_only.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to energy mode only")
        return
    if opts.dry_run and board.virtual:
        raise UsageError(f"--dry-run puts a real DUT behind emulated instruments; the virtual lab already emulates "
                         f"{board.name}'s whole bench")
    if opts.dut and not opts.dry_run:
        raise UsageError("energy mode reaches the DUT through --relay, not --dut (or --dry-run with the DUT's own "
                         "port)")
    kind, target = parse_spec(opts.monitor or DEFAULT_MONITOR)
    relay_kind, _, relay_port = (opts.relay or "").partition(":")
    if opts.dry_run and (target or relay_port):
        raise UsageError("--dry-run uses the virtual lab's emulated monitor and pass-through board: name them "
                         f"without a port (--monitor {kind.name}, --relay {relay_kind or DEFAULT_RELAY})")
    if opts.relay:
        get_relay(relay_kind, opts.relay)  # a registered pass-through board, else UsageError naming them
    if opts.dry_run or not board.virtual:
        return
    # A virtual board is measured on the virtual lab's own emulated instruments, or, given the
    # pass-through board's port, through an outside bench (a served lab, a remote one) like a real board.
    if relay_port and kind.port_required and not target:
        raise UsageError(f"--relay {opts.relay} measures through an outside bench: name its monitor's port too "
                         f"(--monitor {kind.spec})")
    if target and not relay_port:
        raise UsageError(f"the virtual lab wires its own emulated monitor: name it alone ({' | '.join(plugins())}), "
                         "or give the pass-through board's port too (--relay ifboard:PORT) to measure through an "
                         "outside bench")


def check_relay_baud(opts: MeasureOptions, board, relay: str | None) -> None:
    dut_baud = opts.baud or board.baud("energy")
    relay_kind = get_relay((relay or DEFAULT_RELAY).split(":", 1)[0])
    if relay_kind.dut_bauds and dut_baud not in relay_kind.dut_bauds:
        raise UsageError(f"the {relay_kind.description} talks to the DUT at "
                         f"{' or '.join(map(str, relay_kind.dut_bauds))} baud, not {dut_baud}")


def check_energy_bench(opts: MeasureOptions, board, monitor: str, relay: str | None) -> None:
    """The checks that depend on which monitor and pass-through board the run uses."""
    kind, _ = parse_spec(monitor)
    check_relay_baud(opts, board, relay)
    rate = kind.default_rate_hz if opts.monitor_rate is None else opts.monitor_rate
    if rate not in kind.rates_hz:
        raise UsageError(f"--monitor-rate: the {kind.name} samples at "
                         f"{', '.join(f'{r:,.0f}' for r in kind.rates_hz)} Hz")
    if kind.voltage_range_mv is None:
        if opts.voltage is not None:
            raise UsageError(f"the {kind.name} cannot set the DUT voltage: set the external supply yourself and "
                             "leave out --voltage (the measured voltage is recorded)")
        return
    low, high = kind.voltage_range_mv
    low, high = max(low, board.supply.get("min_mv", low)), min(high, board.supply.get("max_mv", high))
    voltage = board.supply.get("default_mv", DEFAULT_SUPPLY_MV) if opts.voltage is None else opts.voltage
    if not low <= voltage <= high:
        source = "--voltage" if opts.voltage is not None else f"{board.name}'s supply.default_mv"
        raise UsageError(f"{source} {voltage}: the {kind.name} and {board.name} allow {low}..{high} mV")


def check_counts(opts: MeasureOptions) -> None:
    """Counts and durations: each option in its mode, each value within what a DUT and a run allow."""
    windowed_only = {"--iterations": opts.iterations, "--warmup": opts.warmup, "--target-window": opts.target_window}
    for option, value in windowed_only.items():
        if value is not None and opts.mode == "accuracy":
            raise UsageError(f"{option} applies to performance and energy mode only")
    if opts.limit is not None and opts.mode != "accuracy":
        raise UsageError("--limit applies to accuracy mode only")
    if opts.limit is not None and opts.limit < 1:
        raise UsageError(f"--limit {opts.limit}: K must be at least 1")
    if opts.iterations is not None and not 1 <= opts.iterations <= rules.MAX_INFER_COUNT:
        raise UsageError(f"--iterations {opts.iterations}: N must be 1..{rules.MAX_INFER_COUNT} (the DUT counts "
                         "inferences in a signed 32-bit integer)")
    if opts.warmup is not None and not 0 <= opts.warmup <= rules.MAX_WARMUP:
        raise UsageError(f"--warmup {opts.warmup}: must be 0..{rules.MAX_WARMUP}")
    window = opts.target_window
    if window is not None and not (math.isfinite(window) and rules.MIN_WINDOW_S <= window <= rules.MAX_WINDOW_S):
        raise UsageError(f"--target-window {window:g}: must be at least {rules.MIN_WINDOW_S:g} s (the run rules' "
                         f"minimum) and at most {rules.MAX_WINDOW_S:g} s (the DUT's 32-bit microsecond timer)")


def apply_bench(opts: MeasureOptions) -> BenchFile | None:
    """--bench: the bench file's board and ports, taken as if they had been given as options."""
    if not opts.bench:
        if not opts.board and not opts.place:
            raise UsageError("--board BOARD is required (or --bench with a bench file that names its board, or "
                             "--place)")
        return None
    bench = load_bench(opts.bench)
    if bench.place:
        if opts.place and opts.place != bench.place:
            raise UsageError(f"--place {opts.place}, but bench {bench.name} ({bench.path}) is on place {bench.place}")
        opts.place = bench.place
        opts.board = opts.board or bench.board
        return bench
    for option, value in (("--dut", opts.dut), ("--relay", opts.relay), ("--monitor", opts.monitor)):
        if value is not None and not (opts.dry_run and option != "--dut"):
            raise UsageError(f"{option} and --bench: bench {bench.name} names its own ports; pass one or the other")
    if opts.board and bench.board and opts.board != bench.board:
        raise UsageError(f"--board {opts.board}, but bench {bench.name} ({bench.path}) holds {bench.board}")
    opts.board = opts.board or bench.board
    if not opts.board:
        raise UsageError(f"bench {bench.name} ({bench.path}) names no board: pass --board")
    streamed = bool(opts.benchmark and get_benchmark(opts.benchmark).streaming)
    if opts.mode == "energy" and not opts.dry_run:
        opts.relay, opts.monitor = bench.relay, bench.monitor
    elif streamed:  # a bring-up bench: the interface board, no monitor
        opts.relay = bench.relay
    else:  # a dry run takes the bench's DUT port; its instruments are emulated
        opts.dut = bench.dut
    return bench


def check_place_options(opts: MeasureOptions, bench: BenchFile | None, streamed: bool) -> PlacePlan | None:
    """--place (or a bench file's place): ports come from the place, kinds from its tags, the
    options or the bench file; the coordinator is asked about the place, nothing is acquired."""
    if opts.wait is not None and not opts.place:
        raise UsageError("--wait applies to a labgrid place (--place) only")
    if not opts.place:
        return None
    if opts.dut is not None:
        raise UsageError(f"--dut and --place: place {opts.place} gives the DUT's port")
    for option, spec in (("--relay", opts.relay), ("--monitor", opts.monitor)):
        if spec and ":" in spec:
            raise UsageError(f"{option} {spec} and --place: place {opts.place} gives the port; name the kind alone")
    if opts.dry_run:
        raise UsageError("--dry-run wires the virtual lab's instruments on this host; it does not take --place")
    plan = plan_place(opts.place, opts.wait, mode=opts.mode, streamed=streamed, board=opts.board,
                      relay_kind=opts.relay or (bench.relay if bench else None),
                      monitor_kind=opts.monitor or (bench.monitor if bench else None))
    opts.board = opts.board or plan.board
    if not opts.board:
        raise UsageError(f"place {opts.place} has no board tag: pass --board (or tag it: labgrid-client -p "
                         f"{opts.place} set-tags board=NAME)")
    return plan


def build_request(opts: MeasureOptions) -> MeasureRequest:
    """Check everything that can be checked before a run directory exists or a port opens."""
    bench = apply_bench(opts)
    streamed = bool(opts.benchmark and get_benchmark(opts.benchmark).streaming)
    place = check_place_options(opts, bench, streamed)
    board = load_board(opts.board)
    benchmark = get_benchmark(opts.benchmark) if opts.benchmark else None
    if opts.dry_run and opts.mode != "energy":
        raise UsageError("--dry-run applies to energy mode only")
    if benchmark and not benchmark.supports(opts.mode):
        raise UsageError(f"{benchmark.id} is not measured in {opts.mode} mode; its modes: "
                         f"{', '.join(benchmark.procedures)}")
    check_energy_options(opts, board, streamed)
    if benchmark is None and board.virtual and opts.dut is None:
        raise UsageError("a virtual board needs --benchmark (kws, vww, ic, ic2, ad or sww)")
    if opts.detection_window and not streamed:
        raise UsageError("--detection-window applies to a streamed benchmark (sww) only")
    stream = check_stream_options(opts, benchmark) if streamed else None
    if opts.mode == "accuracy" and not opts.dataset:
        raise UsageError("accuracy mode needs --dataset DIR; `tiny-runner dataset synth` writes a synthetic one")
    check_counts(opts)
    if opts.baud is not None and opts.baud <= 0:
        raise UsageError("--baud must be a positive integer")
    lab_options = {"--lab-speed": opts.lab_speed, "--lab-timer-start-us": opts.lab_timer_start_us,
                   "--lab-fault": opts.lab_fault or None, "--lab-firmware-mode": opts.lab_firmware_mode,
                   "--lab-monitor-quirk": opts.lab_monitor_quirk or None}
    given = [option for option, value in lab_options.items()
             if value is not None and not (opts.dry_run and option == "--lab-monitor-quirk")]
    outside_bench = opts.dut is not None or ":" in (opts.relay or "") or place is not None
    if given and (outside_bench or not board.virtual):
        raise UsageError(f"{given[0]} configures the virtual lab; it has no effect with --dut, --relay PORT, "
                         "--place or a real board")
    emulated_only = [option for option in given if option not in ("--lab-firmware-mode", "--lab-monitor-quirk")]
    if emulated_only and board.firmware_port:
        raise UsageError(f"{emulated_only[0]} configures the emulated reference firmware; {board.name} runs the C "
                         "firmware, timed by its own clock")
    if opts.mode == "energy" and board.firmware_port and not board.qemu:
        raise UsageError(f"{board.name} measures performance and accuracy; energy runs need an energy bench "
                         "(board qemu-m4, or a real board)")
    if opts.lab_speed is not None and not (math.isfinite(opts.lab_speed) and opts.lab_speed > 0):
        raise UsageError(f"--lab-speed must be a finite number > 0, not {opts.lab_speed:g}")
    if opts.model and opts.model_dir:
        raise UsageError("pass --model or --model-dir, not both")

    model = None
    on_the_lab = board.virtual and not outside_bench
    if benchmark and (opts.model or on_the_lab or opts.check_outputs):
        model = resolve_model(benchmark.id, model_file=opts.model, model_dir=opts.model_dir)
    dataset = None
    if opts.dataset and not streamed:
        if benchmark is None:
            raise UsageError("--dataset needs --benchmark so the files can be checked before the run")
        dataset = load_dataset(opts.dataset, benchmark, opts.labels)
    monitor_spec = place.monitor_spec if place else opts.monitor or DEFAULT_MONITOR
    kind = parse_spec(monitor_spec)[0] if opts.mode == "energy" else None
    if kind and streamed and not kind.edge_input:
        raise UsageError(f"the {kind.name} has no timestamp input; a stream's energy window is framed by the DUT's "
                         "two timestamp pulses, which need one (LPM01A, STLINK-V3PWR, Joulescope, PPK2, Otii)")
    if place:
        if kind:
            check_energy_bench(opts, board, monitor_spec, place.relay_kind)
        elif streamed:
            check_relay_baud(opts, board, place.relay_kind)
        source = PlaceBench(place, described=bench.describe() if bench else {"name": place.name, **place.describe()})
    elif on_the_lab:
        if kind:
            check_energy_bench(opts, board, kind.name, opts.relay)
        elif streamed:
            check_relay_baud(opts, board, opts.relay)
        settings = LabSettings(
            monitor=kind.name if kind else DEFAULT_MONITOR, relay=opts.relay or DEFAULT_RELAY,
            speed=opts.lab_speed or DEFAULT_LAB_SPEED, timer_start_us=opts.lab_timer_start_us or 0,
            faults=parse_faults(opts.lab_fault), firmware_mode=opts.lab_firmware_mode,
            monitor_quirks=parse_monitor_quirks(opts.lab_monitor_quirk, kind.name) if kind else {})
        source = VirtualLab(settings, described=bench.describe() if bench else None)
    elif opts.dry_run:
        source = dry_run_bench(opts, board, bench, kind.name)  # may open ports: detection, last
    else:
        source = ports_bench(opts, board, bench, streamed)  # may open ports: detection, last
    return MeasureRequest(
        board=board,
        mode=opts.mode,
        bench=source,
        baud=opts.baud or board.baud("energy" if streamed else opts.mode),  # a stream has one build
        benchmark=benchmark,
        dataset=dataset,
        limit=opts.limit,
        model=model,
        model_dir=opts.model_dir,
        check_outputs=opts.check_outputs,
        warmup=1 if opts.warmup is None else opts.warmup,
        iterations=opts.iterations,
        target_window_s=opts.target_window or DEFAULT_TARGET_WINDOW_S,
        runs_root=Path(opts.out),
        run_dir=Path(opts.run_dir) if opts.run_dir else None,
        voltage_mv=opts.voltage or board.supply.get("default_mv", DEFAULT_SUPPLY_MV),
        monitor_rate_hz=opts.monitor_rate,
        stream=stream,
        cell=parse_cell(opts.campaign_cell),
    )


def parse_cell(text: str | None) -> dict | None:
    """The cell a campaign passes (`--campaign-cell`): what the run's record keys it by."""
    if text is None:
        return None
    try:
        cell = json.loads(text)
    except json.JSONDecodeError:
        raise UsageError("--campaign-cell: not JSON") from None
    if not isinstance(cell, dict) or not {"campaign", "key", "definition"} <= set(cell):
        raise UsageError("--campaign-cell: expected an object with campaign, key and definition")
    return cell


def check_stream_options(opts: MeasureOptions, benchmark) -> StreamSelection:
    """A streamed benchmark plays the one stream of --dataset's truth file; the windowed options
    do not apply to it."""
    windowed = {"--iterations": opts.iterations, "--warmup": opts.warmup, "--target-window": opts.target_window,
                "--check-outputs": opts.check_outputs or None}
    given = [option for option, value in windowed.items() if value is not None]
    if given:
        raise UsageError(f"{given[0]} does not apply to {benchmark.id}: the stream is one window, played once")
    relay = get_relay((opts.relay or DEFAULT_RELAY).split(":", 1)[0])
    if not relay.plays_streams:
        raise UsageError(f"the {relay.description} cannot play a stream into the DUT; {benchmark.id} needs one that "
                         "can (--relay ifboard: the MLCommons interface board)")
    if not opts.dataset:
        raise UsageError(f"{benchmark.id} needs --dataset DIR: the folder with the truth file (--labels, default "
                         f"{DEFAULT_TRUTH_FILE}) and, on the virtual lab, its WAV files (the SD card); "
                         "`tiny-runner dataset synth --benchmark sww` writes one")
    labels = DEFAULT_TRUTH_FILE if opts.labels == LABELS_FILE else opts.labels
    return select_stream(opts.dataset, labels, opts.detection_window or "code")


def dry_run_bench(opts: MeasureOptions, board, bench: BenchFile | None, monitor: str) -> WiringDryRun:
    """The real DUT's port (named, in the bench file, or found by USB ID) and the emulated
    instruments the options name."""
    check_energy_bench(opts, board, monitor, opts.relay)
    url, found_by = dut_port(opts, board)
    settings = LabSettings(monitor=monitor, relay=opts.relay or DEFAULT_RELAY,
                           monitor_quirks=parse_monitor_quirks(opts.lab_monitor_quirk, monitor))
    return WiringDryRun(bench_part("dut", url, found_by.get("dut"), bench), settings,
                        described=bench.describe() if bench else None)


def ports_bench(opts: MeasureOptions, board, bench: BenchFile | None, streamed: bool = False) -> PortsBench:
    """The bench of ports: those named (as options or by the bench file), and, on a real board,
    what detection finds for those not named. A streamed benchmark's bring-up bench is the
    interface board alone."""
    described = bench.describe() if bench else None
    if streamed and opts.mode != "energy":
        relay, found_by = opts.relay, {}
        if not board.virtual and (relay is None or ":" not in relay):
            relay, found_by["relay"] = find_relay(relay)
        check_relay_baud(opts, board, relay)
        return PortsBench(relay=bench_part("relay", relay, found_by.get("relay"), bench), described=described)
    if opts.mode != "energy":
        url, found_by = dut_port(opts, board)
        return PortsBench(dut=bench_part("dut", url, found_by.get("dut"), bench), described=described)
    monitor, relay, found_by = energy_bench(opts, board)
    check_energy_bench(opts, board, monitor or DEFAULT_MONITOR, relay)
    return PortsBench(relay=bench_part("relay", relay, found_by.get("relay"), bench),
                      monitor=bench_part("monitor", monitor or DEFAULT_MONITOR, found_by.get("monitor"), bench),
                      described=described)


def bench_part(name: str, spec: str, found_by: str | None, bench: BenchFile | None) -> Part:
    """A port as a Part, with how it was found: by detection, by the bench file, or named as an option."""
    return Part(spec, found_by or (f"{name} {spec} named by bench {bench.name} ({bench.path})" if bench else None))


def dut_port(opts: MeasureOptions, board) -> tuple[str | None, dict[str, str]]:
    """(--dut, {}), or for a real board without it (outside energy mode, where the relay
    reaches the DUT, except in a dry run) the port found by its USB ID and how it was found."""
    if opts.dut is not None or board.virtual or (opts.mode == "energy" and not opts.dry_run):
        return opts.dut, {}
    url, how = find_dut_port(board, opts.baud or board.baud(opts.mode))
    return url, {"dut": how}


def energy_bench(opts: MeasureOptions, board) -> tuple[str | None, str | None, dict[str, str]]:
    """(--monitor, --relay, how each was found): on a real board, a monitor named without its
    port (or not named) and a pass-through board not named are found among the attached ones."""
    monitor, relay, found_by = opts.monitor, opts.relay, {}
    if board.virtual:
        return monitor, relay, found_by
    kind, target = parse_spec(monitor) if monitor else (None, None)
    if kind is None or (kind.port_required and not target):
        monitor, found_by["monitor"] = find_monitor(kind.name if kind else None)
    if relay is None or ":" not in relay:  # like the monitor: a kind without its port is found by USB ID
        relay, found_by["relay"] = find_relay(relay)
    return monitor, relay, found_by
