"""The interface board's host driver: the `dut <cmd>%` shell, its name checked, its stored
DUT-side rate read with `checkbaud` and set with `setbaud` only when it differs (the board
resets: it is identified again), and the streaming commands sww01 needs (streaming.py)."""

from __future__ import annotations

import re
import time

from ...errors import DutTimeout, ProtocolError
from ..base import DUT_PREFIX, PassThroughBoard
from . import streaming

NAME = "tinyML Enhanced Interface Board"
USB_IDS = ((0x0483, 0x374E),)  # the STM32H573I-DK's STLINK-V3 virtual COM port
_SETBAUD_REBOOT_S = 3.0  # the interface board writes its flash and reboots after setbaud


class InterfaceBoard(PassThroughBoard):
    """MLCommons enhanced interface board (STM32H573I-DK), host side at 115200 baud."""

    kind = "ifboard"
    NAME = NAME
    USB_IDS = USB_IDS

    def identify(self) -> str:
        lines = self._command("name")
        if self.NAME not in lines:
            raise ProtocolError(f"{self.link.url} answered 'name%' with {lines!r}, not the interface board's name")
        return self.NAME

    def dut_baud(self) -> int:
        lines = self._command("checkbaud")
        for line in lines:
            match = re.match(r"baud is: (\d+)", line)
            if match:
                return int(match.group(1))
        raise ProtocolError(f"the interface board's checkbaud reply has no rate: {lines!r}")

    def ensure_dut_baud(self, baud: int) -> bool:
        """Set the DUT-side rate only if it differs (setbaud rewrites flash and reboots the board).
        True if it had to be changed."""
        if self.dut_baud() == baud:
            return False
        self._command(f"setbaud {baud}")
        time.sleep(_SETBAUD_REBOOT_S)
        self.link.drain()
        self.identify()  # the board reset: it must be the same board, answering again
        if self.dut_baud() != baud:
            raise ProtocolError(f"the interface board did not keep DUT-side baud {baud}")
        return True

    # -- streaming (sww01) ---------------------------------------------------------------------
    def list_files(self) -> list[str]:
        """The files on its SD card (`ls`)."""
        return streaming.parse_files(self._command("ls"))

    def missing_files(self, names: list[str]) -> list[str]:
        present = set(self.list_files())
        return [name for name in names if name not in present]

    def play(self, name: str, timeout_s: float) -> None:
        """`play FILE`, which blocks until the file has played (timeout: its length and 10 s)."""
        streaming.check_file_name(name)
        self.link.send(f"play {name}%".encode("ascii"))
        streaming.check_played(name, self._board_lines(f"play {name}", "m-ready", timeout_s))

    def record_detections(self) -> None:
        streaming.check_recording(self._command("record_detections"))

    def print_detections(self) -> list[int]:
        return streaming.parse_detections(self._command("print_detections"))

    def print_dutycycle(self) -> tuple[list[int], list[int]]:
        return streaming.parse_dutycycle(self._lines_to_ready("print_dutycycle"))

    def _lines_to_ready(self, command: str, timeout_s: float = 5.0) -> list[str]:
        """The board's lines after `command%` up to m-ready, which may end a line of data."""
        self.link.send(command.encode("ascii") + b"%")
        deadline = time.monotonic() + timeout_s
        lines = []
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                raise DutTimeout(f"the {self.kind} at {self.link.url} did not finish {command + '%'!r} within "
                                 f"{timeout_s:g} s (received {lines!r})")
            if line.startswith(DUT_PREFIX):
                continue  # late DUT output
            if line.endswith("m-ready"):
                head = line[: -len("m-ready")]
                return lines + ([head] if head.strip() else [])
            lines.append(line)
