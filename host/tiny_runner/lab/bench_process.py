"""The virtual bench as a process: the reference firmware running the real model with the
TFLM interpreter, wired either straight to the host (performance and accuracy) or, for energy
runs, behind an emulated pass-through board (the interface board unless the relay plug-in
named is another) and powered by an emulated energy monitor that samples the bench's physics.
A streaming benchmark (sww01) runs the streaming reference DUT (lab/sww_firmware.py) behind the
interface board, which plays its SD card's WAV files into it: on the energy bench, or on a
bring-up bench (wiring "stream": the board alone, the DUT on its own supply).
Being its own process, a TFLM abort takes down only the virtual bench.

Started by lab.launcher with one JSON argument (BenchConfig). Control lines on stdin: `boot`
(power on / reset the directly wired DUT) and `quit`. Once the model is loaded and the ports
exist it prints `ready <json>` naming them: {"dut": url}, {"relay": path, "monitor": path} or, on
the bring-up bench, {"relay": path};
a port it could not open is `failed {"port": url, "reason": text}`.
`tiny-runner lab serve` runs the same loop in the foreground without the control channel.
"""

from __future__ import annotations

import inspect
import json
import os
import select
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from energy_monitor.pty_port import PtyPort

from ..benchmarks import get_benchmark
from ..model.tflm import TflmModel
from .clock import VirtualClock
from .endpoint import PacedUart, TcpEndpoint
from .firmware import DEFAULT_PULSE_HOLD_US, Faults, ReferenceFirmware
from .physics import Physics, PowerProfile
from .sww_firmware import StreamFaults, StreamingFirmware

