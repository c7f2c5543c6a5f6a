"""What the emulated EEMBC-style pass-through boards share on their DUT side: bytes to the DUT
arrive garbled when the board's DUT-side rate is not the firmware's (as framing errors do on a
real bench), and each line the DUT sends reaches the host as `[dut]: <line>`."""

from __future__ import annotations


class DutSideForwarding:
    """Mixed into an emulator with `host_port`, `to_dut` and `_dut_line` (a bytearray)."""

    def _rates_match(self) -> bool:
        raise NotImplementedError

    def _send_to_dut(self, data: bytes) -> None:
        self.to_dut(data if self._rates_match() else b"\xff" * len(data))

    def from_dut(self, data: bytes) -> None:
        if not self._rates_match():
            return  # framing errors: nothing intelligible reaches the board
        self._dut_line += data
        while True:
            end = self._dut_line.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self._dut_line[:end])
            del self._dut_line[: end + 2]
            self.host_port.write(b"[dut]: " + line + b"\r\n")
