"""The IO manager's host driver: the `dut <cmd>%` shell, DUT side at 9600 baud only."""

from __future__ import annotations

from ...errors import ProtocolError
from ...printable import printable
from ..base import PassThroughBoard

DUT_BAUD = 9600  # its only DUT-side rate
WINDOW_BYTES = 64  # the Uno's serial receive buffer: one command, `%` included, must fit
# Arduino Uno (Arduino LLC and Arduino SRL IDs), as in the official runner's devices.yaml
USB_IDS = ((0x2341, 0x0043), (0x2341, 0x0001), (0x2A03, 0x0043), (0x2A03, 0x0243))


class IoManager(PassThroughBoard):
    """EEMBC Arduino Uno IO manager: half duplex, at most 64 bytes in flight, so `dut db`
    commands carry 28 bytes ((64 - len('dut db %')) // 2)."""

    kind = "ioman"
    db_chunk_bytes = (WINDOW_BYTES - len("dut db %")) // 2
    fixed_dut_baud = DUT_BAUD
    USB_IDS = USB_IDS

    def identify(self) -> str:
        lines = self._command("name")
        return printable(lines[0]) if lines else "io manager"

    def ensure_dut_baud(self, baud: int) -> bool:
        if baud != DUT_BAUD:
            raise ProtocolError(f"the EEMBC IO manager talks to the DUT at {DUT_BAUD} baud only")
        return False
