"""Starting the virtual lab for a run, so the run gets the same kind of resources a real bench
gives: the DUT's port when the DUT is wired straight to the host, or the pass-through board's
port and the monitor's address on the energy bench, plus the process to watch and stop.

What starts depends on the board: the emulated reference firmware (a virtual bench process
with a latency and power model), or tiny-runner's C firmware built for the board's port and
run as a process or under QEMU; in energy mode either sits behind the emulated pass-through
board and monitor the request names. A streaming benchmark (sww01) always has the interface
board in front of its DUT (lab/sww_firmware.py), its SD card holding the request's
`sd_folder`: with the monitor in energy mode, alone otherwise (a bring-up bench).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..bench.bench import Bench, Part
from ..bench.monitors import DEFAULT_MONITOR, get_plugin
from ..bench.relays import DEFAULT_RELAY
from ..errors import BoardError
from ..image.build import build_image
from ..image.installed import installed_image
from ..model.info import model_info
from ..model.reference import resolve_model
from .bench_process import BenchConfig
from .firmware import DEFAULT_PULSE_HOLD_US
from .firmware_dut import FirmwareDut, qemu_command
from .latency import LatencyModel
from .launcher import VirtualBench
from .sww_firmware import split_stream_faults

DEFAULT_LAB_SPEED = 100.0
# A stream's energy window holds the host's waits (its commands, the 0.25 s before `stop`): they
# pass at the wall rate, so the window lasts what it would on a bench; only the DUT's work is sped up.
STREAM_WAIT_SPEED = 1.0
# A dry run's current when the board has no [simulation.power]: a typical Cortex-M at 3.3 V.
NOMINAL_POWER_MA = {"boot_ma": 10.0, "idle_ma": 2.0, "uart_ma": 3.0, "compute_ma": 12.0}
DRY_RUN_VIOLATION = ("energy from an emulated monitor (a dry run of the wiring with --dry-run): the figures are the "
                     "emulation's, not a measurement of the DUT")


@dataclass
class LabSettings:
    """How the virtual lab stands in for a bench: its emulated instruments and what the person
    asked of them (the --lab-* options)."""

    monitor: str = DEFAULT_MONITOR  # the emulated monitor's plug-in name (energy mode)
    relay: str = DEFAULT_RELAY  # the emulated pass-through board's plug-in name (energy mode)
    speed: float = DEFAULT_LAB_SPEED  # lab seconds per wall second (the emulated reference firmware)
    timer_start_us: int = 0
    faults: dict = field(default_factory=dict)
    firmware_mode: str | None = None  # None: the build this run needs
    monitor_quirks: dict = field(default_factory=dict)
    realtime: bool = False  # the lab's time on the wall clock, for a monitor whose edges the host times


@dataclass
class VirtualLab:
    """A bench source: the virtual lab starts its emulated devices for the run and hands back
    the same kind of parts a real bench has, answered by emulators."""

    settings: LabSettings = field(default_factory=LabSettings)
    described: dict | None = None

    def open(self, req, run_path: Path, log, progress) -> Bench:
        energy = req.mode == "energy"
        streaming = bool(req.benchmark and req.benchmark.streaming)
        settings = self.settings
        if energy:
            kind = get_plugin(settings.monitor)
            rate = req.monitor_rate_hz or kind.default_rate_hz
            fastest = kind.lab_samples_per_s / rate
            if settings.speed > fastest and not req.board.firmware_port:
                log(f"lab speed lowered from x{settings.speed:g} to x{fastest:g} so the emulated {kind.name} keeps "
                    f"up with {rate:,.0f} samples/s")
                settings = replace(settings, speed=fastest)
            if not kind.edge_input and not req.board.firmware_port:
                log(f"the {kind.name} has no timestamp input: the host times the edges, so the lab runs in real time")
                settings = replace(settings, speed=1.0, realtime=True)
        lab, record = start_lab(req, settings, run_path, log, progress)

        def record_executions(bench: Bench) -> None:
            bench.records["lab"]["model_executions"] = lab.stats.get("inferences_run")

        found = "started by the virtual lab"
        bench = Bench(process=lab, records={"lab": record}, on_close=record_executions,
                      banner_on_power_on=lab.banner_on_power_on, power_on=getattr(lab, "power_on", lambda: None))
        dut = "the C firmware under QEMU" if req.board.qemu else (
            "the C firmware" if req.board.firmware_port else f"speed x{settings.speed:g}")
        if energy or streaming:
            bench.relay = Part(f"{settings.relay}:{lab.ports['relay']}", found, emulated=True)
        if energy:
            bench.monitor = Part(f"{settings.monitor}:{lab.ports['monitor']}", found, emulated=True)
            bench.description = (f"virtual energy bench started: pass-through board {bench.relay.spec}, "
                                 f"{settings.monitor} {lab.ports['monitor']} ({dut})")
        elif streaming:
            bench.description = (f"virtual streaming bench started: pass-through board {bench.relay.spec} playing "
                                 f"{req.sd_folder} into the DUT ({dut})")
        else:
            bench.dut = Part(lab.url, found, emulated=True)
            bench.description = (f"{lab.what} started; the DUT's UART is {lab.url}" if req.board.firmware_port
                                 else f"virtual DUT started on {lab.url} ({dut})")
        return bench


@dataclass
class WiringDryRun:
    """A bench source for a dry run of the energy wiring: the real DUT on its own port, behind
    the virtual lab's emulated pass-through board and monitor (lab/dry_run.py). The run goes
    through every step of an energy run and is never valid."""

    dut: Part
    settings: LabSettings = field(default_factory=LabSettings)
    described: dict | None = None

    def open(self, req, run_path: Path, log, progress) -> Bench:
        settings, board = self.settings, req.board
        modelled = "power" in board.simulation
        power_ma = board.simulation["power"] if modelled else dict(NOMINAL_POWER_MA)
        config = BenchConfig(
            benchmark_id=req.benchmark.id if req.benchmark else "", model_path="", inference_us=0.0, mode="energy",
            baud=req.baud, wiring="energy", power_ma=power_ma, monitor=settings.monitor,
            monitor_quirks=settings.monitor_quirks, relay=settings.relay, supply_mv=req.voltage_mv,
            pulse_hold_us=float(board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
            truth_path=str(run_path / "lab-truth.jsonl"), dut_url=self.dut.spec)
        lab = VirtualBench(config, run_path / "virtual-lab.log")
        found = "started by the virtual lab for a dry run"
        bench = Bench(dut=self.dut, process=lab, violations=[DRY_RUN_VIOLATION],
                      relay=Part(f"{settings.relay}:{lab.ports['relay']}", found, emulated=True),
                      monitor=Part(f"{settings.monitor}:{lab.ports['monitor']}", found, emulated=True),
                      records={"lab": {"dry_run": True, "dut": self.dut.spec, "monitor": settings.monitor,
                                       "monitor_quirks": settings.monitor_quirks, "relay": settings.relay,
                                       "power_ma": power_ma}})
        bench.description = (f"dry run of the energy wiring: the DUT on {self.dut.spec} behind an emulated "
                             f"pass-through board {bench.relay.spec} and an emulated {settings.monitor} "
                             f"{lab.ports['monitor']}" + ("" if modelled else " (nominal current profile)"))
        return bench


def start_lab(req, settings: LabSettings, run_path: Path, log, progress):
    """(the started lab process, what to record of it under results["lab"]). The request's
    model is resolved here when the run did not need it before (req.model is set)."""
    req.model = req.model or resolve_model(req.benchmark.id, model_dir=req.model_dir)
    baud, monitor, supply_mv = req.baud, settings.monitor, req.voltage_mv
    if req.benchmark.streaming:
        return _start_stream(req, settings, run_path)
    if req.board.firmware_port:
        return _start_firmware(req, settings, run_path, log, progress)
    energy = req.mode == "energy"
    if energy and "power" not in req.board.simulation:
        raise BoardError(f"{req.board.path}: energy runs on a virtual board need [simulation.power]")
    macs = model_info(req.model.path).macs
    inference_us = LatencyModel.from_board(req.board).inference_us(macs)
    config = BenchConfig(
        benchmark_id=req.benchmark.id,
        model_path=str(req.model.path),
        inference_us=inference_us,
        mode=settings.firmware_mode or ("energy" if energy else "performance"),
        baud=baud,
        speed=settings.speed,
        realtime=settings.realtime,
        timer_start_us=settings.timer_start_us,
        vendor=req.board.vendor_string,
        boot_us=int(req.board.simulation.get("boot_us", 0)),
        pulse_hold_us=float(req.board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
        faults=settings.faults,
        wiring="energy" if energy else "direct",
        power_ma=req.board.simulation.get("power", {}),
        monitor=monitor,
        monitor_quirks=settings.monitor_quirks,
        relay=settings.relay,
        supply_mv=supply_mv,
        truth_path=str(run_path / "lab-truth.jsonl") if energy else None,
    )
    record = {
        "speed": settings.speed,
        "modelled_inference_us": inference_us,
        "macs": macs,
        "timer_start_us": settings.timer_start_us,
        "faults": settings.faults,
    }
    if energy:
        record.update(monitor=monitor, monitor_quirks=settings.monitor_quirks)
    if settings.realtime:  # only then: the lab's record keeps its layout for every other run
        record["realtime"] = True
    return VirtualBench(config, run_path / "virtual-lab.log"), record


def _start_stream(req, settings: LabSettings, run_path: Path):
    """The streaming reference DUT behind the interface board, which plays `req.sd_folder`."""
    board, benchmark = req.board, req.benchmark
    energy = req.mode == "energy"
    sww = board.simulation.get("sww") or {}
    if board.firmware_port:
        raise BoardError(f"{board.path}: {benchmark.id} is streamed into the emulated reference DUT; the "
                         f"{board.firmware_port} C firmware does not stream")
    needed = ("processing_us", "listening_ma", "processing_ma") if energy else ("processing_us",)
    missing = [key for key in needed if key not in sww]
    if missing:
        raise BoardError(f"{board.path}: {benchmark.id} runs on a virtual board need [simulation.sww] with "
                         f"{', '.join(missing)}")
    if energy and "power" not in board.simulation:
        raise BoardError(f"{board.path}: energy runs on a virtual board need [simulation.power]")
    sd_folder = req.sd_folder
    if sd_folder is None:
        raise BoardError(f"{benchmark.id} on a virtual board needs the stream's folder for the interface board's "
                         "SD card (the run names no stream)")
    dut_faults, board_faults = split_stream_faults(settings.faults)
    config = BenchConfig(
        benchmark_id=benchmark.id,
        model_path=str(req.model.path),
        inference_us=0.0,  # a frame's time is [simulation.sww] processing_us
        mode="energy",  # the streaming reference firmware has one build
        baud=req.baud,
        speed=settings.speed,
        realtime=settings.realtime,
        wait_speed=min(STREAM_WAIT_SPEED, settings.speed),
        timer_start_us=settings.timer_start_us,
        vendor=board.vendor_string,
        boot_us=int(board.simulation.get("boot_us", 0)),
        pulse_hold_us=float(board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
        faults=dut_faults,
        board_faults=board_faults,
        wiring="energy" if energy else "stream",
        power_ma=board.simulation.get("power", {}),
        monitor=settings.monitor,
        monitor_quirks=settings.monitor_quirks,
        relay=settings.relay,
        supply_mv=req.voltage_mv,
        truth_path=str(run_path / "lab-truth.jsonl"),
        sww=dict(sww),
        sd_folder=str(sd_folder),
    )
    record = {
        "speed": settings.speed,
        "wait_speed": config.wait_speed,
        "timer_start_us": settings.timer_start_us,
        "faults": settings.faults,
        "sd_folder": str(sd_folder),
        "stream": {key: sww[key] for key in ("processing_us", "listening_ma", "processing_ma", "calibrated_from")
                   if key in sww},
    }
    if energy:
        record.update(monitor=settings.monitor, monitor_quirks=settings.monitor_quirks)
    if settings.realtime:
        record["realtime"] = True
    return VirtualBench(config, run_path / "virtual-lab.log"), record


def _start_firmware(req, settings: LabSettings, run_path: Path, log, progress):
    """The C firmware image for this board and model, built (or found built, or as `flash`
    installed it), wired straight to the host or on the energy bench (QEMU only)."""
    board = req.board
    energy = req.mode == "energy"
    if energy and not board.qemu:
        raise BoardError(f"{board.path}: energy runs need the QEMU port's energy bench; {board.name} measures "
                         "performance and accuracy")
    if energy and "power" not in board.simulation:
        raise BoardError(f"{board.path}: energy runs on a virtual board need [simulation.power]")
    mode = settings.firmware_mode or ("energy" if energy else "performance")
    installed = installed_image(board)
    if installed:
        # like a real board, it runs what was flashed; the handshake checks its mode and model
        image_path = installed.path
        log(f"firmware image {installed.path}, installed by `tiny-runner flash` on {installed.installed} from "
            f"{installed.source} (sha256 {installed.sha256})")
        record = {"firmware": {"port": board.firmware_port, "installed": installed.describe()}}
    else:
        progress.message(f"building the {board.firmware_port} firmware for {req.benchmark.id} ({mode})")
        image = build_image(board.firmware_port, req.model.path, req.benchmark.id, mode, board.vendor_string)
        image_path = image.path
        log(f"firmware image {image.path} ({'found built' if image.reused else 'built'}): text "
            f"{image.text_bytes} (weights {image.weight_bytes}), data {image.data_bytes}, bss {image.bss_bytes} "
            "bytes")
        record = {"firmware": image.describe()}
    if board.qemu:
        record["qemu"] = {**board.qemu, "command": qemu_command(board.qemu, image_path, "pty")}
    log_path = run_path / "virtual-lab.log"
    if not energy:
        if board.qemu:
            return FirmwareDut.qemu(board.qemu, image_path, log_path), record
        return FirmwareDut.posix(image_path, log_path), record
    config = BenchConfig(
        benchmark_id=req.benchmark.id, model_path=str(req.model.path), inference_us=0.0, mode=mode, baud=req.baud,
        wiring="energy", power_ma=board.simulation["power"], monitor=settings.monitor,
        monitor_quirks=settings.monitor_quirks, relay=settings.relay, supply_mv=req.voltage_mv,
        truth_path=str(run_path / "lab-truth.jsonl"), qemu=board.qemu, image=str(image_path))
    record.update(monitor=settings.monitor, monitor_quirks=settings.monitor_quirks)
    return VirtualBench(config, log_path), record
