"""A bench: the resources of one run, each with how it was found. The session opens what a
Bench names and never asks where it came from: ports named on the command line or found by USB
detection, a bench file (local or rfc2217:// ports alike), or the virtual lab's emulated devices.

A bench *source* (`BenchSource`) is what a request carries before the run starts; `open()`
hands back the Bench once the run directory exists (the virtual lab logs into it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ..errors import LabError
from .monitors import parse_spec


@dataclass(frozen=True)
class Part:
    """One resource: what to open, whether an emulator answers it, and how it was chosen."""

    spec: str  # the DUT: a pyserial URL; a pass-through board: KIND:URL; a monitor: KIND[:PORT|SERIAL]
    found_by: str | None = None  # how detection, a bench file or the lab chose it; None: named as an option
    emulated: bool = False  # an emulator answers it (a monitor spec's target is then the emulator's address)


class BenchProcess(Protocol):
    """A process behind emulated parts (lab/launcher.py LabProcess): it may die, and is stopped."""

    def failure(self, wait_s: float = 0.0) -> LabError | None: ...

    def stop(self, hurry: bool = False) -> None: ...


@dataclass
class Bench:
    """The opened resources of one run: the DUT's UART when it is wired straight to the host, or
    on the energy bench the pass-through board and the monitor (which powers the DUT)."""

    dut: Part | None = None
    relay: Part | None = None
    monitor: Part | None = None
    description: str = ""  # one line for the step log, when there is more to say than the parts
    process: BenchProcess | None = None
    power_on: Callable[[], None] = lambda: None  # boots a DUT that waits for the host to listen
    banner_on_power_on: bool = False  # the host is listening before the DUT boots: its banner is certain
    records: dict = field(default_factory=dict)  # what the run records of the bench, key by key ("lab")
    on_close: Callable[["Bench"], None] | None = None  # what the source adds to `records` as it closes
    violations: list[str] = field(default_factory=list)  # why no run on this bench can be valid

    def parts(self) -> dict[str, Part]:
        return {name: part for name, part in (("dut", self.dut), ("relay", self.relay), ("monitor", self.monitor))
                if part is not None}

    @property
    def emulated(self) -> bool:
        """The DUT (or the pass-through board in front of it) is an emulator's."""
        return bool((self.dut or self.relay) and (self.dut or self.relay).emulated)

    def monitor_driver(self, on_line: Callable[[str, str], None]):
        """The monitor's driver, not yet opened: the instrument's, or the one that talks to its emulator."""
        kind, target = parse_spec(self.monitor.spec)
        open_driver = kind.emulated_driver if self.monitor.emulated else kind.driver
        return open_driver(target, on_line)

    def failure(self, wait_s: float = 0.0) -> LabError | None:
        """Why a port broke or went silent, when a process behind the bench died; else None. A process
        that is going down gets up to wait_s to finish exiting, so the error names the crash."""
        return self.process.failure(wait_s=wait_s) if self.process else None

    def close(self, hurry: bool = False) -> None:
        if self.process:
            self.process.stop(hurry=hurry)
        if self.on_close:
            self.on_close(self)


class BenchSource(Protocol):
    """Where a run's bench comes from: `open()` once the run directory exists."""

    described: dict | None  # results["bench"]: the bench file's name and ports, or None

    def open(self, request, run_path: Path, log: Callable[[str], None], progress) -> Bench: ...


@dataclass
class PortsBench:
    """A bench of ports: named as options, found by USB detection, or named by a bench file.
    Every port is a pyserial URL, so rfc2217:// and socket:// ports make a remote bench."""

    dut: Part | None = None
    relay: Part | None = None
    monitor: Part | None = None
    described: dict | None = None

    def open(self, request, run_path: Path, log: Callable[[str], None], progress) -> Bench:
        return Bench(dut=self.dut, relay=self.relay, monitor=self.monitor)
