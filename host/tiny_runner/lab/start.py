"""Starting the virtual lab for a run, so the run gets the same kind of resources a real bench
gives: the DUT's port when the DUT is wired straight to the host, or the pass-through board's
port and the monitor's address on the energy bench, plus the process to watch and stop.

What starts depends on the board: the emulated reference firmware (a virtual bench process
with a latency and power model), or tiny-runner's C firmware built for the board's port and
run as a process or under QEMU; in energy mode either sits behind the emulated pass-through
board and monitor the request names.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BoardError
from ..firmware_build import build_image
from ..installed_image import installed_image
from ..modelinfo import model_info
from ..models import resolve_model
from ..relay import DEFAULT_RELAY
from .bench_process import BenchConfig
from .firmware import DEFAULT_PULSE_HOLD_US
from .firmware_dut import FirmwareDut, qemu_command
from .latency import LatencyModel
from .launcher import VirtualBench


def start_lab(req, run_path: Path, log, progress, baud: int, monitor: str, supply_mv: int):
    """(the started lab process, what to record of it under results["lab"]). The request's
    model is resolved here when the run did not need it before (req.model is set)."""
    req.model = req.model or resolve_model(req.benchmark.id, model_dir=req.model_dir)
    if req.board.firmware_port:
        return _start_firmware(req, run_path, log, progress, baud, monitor, supply_mv)
    energy = req.mode == "energy"
    if energy and "power" not in req.board.simulation:
        raise BoardError(f"{req.board.path}: energy runs on a virtual board need [simulation.power]")
    macs = model_info(req.model.path).macs
    inference_us = LatencyModel.from_board(req.board).inference_us(macs)
    config = BenchConfig(
        benchmark_id=req.benchmark.id,
        model_path=str(req.model.path),
        inference_us=inference_us,
        mode=req.lab_firmware_mode or ("energy" if energy else "performance"),
        baud=baud,
        speed=req.lab_speed,
        timer_start_us=req.lab_timer_start_us,
        vendor=req.board.vendor_string,
        boot_us=int(req.board.simulation.get("boot_us", 0)),
        pulse_hold_us=float(req.board.simulation.get("pulse_hold_us", DEFAULT_PULSE_HOLD_US)),
        faults=req.lab_faults,
        wiring="energy" if energy else "direct",
        power_ma=req.board.simulation.get("power", {}),
        monitor=monitor,
        monitor_quirks=req.lab_monitor_quirks,
        relay=req.relay or DEFAULT_RELAY,
        supply_mv=supply_mv,
        truth_path=str(run_path / "lab-truth.jsonl") if energy else None,
    )
    record = {
        "speed": req.lab_speed,
        "modelled_inference_us": inference_us,
        "macs": macs,
        "timer_start_us": req.lab_timer_start_us,
        "faults": req.lab_faults,
    }
    if energy:
        record.update(monitor=monitor, monitor_quirks=req.lab_monitor_quirks)
    return VirtualBench(config, run_path / "virtual-lab.log"), record


def _start_firmware(req, run_path: Path, log, progress, baud: int, monitor: str, supply_mv: int):
    """The C firmware image for this board and model, built (or found built, or as `flash`
    installed it), wired straight to the host or on the energy bench (QEMU only)."""
    board = req.board
    energy = req.mode == "energy"
    if energy and not board.qemu:
        raise BoardError(f"{board.path}: energy runs need the QEMU port's energy bench; {board.name} measures "
                         "performance and accuracy")
    if energy and "power" not in board.simulation:
        raise BoardError(f"{board.path}: energy runs on a virtual board need [simulation.power]")
    mode = req.lab_firmware_mode or ("energy" if energy else "performance")
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
        benchmark_id=req.benchmark.id, model_path=str(req.model.path), inference_us=0.0, mode=mode, baud=baud,
        wiring="energy", power_ma=board.simulation["power"], monitor=monitor,
        monitor_quirks=req.lab_monitor_quirks, relay=req.relay or DEFAULT_RELAY, supply_mv=supply_mv,
        truth_path=str(run_path / "lab-truth.jsonl"), qemu=board.qemu, image=str(image_path))
    record.update(monitor=monitor, monitor_quirks=req.lab_monitor_quirks)
    return VirtualBench(config, log_path), record
