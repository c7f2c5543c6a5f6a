"""What the session needs of a pass-through board (`Relay`), and the `dut <cmd>%` shell that
both EEMBC-style boards share (`PassThroughBoard`, tiny_protocol.md §4).

The shell: the board takes `dut <cmd>%`, answers `m-dut-passthrough(<cmd>)` and `m-ready`,
passes `<cmd>%` to the DUT and forwards the DUT's lines as `[dut]: <line>`, ending with
`[dut]: m-ready`. `RelayLink` gives the DUT protocol client the same interface as a direct
Link (send, read_line, drain, partial, url), so everything above it (downloads, infer, replies
and errors) is the same code either way; a board with another shell gives its own such link.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from ..errors import DutTimeout, ProtocolError
from ..printable import printable
from ..protocol.link import Link

DUT_PREFIX = "[dut]: "
HOST_BAUD = 115_200  # host side of both EEMBC-style pass-through boards
BOARD_TIMEOUT_S = 5.0


class Relay(ABC):
    """A pass-through board as the energy session drives it, opened on its host-side link."""

    kind = "relay"  # its plug-in's name
    db_chunk_bytes = 38  # input bytes per `db` command that its DUT side carries whole

    def __init__(self, link: Link, log=None):
        self.link = link
        self.log = log or (lambda message: None)

    def note(self, line: str) -> None:
        """The board's own output, for the run log (untrusted text: escaped)."""
        self.log(f"{self.kind}: {printable(line)}")

    @abstractmethod
    def identify(self) -> str:
        """Its name as it gives it; ProtocolError if the port holds something else."""

    @abstractmethod
    def ensure_dut_baud(self, baud: int) -> bool:
        """Make the DUT side run at `baud`; True if it had to be changed, ProtocolError if it cannot."""

    @abstractmethod
    def dut_link(self):
        """The DUT as seen through the board: send(`cmd%`), read_line(deadline), drain(quiet_s),
        partial() and url, like a direct Link."""


class RelayLink:
    """The DUT through a `dut <cmd>%` shell: send `cmd%`, read the DUT's own lines."""

    def __init__(self, board: "PassThroughBoard"):
        self.board = board
        self.link = board.link
        self.url = f"{board.kind}:{board.link.url}"
        self.line_arrived: float | None = None  # when the last DUT line came in (the host's clock)

    def send(self, data: bytes) -> None:
        if not data.endswith(b"%"):
            raise ValueError("DUT commands end with %")
        self.board.passthrough(data[:-1].decode("ascii"))

    def read_line(self, deadline: float) -> str | None:
        while True:
            line = self.link.read_line(deadline)
            if line is None or line.startswith(DUT_PREFIX):
                self.line_arrived = self.link.line_arrived
                return None if line is None else line[len(DUT_PREFIX):]
            self.board.note(line)  # the board's own output between DUT lines

    def drain(self, quiet_s: float = 0.0) -> bytes:
        stale = self.link.drain(quiet_s).decode("latin-1")
        dut_lines = [line[len(DUT_PREFIX):] for line in stale.replace("\r", "").split("\n")
                     if line.startswith(DUT_PREFIX)]
        return "".join(line + "\r\n" for line in dut_lines).encode("latin-1")

    def partial(self) -> bytes:
        return self.link.partial()


class PassThroughBoard(Relay):
    """The `dut <cmd>%` shell. Left as it is, it names itself by the first line it answers to
    `name%` and cannot change its DUT-side rate: `fixed_dut_baud`, when set, is the only one."""

    fixed_dut_baud: int | None = None

    def _board_lines(self, sent: str, until: str, timeout_s: float = BOARD_TIMEOUT_S) -> list[str]:
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
        deadline = time.monotonic() + BOARD_TIMEOUT_S
        ready = self.link.read_line(deadline)
        if ready != "m-ready":
            raise ProtocolError(f"the {self.kind} acknowledged {command!r} with {ready!r} instead of m-ready")

    def identify(self) -> str:
        lines = self._command("name")
        return printable(lines[0]) if lines else self.kind

    def ensure_dut_baud(self, baud: int) -> bool:
        if self.fixed_dut_baud is not None and baud != self.fixed_dut_baud:
            raise ProtocolError(f"the {self.kind} talks to the DUT at {self.fixed_dut_baud} baud only")
        return False

    def dut_link(self) -> RelayLink:
        return RelayLink(self)
