"""The interface board's host driver: the `dut <cmd>%` shell, its name checked, its stored
DUT-side rate read with `checkbaud` and set with `setbaud` only when it differs."""

from __future__ import annotations

import re
import time

from ...errors import ProtocolError
from ..base import PassThroughBoard

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
        if self.dut_baud() != baud:
            raise ProtocolError(f"the interface board did not keep DUT-side baud {baud}")
        return True
