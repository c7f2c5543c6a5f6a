"""The EEMBC Arduino Uno IO manager, emulated (tiny_protocol.md §4.2).

Host side: commands end with `%`; every reply ends with the line `m-ready`. `dut <cmd>`
answers `m-dut-passthrough(<cmd>)` and `m-ready`, passes `<cmd>%` to the DUT at 9600 baud,
the Uno's only DUT-side rate, and forwards each DUT line (split on exact CR LF) as
`[dut]: <line>`; DUT output outside a command (the boot banner after power-on) is forwarded
the same way, as its logs show. A firmware at another rate garbles both directions.

Its own commands answer as the EEMBC runner's logs show: `tm 0` with `m-timestmp-mode-FALLING`
(sic) and `m-[Timer disabled after mode change]`, `enable-timer` with `m-timer-enabled`,
`disable-timer` with `m-timer-disabled`. The text it answers `name%` and `version%` with is not
published; the emulator's is its own (NAME, VERSION). An unknown command gets the EEMBC
framework's `e-[Unknown command: <first word>]`.

The Uno's serial receive buffer holds 64 bytes and the host never has more in flight: the bytes
of a command past the 63rd before its `%` are lost, so an over-long `dut` command reaches the
DUT cut short. Not emulated: collisions of DUT output with a transfer from the host (half
duplex), the timer's own `m-lap-us-` lines and I2C.
"""

from __future__ import annotations

from ..emulation import EmulatedPassThrough
from .driver import DUT_BAUD, WINDOW_BYTES

NAME = "EEMBC IO Manager (emulated)"
VERSION = "1.0.3"
HELP = ("help", "name              device name", "res               Reset polarity 0*,1",
        "enable-timer      Enable timer ISR", "disable-timer     Disable ISR", "dut               DUT passthrough",
        "tm                0=fall/1*=change", "version           firmware version")


class IoManager(EmulatedPassThrough):
    command_limit = WINDOW_BYTES - 1  # the Uno's receive buffer, less the `%` that ends a command

    def __init__(self, host_port, to_dut, *, firmware_baud: int = DUT_BAUD):
        self.host_port = host_port  # has write(bytes)
        self.to_dut = to_dut  # callable(bytes): the bytes the DUT receives
        self.firmware_baud = firmware_baud  # what the DUT actually runs at
        self._command = bytearray()
        self._dut_line = bytearray()
        self.lost_bytes = 0

    # -- host side -----------------------------------------------------------------------------
    def _reply(self, *lines: str) -> None:
        self.host_port.write("".join(line + "\r\n" for line in (*lines, "m-ready")).encode("latin-1"))

    def _dispatch(self, text: str) -> None:
        word, _, argument = text.partition(" ")
        if word == "dut":
            self._reply(f"m-dut-passthrough({argument})")
            self._send_to_dut((argument + "%").encode("latin-1"))
        elif word == "name":
            self._reply(NAME)
        elif word == "version":
            self._reply(VERSION)
        elif word == "help":
            self._reply(*HELP)
        elif word == "tm":
            mode = "FALLING" if argument.strip() == "0" else "CHANGE"
            self._reply(f"m-timestmp-mode-{mode}", "m-[Timer disabled after mode change]")
        elif word == "enable-timer":
            self._reply("m-timer-enabled")
        elif word == "disable-timer":
            self._reply("m-timer-disabled")
        elif word == "res":
            self._reply()
        else:
            self._reply(f"e-[Unknown command: {word}]")

    # -- DUT side ------------------------------------------------------------------------------
    def _rates_match(self) -> bool:
        return self.firmware_baud == DUT_BAUD
