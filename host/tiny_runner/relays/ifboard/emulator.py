"""The MLCommons interface board (STM32H573I-DK), emulated (tiny_protocol.md §4.1).

Host side: commands end with `%`; replies are lines ending in `m-ready`. A command matches a
keyword when it equals it or continues with a space; a keyword run into other characters
(`names`) gets no reply at all, an unknown command only `m-ready`. `dut <cmd>` answers
`m-dut-passthrough(<cmd>)`, `m-ready`, sends `<cmd>%` to the DUT at the stored DUT-side baud,
and forwards each DUT line (split on exact CR LF) as `[dut]: <line>`. DUT output outside a
`dut` command (the boot banner after power-on) is forwarded the same way, as the EEMBC IO
manager does. The stored DUT-side baud survives `setbaud` (which resets the board); a baud
that differs from the DUT's garbles both directions, as on a real wire.

The host side is not paced: at 115200 it is an order of magnitude faster than the 9600-baud
DUT side that dominates every exchange.
"""

from __future__ import annotations

from ..emulation import EmulatedPassThrough
from .driver import NAME as BOARD_NAME

KEYWORDS = ("dut", "name", "ls", "play", "setbaud", "checkbaud", "record_detections", "print_detections",
            "print_dutycycle")


class InterfaceBoard(EmulatedPassThrough):
    def __init__(self, host_port, to_dut, *, dut_baud: int = 9600, firmware_baud: int = 9600):
        self.host_port = host_port  # has write(bytes)
        self.to_dut = to_dut  # callable(bytes): the bytes the DUT receives
        self.dut_baud = dut_baud  # stored in the board's flash
        self.firmware_baud = firmware_baud  # what the DUT actually runs at
        self._command = bytearray()
        self._dut_line = bytearray()
        self.resets = 0

    # -- host side -----------------------------------------------------------------------------
    def _reply(self, text: str) -> None:
        self.host_port.write(text.encode("latin-1"))

    def _dispatch(self, text: str) -> None:
        keyword = next((k for k in KEYWORDS if text == k or text.startswith(k + " ")), None)
        if keyword is None:
            if any(text.startswith(k) for k in KEYWORDS):
                return  # a keyword run into other characters: the board stays silent
            self._reply("m-ready\r\n")
            return
        argument = text[len(keyword) + 1:]
        if keyword == "dut":
            self._reply(f"m-dut-passthrough({argument})\r\nm-ready\r\n")
            self._send_to_dut((argument + "%").encode("latin-1"))
        elif keyword == "name":
            self._reply(f"{BOARD_NAME}\r\nm-ready\r\n")
        elif keyword == "setbaud":
            baud = int(argument) if argument.strip().isdigit() else 0
            self._reply(f"set baud to: {baud}\nm-ready\r\n")
            if 1 <= baud <= 2_000_000:
                self.dut_baud = baud
            self.resets += 1  # the real board writes flash and reboots
        elif keyword == "checkbaud":
            self._reply(f"baud is: {self.dut_baud}\nm-ready\r\n")
        else:  # streaming-wakeword commands: no SD card here
            self._reply("m-ready\r\n")

    # -- DUT side ------------------------------------------------------------------------------
    def _rates_match(self) -> bool:
        return self.dut_baud == self.firmware_baud