# The bring-up bench has no monitor: its physics only keeps the ground truth file.
_UNMETERED = PowerProfile(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class BenchConfig:
    benchmark_id: str
    model_path: str
    inference_us: float
    mode: str = "performance"  # the firmware build: performance or energy
    baud: int = 115_200  # the firmware's UART rate
    speed: float = 100.0
    realtime: bool = False  # the DUT's time kept on the wall clock (lab/clock.py), for host-timed edges
    wait_speed: float | None = None  # virtual time while the DUT waits for the host (None: the speed)
    timer_start_us: int = 0
    vendor: str = "unspecified"
    boot_us: int = 0
    pulse_hold_us: float = DEFAULT_PULSE_HOLD_US  # energy build: how long the timestamp pin stays low
    listen: str = "pty"  # direct wiring: "pty" or "tcp:HOST:PORT"
    boot_on_start: bool = False  # direct wiring, stand-alone serving: print the banner at once
    faults: dict = field(default_factory=dict)  # the DUT's (lab/firmware.py Faults, or sww_firmware.StreamFaults)
    wiring: str = "direct"  # "direct", "energy" (interface board + LPM01A) or "stream" (interface board only)
    relay: str = "ifboard"  # the emulated pass-through board: a relay plug-in's name
    relay_baud: int = 9_600  # the interface board's stored DUT-side rate at power-up
    power_ma: dict = field(default_factory=dict)  # boot_ma, idle_ma, uart_ma, compute_ma
    monitor: str = "lpm01a"  # the emulated instrument: a monitor plug-in's name
    monitor_quirks: dict = field(default_factory=dict)
    supply_mv: int = 1800  # the external supply a Joulescope measures (the others set their own)
    sww: dict = field(default_factory=dict)  # a streaming DUT: the board's [simulation.sww]
    sd_folder: str | None = None  # a streaming bench: the folder the interface board's SD card holds
    board_faults: dict = field(default_factory=dict)  # a streaming bench: the board's (ifboard BoardFaults)
    truth_path: str | None = None
    seed: int = 0
    qemu: dict | None = None  # set: the DUT is this C firmware image under QEMU (lab.qemu_bench), not emulated
    image: str | None = None
    dut_url: str | None = None  # set: a real DUT on this port, for a dry run of the wiring (lab.dry_run)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class _DutSide:
    """Where the firmware's UART bytes go on the energy bench: the pass-through board."""

    def __init__(self):
        self.board = None  # the emulated pass-through board, once it exists

    def write(self, data: bytes) -> None:
        self.board.from_dut(data)


class Bench:
    """The face the monitor emulator sees; power changes reach the DUT through a pipe."""

    def __init__(self, clock: VirtualClock, physics: Physics):
        self.clock = clock
        self.physics = physics
        self._wake_read, self._wake_write = os.pipe()
        self.power_events: list[bool] = []

    def horizon_us(self) -> float:
        return self.clock.horizon_us()

    def energy_at(self, times_us):
        return self.physics.energy_at(times_us)

    def falling_edges_until(self, t_us: float) -> list[float]:
        return self.physics.falling_edges_until(t_us)

    def pin_events_until(self, t_us: float) -> list[tuple[float, int]]:
        return self.physics.pin_events_until(t_us)

    def forget_before(self, t_us: float) -> None:
        self.physics.forget_before(t_us)

    def note(self, record: dict) -> None:
        self.physics.note(record)

    def set_voltage(self, volts: float) -> None:
        self.physics.set_voltage(volts, self.clock.horizon_us())

    def supply_v(self) -> float:
        """What a meter in series sees: the supply's voltage while the DUT is powered, else 0."""
        return self.physics.voltage_v if self.physics.powered else 0.0

    def set_power(self, on: bool) -> None:
        self.physics.set_power(on, self.clock.horizon_us())
        self.power_events.append(on)
        os.write(self._wake_write, b"p")

    def take_power_events(self) -> list[bool]:
        os.read(self._wake_read, 4096)
        events, self.power_events = self.power_events, []
        return events


def serve(config: BenchConfig, control: bool = True) -> None:
    """Run until `quit` on stdin (control=True) or until killed (stand-alone serving)."""
    model = TflmModel(Path(config.model_path))
    clock = VirtualClock(config.speed, config.timer_start_us, realtime=config.realtime, wait_speed=config.wait_speed)
    energy = config.wiring == "energy"
    behind_board = energy or config.wiring == "stream"
    streaming = get_benchmark(config.benchmark_id).streaming
    truth_path = Path(config.truth_path) if config.truth_path else None
    physics = bench = monitor = board = None
    if energy:
        physics = Physics(PowerProfile.from_ma(config.power_ma, config.sww if streaming else None), clock, truth_path)
        clock.listener = physics.activity
        bench = Bench(clock, physics)
    elif behind_board:
        physics = Physics(_UNMETERED, clock, truth_path)
    if behind_board:
        endpoint = PtyPort()
        dut_side = _DutSide()
        uart = PacedUart(dut_side, config.baud, clock)
    elif config.listen.startswith("tcp:"):
        host, port = config.listen[4:].rsplit(":", 1)
        endpoint = TcpEndpoint(host, int(port))
        uart = PacedUart(endpoint, config.baud, clock)
    else:
        endpoint = PtyPort()
        uart = PacedUart(endpoint, config.baud, clock)
    firmware = build_firmware(config, model, uart, clock, physics if energy else None, streaming)
    if streaming and physics:
        firmware.note = physics.note  # its ground truth, on either board-wired bench
    powered = {"on": not energy}

    def to_dut(data: bytes) -> None:
        if powered["on"]:
            uart.received(len(data))
            firmware.receive(data)

    if behind_board:
        board = emulated_relay(config, endpoint, to_dut, **(_stream_wiring(config, clock, firmware, physics)
                                                             if streaming else {}))
        dut_side.board = board
    if energy:
        monitor = emulated_monitor(config, bench)
        monitor.start()
        announce({"relay": endpoint.url, "monitor": monitor.address}, control)
    elif behind_board:
        announce({"relay": endpoint.url}, control)
        if config.boot_on_start or not control:
            firmware.boot()  # its own supply is on; under the launcher the DUT boots on `boot`
    else:
        announce({"dut": endpoint.url}, control)
        if config.boot_on_start and not isinstance(endpoint, TcpEndpoint):
            firmware.boot()

    stdin = sys.stdin.fileno()
    watch = ([stdin] if control else []) + [endpoint] + ([bench._wake_read] if bench else [])
    try:
        while True:
            clock.wait_begin()
            readable, _, _ = select.select(watch, [], [])
            clock.idle()
            if stdin in readable and control:
                line = sys.stdin.readline()
                command = line.strip()
                if not line or command == "quit":
                    break
                if command == "boot" and not energy:
                    firmware.boot()
            if bench and bench._wake_read in readable:
                for on in bench.take_power_events():
                    powered["on"] = on
                    if on:
                        firmware.boot()
            if endpoint in readable:
                if isinstance(endpoint, TcpEndpoint) and not endpoint.connected:
                    endpoint.accept()
                    firmware.boot()  # connecting is powering on
                    continue
                data = endpoint.read()
                if not data:
                    continue
                if board:
                    board.from_host(data)
                else:
                    to_dut(data)
    finally:
        if monitor:
            monitor.shutdown()
        if physics:
            physics.close()
        endpoint.close()
    print(f"stats {json.dumps({'inferences_run': firmware.inferences_run})}", flush=True)


def build_firmware(config: BenchConfig, model, uart, clock: VirtualClock, physics: Physics | None, streaming: bool):
    """The emulated DUT: the streaming reference firmware for a streaming benchmark, else the
    reference firmware; `physics` (metered benches only) gets its timestamp pin."""
    if streaming:
        return StreamingFirmware(
            model=model,
            processing_us=float(config.sww["processing_us"]),
            uart=uart,
            clock=clock,
            pin=physics.pin if physics else None,
            rest=physics.rest if physics else None,
            vendor=config.vendor,
            boot_us=config.boot_us,
            pulse_hold_us=config.pulse_hold_us,
            faults=StreamFaults.from_dict(config.faults),
        )
    return ReferenceFirmware(
        benchmark_id=config.benchmark_id,
        model=model,
        inference_us=config.inference_us,
        mode=config.mode,
        uart=uart,
        clock=clock,
        pin=physics.pin if physics else None,
        vendor=config.vendor,
        boot_us=config.boot_us,
        pulse_hold_us=config.pulse_hold_us,
        faults=Faults.from_dict(config.faults),
    )


def emulated_monitor(config: BenchConfig, bench: Bench):
    """The emulated instrument the host will talk to, from its plug-in. One that does not supply
    the DUT sits in series with an external supply, so the bench's voltage is that supply's."""
    from ..bench.monitors import get_plugin

    plugin = get_plugin(config.monitor)
    if not plugin.supplies_dut:
        bench.set_voltage(config.supply_mv / 1000)
    return plugin.emulator(bench, config.monitor_quirks, config.seed)


def emulated_relay(config: BenchConfig, host_port, to_dut, **wiring):
    """The emulated pass-through board between the host's port and the DUT, from its plug-in.
    The streaming wiring (`streaming`, `faults`) goes only to a board whose emulator takes it;
    another one answers its streaming commands as it would with no SD card."""
    from ..bench.relays import get_plugin

    factory = get_plugin(config.relay).emulator
    accepted = inspect.signature(factory).parameters
    board = factory(host_port, to_dut, config.relay_baud, config.baud,
                    **{key: value for key, value in wiring.items() if key in accepted})
    dut = wiring.get("streaming") and wiring["streaming"].dut
    if dut and "streaming" in accepted:  # the DUT's two GPIOs to the board
        dut.on_detection = board.ww_detected
        dut.on_processing = board.processing_edge
    return board


def _stream_wiring(config: BenchConfig, clock: VirtualClock, firmware, physics) -> dict:
    """What the interface board needs to play the SD card into the streaming DUT."""
    from ..relays.ifboard.emulator import BoardFaults, StreamWiring

    folder = Path(config.sd_folder) if config.sd_folder else None
    note = physics.note if physics else (lambda record: None)
    return {"streaming": StreamWiring(clock, firmware, folder, note),
            "faults": BoardFaults.from_dict(config.board_faults)}


def announce(ports: dict, control: bool) -> None:
    """`ready <json>` for the launcher; `ready <url>` (or one line per port) for a person."""
    if control:
        print(f"ready {json.dumps(ports)}", flush=True)
    elif list(ports) == ["dut"]:
        print(f"ready {ports['dut']}", flush=True)
    else:
        for name, url in ports.items():
            print(f"{name} {url}", flush=True)


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group; the runner decides when its lab stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    bench_config = BenchConfig(**json.loads(sys.argv[1]))
    if bench_config.qemu:
        from .qemu_bench import serve_qemu

        serve_qemu(bench_config)
    elif bench_config.dut_url:
        from .dry_run import serve_dry_run

        serve_dry_run(bench_config)
    else:
        serve(bench_config)
