"""What a pass-through board declares about itself, once, so that a runner can offer it without
knowing it: its name, how detection knows its port, its host-side rate, the DUT-side rates it
can run, how to open its driver, and its emulator for the virtual lab.

A board folder (`ifboard/`, `ioman/`, or a package of another distribution) holds a
`plugin.py` with a `PLUGIN = RelayPlugin(...)` and registers it as an entry point in the group
`tiny_runner.relays`, e.g. in pyproject.toml:

    [project.entry-points."tiny_runner.relays"]
    toy = "toy_relay.plugin:PLUGIN"

The driver is built from an unopened-by-it Link (the host-side port at `host_baud`, with the
wire log) and a log function, and is a `tiny_runner.relays.base.Relay`.

The emulator is built from the bench's host-side port (has `write(bytes)`: what the host
reads), `to_dut` (a callable: the bytes the DUT receives), the DUT-side rate stored in the
board at power-up and the rate the firmware actually runs at. It has `from_host(bytes)` (what
the host sent) and `from_dut(bytes)` (what the DUT's UART sent); a DUT-side rate that differs
from the firmware's garbles the wire, as on a real bench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .base import HOST_BAUD

ENTRY_POINT_GROUP = "tiny_runner.relays"


@dataclass(frozen=True)
class RelayPlugin:
    name: str  # what `--relay` takes before the colon
    description: str  # names it in messages: "the <description> talks to the DUT at ..."
    usb_ids: tuple[tuple[int, int], ...]  # (VID, PID) of its USB serial port: how `detect` knows it
    driver: Callable  # (link, log) -> a Relay
    emulator: Callable  # (host_port, to_dut, stored_dut_baud, firmware_baud) -> an emulated board (see above)
    name_reply: str | None = None  # its exact answer to `name%`, when detection may ask it to tell it apart
    host_baud: int = HOST_BAUD
    dut_bauds: tuple[int, ...] | None = None  # the only DUT-side rates it runs; None: any (it is set per run)
    plays_streams: bool = False  # it has an SD card and plays WAV files into the DUT over I2S (sww01)

    @property
    def spec(self) -> str:
        return f"{self.name}[:PORT]"
