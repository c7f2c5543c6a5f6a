"""A DUT running tiny-runner's C firmware (firmware/) on this machine, wired straight to the
host: the POSIX port as a native process, or the Cortex-M4 image under QEMU.

Both expose the DUT's UART as a pseudo-terminal the runner opens like any serial port. The
image boots as soon as it starts, so the banner usually goes out before the host opens the
port (as with a board that was already running): the handshake does not rely on it. QEMU
also holds back host bytes for up to a second until it notices the pty was opened; the
handshake's `name` retries cover that.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from pathlib import Path

from ..boards import SAFE_NAME
from ..errors import LabError
from ..run.stopping import lab_process_options
from .launcher import LabProcess, end_process

_START_TIMEOUT_S = 20.0
_PTY_LINE = re.compile(r"char device redirected to (\S+) \(label serial0\)")


# The image is untrusted (anything `flash` installed): no semihosting (host files and commands),
# no network (QEMU's default user-mode NIC reaches the host's ports), no default devices. The
# two UARTs are all it touches. A fault handler ends QEMU by requesting a reset (-no-reboot).
QEMU_CONFINEMENT = ("-nodefaults", "-nic", "none", "-semihosting-config", "enable=off", "-no-reboot")


def qemu_command(qemu: dict, image: Path, uart0: str, uart1: str = "null") -> list[str]:
    """The QEMU command line for a board's [firmware.qemu] table. With -icount every
    instruction takes 2^shift ns of virtual time, which the firmware's timer measures."""
    for key in ("machine", "cpu"):  # a comma would add QEMU sub-options (boards.py checks this too)
        if not isinstance(qemu[key], str) or not SAFE_NAME.fullmatch(qemu[key]):
            raise LabError(f"firmware.qemu.{key} {qemu[key]!r} is not a plain QEMU {key} name")
    return [
        "qemu-system-arm", "-M", qemu["machine"], "-cpu", qemu["cpu"], "-display", "none", "-monitor", "none",
        *QEMU_CONFINEMENT, "-icount", f"shift={qemu['icount_shift']}",
        "-kernel", str(image), "-serial", uart0, "-serial", uart1,
    ]


class FirmwareDut(LabProcess):
    """The running image; the same face as the virtual bench for directly wired runs."""

    banner_on_power_on = False  # it booted before the host could listen

    def __init__(self, command: list[str], log_path: Path | None, pty_pattern: re.Pattern, what: str):
        """log_path None (`lab serve`): its messages go to this process's stderr."""
        self.command = command
        self.what = what
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else _NoLog()
        self._log.write((" ".join(command) + "\n").encode())
        self._log.flush()
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._log if log_path else None, **lab_process_options())
        except OSError as exc:
            self._log.close()
            raise LabError(f"cannot start {what}: {exc.strerror}: {command[0]}") from None
        self.ports = {"dut": self._wait_for_pty(pty_pattern)}
        self.stats: dict = {}

    @classmethod
    def posix(cls, image: Path, log_path: Path | None) -> "FirmwareDut":
        return cls([str(image)], log_path, re.compile(r"ready (\S+)"), "the native firmware")

    @classmethod
    def qemu(cls, qemu: dict, image: Path, log_path: Path | None) -> "FirmwareDut":
        return cls(qemu_command(qemu, image, "pty"), log_path, _PTY_LINE, "QEMU")

    @property
    def url(self) -> str:
        return self.ports["dut"]

    def _wait_for_pty(self, pattern: re.Pattern) -> str:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.5)
            if not ready:
                continue
            line = self._proc.stdout.readline()
            if not line:
                break
            self._log.write(line)
            self._log.flush()
            match = pattern.search(line.decode(errors="replace"))
            if match:
                return match.group(1)
        self.stop()
        raise LabError(f"{self.what} did not start ({self.exit_description()}){self._log_hint()}")

    def power_on(self) -> None:
        """Already running: the image boots when the process starts."""

    def _ended(self) -> LabError:
        if self.what == "QEMU" and self._proc.returncode == 0:  # -no-reboot: a reset ends QEMU
            return LabError("QEMU stopped: the image reset the core (tiny-runner's firmware does after a fault, "
                            f"printing e-[fault: <name>]){self._log_hint()}")
        return LabError(f"{self.what} stopped ({self.exit_description()}){self._log_hint()}")

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    def take_output(self) -> None:
        """Read what the process printed since (pin events of an energy build), so its pipe never
        fills; kept in the log. For a caller that holds the DUT running, such as `lab serve`."""
        while select.select([self._proc.stdout], [], [], 0)[0]:
            data = os.read(self._proc.stdout.fileno(), 65536)
            if not data:
                return
            self._log.write(data)
            self._log.flush()

    def stop(self, hurry: bool = False) -> None:
        """SIGTERM ends the image at once; it has no statistics to collect, so hurry changes nothing."""
        end_process(self._proc)
        for stream in (self._proc.stdin, self._proc.stdout):
            stream.close()
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> "FirmwareDut":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _NoLog:
    """Where the log goes when there is none."""

    closed = False

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
