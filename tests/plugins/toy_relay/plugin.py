"""The toy relay: a line shell unlike the EEMBC boards' `dut <cmd>%`, on a 57600-baud host side.

Host to board, one command a line (LF): `who` (the board answers `= toy relay 0.1`), `baud?`
(`= baud <n>`), `baud <n>` (stores the DUT-side rate; `= ok`) and `send <cmd>%` (passes
`<cmd>%` to the DUT, no answer of its own). Each line the DUT prints reaches the host as
`| <line>`. Its window is small: 16 input bytes per `db` command."""

from __future__ import annotations

import time

from tiny_runner.errors import DutTimeout, ProtocolError
from tiny_runner.relays.base import Relay
from tiny_runner.relays.plugin import RelayPlugin

NAME = "toy relay 0.1"
DUT_PREFIX = "| "


class ToyRelay(Relay):
    kind = "toy"
    db_chunk_bytes = 16

    def _ask(self, command: str) -> str:
        self.link.send(command.encode("ascii") + b"\n")
        deadline = time.monotonic() + 3.0
        while (line := self.link.read_line(deadline)) is not None:
            if line.startswith("= "):
                return line[2:]
        raise DutTimeout(f"the toy relay at {self.link.url} did not answer {command!r}")

    def identify(self) -> str:
        name = self._ask("who")
        if name != NAME:
            raise ProtocolError(f"{self.link.url} answered 'who' with {name!r}, not {NAME!r}")
        return name

    def ensure_dut_baud(self, baud: int) -> bool:
        if self._ask("baud?") == f"baud {baud}":
            return False
        self._ask(f"baud {baud}")
        return True

    def dut_link(self) -> "ToyDutLink":
        return ToyDutLink(self)


class ToyDutLink:
    """The DUT through the toy relay, with a direct Link's interface."""

    def __init__(self, board: ToyRelay):
        self.board, self.link = board, board.link
        self.url = f"toy:{board.link.url}"

    def send(self, data: bytes) -> None:
        self.link.send(b"send " + data + b"\n")

    def read_line(self, deadline: float) -> str | None:
        while (line := self.link.read_line(deadline)) is not None:
            if line.startswith(DUT_PREFIX):
                return line[len(DUT_PREFIX):]
            self.board.note(line)
        return None

    def drain(self, quiet_s: float = 0.0) -> bytes:
        stale = self.link.drain(quiet_s).decode("latin-1").replace("\r", "").split("\n")
        dut_lines = [line[len(DUT_PREFIX):] for line in stale if line.startswith(DUT_PREFIX)]
        return "".join(line + "\r\n" for line in dut_lines).encode("latin-1")

    def partial(self) -> bytes:
        return self.link.partial()


class ToyRelayEmulator:
    def __init__(self, host_port, to_dut, stored_dut_baud: int, firmware_baud: int):
        self.host_port, self.to_dut = host_port, to_dut
        self.dut_baud, self.firmware_baud = stored_dut_baud, firmware_baud
        self._command, self._dut_line = b"", b""

    def from_host(self, data: bytes) -> None:
        self._command += data
        *lines, self._command = self._command.split(b"\n")
        for line in lines:
            text = line.decode("latin-1")
            if text == "who":
                self.host_port.write(f"= {NAME}\n".encode())
            elif text == "baud?":
                self.host_port.write(f"= baud {self.dut_baud}\n".encode())
            elif text.startswith("baud "):
                self.dut_baud = int(text[5:])
                self.host_port.write(b"= ok\n")
            elif text.startswith("send "):
                payload = line[5:]
                self.to_dut(payload if self.dut_baud == self.firmware_baud else b"\xff" * len(payload))

    def from_dut(self, data: bytes) -> None:
        if self.dut_baud != self.firmware_baud:
            return
        self._dut_line += data
        *lines, self._dut_line = self._dut_line.split(b"\r\n")
        for line in lines:
            self.host_port.write(DUT_PREFIX.encode() + line + b"\n")


PLUGIN = RelayPlugin(
    name="toy",
    description="toy relay",
    usb_ids=((0x1209, 0x0002),),
    driver=ToyRelay,
    emulator=ToyRelayEmulator,
    host_baud=57_600,
)
