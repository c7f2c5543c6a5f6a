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
    """Append-only log file; flushed after every record so a crash loses nothing."""

    def __init__(self, path: Path, label: str = ""):
        self.path = Path(path)
        self._file: IO[str] = open(self.path, "a", encoding="ascii", newline="\n")
        self._t0 = time.monotonic()
        if label:
            self._file.write(f"# {label}\n")
            self._file.flush()

    def record(self, direction: str, data: bytes) -> None:
        if not data or self._file.closed:
            return
        self._file.write(f"{time.monotonic() - self._t0:.6f} {direction} {escape(data)}\n")
        self._file.flush()

    def note(self, text: str) -> None:
        """A comment line (events such as 'port opened', never bytes)."""
        if not self._file.closed:
            self._file.write(f"# {text}\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


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
