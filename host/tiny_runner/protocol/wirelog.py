"""A wire log: every byte that crossed a link, each way, with the host time it crossed.

One record per read or write, one line per record:

    <seconds since open, 6 decimals> <direction> <bytes, escaped>

direction is `>` (host to device) or `<` (device to host). Printable ASCII is written as is;
backslash, CR, LF and every other byte are escaped (`\\\\`, `\\r`, `\\n`, `\\xNN`), so the log
reads like the conversation and `read_wire_log` gives back the exact bytes.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import IO

from ..run.rundir import write_failure

TO_DEVICE = ">"
FROM_DEVICE = "<"

_ESCAPES = {0x5C: "\\\\", 0x0D: "\\r", 0x0A: "\\n"}
_TABLE = [_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in range(256)]
_UNESCAPE = re.compile(r"\\(\\|r|n|x[0-9a-f]{2})")


def escape(data: bytes) -> str:
    return "".join(_TABLE[b] for b in data)


def unescape(text: str) -> bytes:
    def sub(m: re.Match) -> str:
        code = m.group(1)
        if code == "\\":
            return "\\"
        if code == "r":
            return "\r"
        if code == "n":
            return "\n"
        return chr(int(code[1:], 16))

    return _UNESCAPE.sub(sub, text).encode("latin-1")


class WireLog:
    """Append-only log file; flushed after every record so a crash loses nothing.

    A write that fails (a full disk) raises RunDirError once; the log then stays closed, so the
    run stops on that one error rather than on every later byte."""

    def __init__(self, path: Path, label: str = ""):
        self.path = Path(path)
        try:
            self._file: IO[str] = open(self.path, "a", encoding="ascii", newline="\n")
        except OSError as exc:
            raise write_failure(self.path, exc) from None
        self._t0 = time.monotonic()
        if label:
            self._write(f"# {label}\n")

    def _write(self, line: str) -> None:
        if self._file.closed:
            return
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self.close()
            raise write_failure(self.path, exc) from None

    def record(self, direction: str, data: bytes) -> None:
        if data:
            self._write(f"{time.monotonic() - self._t0:.6f} {direction} {escape(data)}\n")

    def note(self, text: str) -> None:
        """A comment line (events such as 'port opened', never bytes)."""
        self._write(f"# {text}\n")

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:  # the unflushed tail of a failed write: already reported
            pass


def read_wire_log(path: Path) -> list[tuple[float, str, bytes]]:
    """The records of a wire log, comments skipped."""
    records = []
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if not line or line.startswith("#"):
            continue
        t, direction, payload = line.split(" ", 2)
        records.append((float(t), direction, unescape(payload)))
    return records


def stream(path: Path, direction: str) -> bytes:
    """All bytes that went one way, concatenated."""
    return b"".join(data for _, d, data in read_wire_log(path) if d == direction)
