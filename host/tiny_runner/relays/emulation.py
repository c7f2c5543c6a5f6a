"""What the emulated EEMBC-style pass-through boards share: on the host side, `%`-terminated
commands, cut short where the board's receive buffer is small; on the DUT side, bytes to the DUT
garbled when the board's DUT-side rate is not the firmware's (as framing errors do on a real
bench), and each line the DUT sends passed to the host as `[dut]: <line>`."""

from __future__ import annotations


class EmulatedPassThrough:
    """Mixed into an emulator with `host_port`, `to_dut`, `_command` and `_dut_line` (bytearrays)
    and `_dispatch(command)`."""

    command_limit: int | None = None  # bytes a command keeps; the rest is lost (None: no limit)
    lost_bytes = 0  # command bytes past the limit

    def from_host(self, data: bytes) -> None:
        for byte in data:
            if byte == ord("%"):
                text = self._command.decode("latin-1")
                self._command.clear()
                self._dispatch(text)
            elif self.command_limit is None or len(self._command) < self.command_limit:
                self._command.append(byte)
            else:
                self.lost_bytes += 1

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
