"""The virtual DUT as a process: the reference firmware on a pty (or TCP), running the real
model with the TFLM interpreter. Being its own process, a TFLM abort takes down only the
virtual board, never the runner.

Started by lab.launcher with one JSON argument (see VirtualDutConfig). Control lines on
stdin: `boot` (power on / reset: print the banner) and `quit`. It answers on stdout with
`ready <url>` once the model is loaded and the port exists. `tiny-runner lab serve` runs the
same loop in the foreground without the control channel.
"""

from __future__ import annotations

import json
import select
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..tflm import TflmModel
from .clock import VirtualClock
from .endpoint import PacedUart, PtyEndpoint, TcpEndpoint
from .firmware import Faults, ReferenceFirmware


@dataclass
class VirtualDutConfig:
    benchmark_id: str
    model_path: str
    inference_us: float
    mode: str = "performance"
    baud: int = 115_200
    speed: float = 100.0
    timer_start_us: int = 0
    vendor: str = "unspecified"
    boot_us: int = 0
    listen: str = "pty"  # "pty" or "tcp:HOST:PORT"
    boot_on_start: bool = False  # print the banner at once (stand-alone serving)
    faults: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def serve(config: VirtualDutConfig, control: bool = True) -> None:
    """Run until `quit` on stdin (control=True) or until killed (stand-alone serving)."""
    model = TflmModel(Path(config.model_path))
    if config.listen.startswith("tcp:"):
        host, port = config.listen[4:].rsplit(":", 1)
        endpoint = TcpEndpoint(host, int(port))
    else:
        endpoint = PtyEndpoint()
    clock = VirtualClock(config.speed, config.timer_start_us)
    uart = PacedUart(endpoint, config.baud, clock)
    firmware = ReferenceFirmware(
        benchmark_id=config.benchmark_id,
        model=model,
        inference_us=config.inference_us,
        mode=config.mode,
        uart=uart,
        clock=clock,
        vendor=config.vendor,
        boot_us=config.boot_us,
        faults=Faults.from_dict(config.faults),
    )
    print(f"ready {endpoint.url}", flush=True)
    if config.boot_on_start and not isinstance(endpoint, TcpEndpoint):
        firmware.boot()

    stdin = sys.stdin.fileno()
    watch = [stdin, endpoint] if control else [endpoint]
    while True:
        readable, _, _ = select.select(watch, [], [])
        if stdin in readable and control:
            line = sys.stdin.readline()
            command = line.strip()
            if not line or command == "quit":
                break
            if command == "boot":
                clock.idle()
                firmware.boot()
        if endpoint in readable:
            if isinstance(endpoint, TcpEndpoint) and not endpoint.connected:
                endpoint.accept()
                clock.idle()
                firmware.boot()  # connecting is powering on
                continue
            data = endpoint.read()
            if data:
                uart.received(len(data))
                firmware.receive(data)
    endpoint.close()
    print(f"stats {json.dumps({'inferences_run': firmware.inferences_run})}", flush=True)


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group; the runner decides when its lab stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(VirtualDutConfig(**json.loads(sys.argv[1])))
