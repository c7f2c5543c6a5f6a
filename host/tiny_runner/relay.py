"""Pass-through boards between the host and an energy-mode DUT (tiny_protocol.md §4).

Both the MLCommons interface board and the EEMBC Arduino IO manager take `dut <cmd>%`, answer
`m-dut-passthrough(<cmd>)` and `m-ready`, pass `<cmd>%` to the DUT (9600 baud on that side)
and forward the DUT's lines as `[dut]: <line>`, ending with `[dut]: m-ready`.

`RelayLink` gives the DUT protocol client the same interface as a direct Link, so everything
above it (downloads, infer, replies and errors) is the same code either way.
"""

from __future__ import annotations

import re
import time

from .errors import DutTimeout, ProtocolError, UsageError
from .link import Link
from .printable import printable

DUT_PREFIX = "[dut]: "
HOST_BAUD = 115_200  # host side of both pass-through boards
_BOARD_TIMEOUT_S = 5.0
_SETBAUD_REBOOT_S = 3.0  # the interface board writes its flash and reboots after setbaud


class RelayLink:
    """The DUT as seen through a pass-through board: send `cmd%`, read the DUT's own lines."""

    def __init__(self, board: "PassThroughBoard"):
        self.board = board
        self.link = board.link
        self.url = f"{board.kind}:{board.link.url}"

    def send(self, data: bytes) -> None:
        if not data.endswith(b"%"):
            raise ValueError("DUT commands end with %")
        self.board.passthrough(data[:-1].decode("ascii"))

    def read_line(self, deadline: float) -> str | None:
        while True:
            line = self.link.read_line(deadline)
            if line is None or line.startswith(DUT_PREFIX):
                return None if line is None else line[len(DUT_PREFIX):]
            self.board.note(line)  # the board's own output between DUT lines

    def drain(self, quiet_s: float = 0.0) -> bytes:
        stale = self.link.drain(quiet_s).decode("latin-1")
        dut_lines = [line[len(DUT_PREFIX):] for line in stale.replace("\r", "").split("\n")
                     if line.startswith(DUT_PREFIX)]
        return "".join(line + "\r\n" for line in dut_lines).encode("latin-1")

    def partial(self) -> bytes:
        return self.link.partial()


class PassThroughBoard:
    kind = "relay"
    db_chunk_bytes = 38
    USB_IDS: tuple[tuple[int, int], ...] = ()  # (VID, PID) of its USB serial port
    NAME: str | None = None  # its reply to `name%`, when known

    def __init__(self, link: Link, log=None):
        self.link = link
        self.log = log or (lambda message: None)

    def note(self, line: str) -> None:
        self.log(f"{self.kind}: {printable(line)}")

    def _board_lines(self, sent: str, until: str, timeout_s: float = _BOARD_TIMEOUT_S) -> list[str]:
        """The board's own lines (not `[dut]: ` ones) after `sent`, up to the line `until`."""
        deadline = time.monotonic() + timeout_s
        lines = []
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                raise DutTimeout(
                    f"the {self.kind} at {self.link.url} did not answer {sent + '%'!r} within {timeout_s:g} s "
                    f"(received {lines!r}); check its port and that it runs the pass-through firmware"
                )
            if line == until:
                return lines
            if not line.startswith(DUT_PREFIX):  # late DUT output: the DUT client judges stale lines
                lines.append(line)

    def _command(self, text: str) -> list[str]:
        """A command for the board itself: its lines up to `m-ready`."""
        self.link.send(text.encode("ascii") + b"%")
        return self._board_lines(text, "m-ready")

    def passthrough(self, command: str) -> None:
        """`dut <command>%`, checking the board's two-line acknowledgement."""
        sent = f"dut {command}"
        self.link.send(sent.encode("ascii") + b"%")
        self._board_lines(sent, f"m-dut-passthrough({command})")
        deadline = time.monotonic() + _BOARD_TIMEOUT_S
        ready = self.link.read_line(deadline)
        if ready != "m-ready":
            raise ProtocolError(f"the {self.kind} acknowledged {command!r} with {ready!r} instead of m-ready")

    def dut_link(self) -> RelayLink:
        return RelayLink(self)


class InterfaceBoard(PassThroughBoard):
    """MLCommons enhanced interface board (STM32H573I-DK), host side at 115200 baud."""

    kind = "ifboard"
    NAME = "tinyML Enhanced Interface Board"
    USB_IDS = ((0x0483, 0x374E),)  # the STM32H573I-DK's STLINK-V3 virtual COM port

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


class IoManager(PassThroughBoard):
    """EEMBC Arduino Uno IO manager: half duplex, at most 64 bytes in flight, so `dut db`
    commands carry 28 bytes ((64 - len('dut db %')) // 2)."""

    kind = "ioman"
    db_chunk_bytes = 28
    # Arduino Uno (Arduino LLC and Arduino SRL IDs), as in the official runner's devices.yaml
    USB_IDS = ((0x2341, 0x0043), (0x2341, 0x0001), (0x2A03, 0x0043), (0x2A03, 0x0243))

    def identify(self) -> str:
        lines = self._command("name")
        return printable(lines[0]) if lines else "io manager"

    def ensure_dut_baud(self, baud: int) -> bool:
        if baud != 9600:
            raise ProtocolError("the EEMBC IO manager talks to the DUT at 9600 baud only")
        return False


RELAYS = {"ifboard": InterfaceBoard, "ioman": IoManager}


def open_relay(spec: str, baud: int, wire_log=None, log=None) -> PassThroughBoard:
    """`ifboard:PORT_URL` or `ioman:PORT_URL`."""
    kind, sep, url = spec.partition(":")
    if not sep or kind not in RELAYS or not url:
        raise UsageError(f"relay {spec!r}: expected ifboard:PORT or ioman:PORT")
    return RELAYS[kind](Link(url, baud, wire_log), log)
