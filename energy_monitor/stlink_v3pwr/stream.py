"""The STLINK-V3PWR's acquisition stream: samples, events, metadata frames.

Verified against ST's public script (x-cube-n6-ai-power-measurement, Utilities/pwr_scripts/
stlinkpwr_cmd.py, 2024): after `start` and the reply's blank line, binary samples are 2 bytes,
current = 12-bit mantissa x 16^-(high nibble); a first byte of 0xF0 starts a metadata frame
whose second byte is its id: F3..FB have fixed sizes (below, from that script), F1 (error) and
F2 (text) run to `0D 0A FF FF`. Against the official MLCommons runner's
power_manager_stlinkv3pwr.py: ASCII samples are `DDDD±EE` lines, each edge of the event input is
an `event NN ris|fal` line, `end` closes the acquisition, and lines may carry the `stlp > ` prompt.

Not verified (ST's manual UM3097 was not at hand): how events appear in the binary stream
(taken, as for the LPM01A, from an F2 text frame holding `event NN ...`) and the layout of the
F3 timestamp frame (taken as the LPM01A's: 4-byte milliseconds, then the buffer load). A wrong
guess at F3 shows as lost samples, which flag windows; it cannot shift an edge.
"""

from __future__ import annotations

import numpy as np

from ..lpm01a.stream import _EVENT, AsciiStreamParser, Parsed, StreamParser

PROMPT = b"stlp > "
FRAME_SIZES = {0xF3: 9, 0xF4: 4, 0xF5: 8, 0xF6: 4, 0xF7: 6, 0xF8: 6, 0xF9: 5, 0xFA: 4, 0xFB: 4}
TEXT_END = b"\r\n\xff\xff"


def decode_samples(data: bytes) -> np.ndarray:
    """Currents of 2-byte samples (every high nibble is an exponent here, 0xF included)."""
    words = np.frombuffer(data, dtype=">u2").astype(np.int64)
    return (words & 0x0FFF) / np.power(16.0, words >> 12)


class PromptedAsciiParser(AsciiStreamParser):
    """The LPM01A's ASCII stream parser, with the V3PWR's prompt taken off each line."""

    def feed(self, data: bytes) -> list[Parsed]:
        return super().feed(data.replace(PROMPT, b""))


class BinaryParser(StreamParser):
    def feed(self, data: bytes) -> list[Parsed]:
        data = self._pending + data
        outputs = [Parsed(self.index, np.empty(0))]
        position = 0
        while position + 2 <= len(data):
            pairs = np.frombuffer(data, dtype=np.uint8, count=(len(data) - position) // 2 * 2, offset=position)
            markers = np.flatnonzero(pairs[0::2] == 0xF0)
            count = int(markers[0]) if len(markers) else len(pairs) // 2
            if count:
                values = decode_samples(data[position:position + 2 * count])
                out = outputs[-1]
                out.values = np.concatenate([out.values, values]) if len(out.values) else values
                self.index += count
                position += 2 * count
                continue
            end = self._frame_end(data, position)
            if end is None:
                break  # an incomplete frame: wait for more bytes
            self._frame(outputs, data[position:end])
            position = end
            if self.ended:
                self.leftover, self._pending = data[position:], b""
                return self._useful(outputs)
        self._pending = data[position:]
        return self._useful(outputs)

    @staticmethod
    def _useful(outputs: list[Parsed]) -> list[Parsed]:
        return [o for o in outputs if len(o.values) or o.edges or o.messages or o.dropped or o.ended]

    @staticmethod
    def _frame_end(data: bytes, start: int) -> int | None:
        kind = data[start + 1]
        if kind in (0xF1, 0xF2):
            stop = data.find(TEXT_END, start + 2)
            return None if stop < 0 else stop + len(TEXT_END)
        size = FRAME_SIZES.get(kind, 2)  # an unknown id: skip its marker, noted by _frame
        return start + size if start + size <= len(data) else None

    def _frame(self, outputs: list[Parsed], frame: bytes) -> None:
        out, kind = outputs[-1], frame[1]
        if kind == 0xF3:
            before = self.index
            self._at_timestamp(out, int.from_bytes(frame[2:6], "big") & 0x7FFFFFFF, frame[6])
            if self.index != before:  # lost samples: the next ones start a new run
                outputs.append(Parsed(self.index, np.empty(0)))
        elif kind == 0xF4:
            out.messages.append(b"end")
            out.ended = self.ended = True
        elif kind in (0xF1, 0xF2):
            text = frame[2:-len(TEXT_END)]
            if kind == 0xF2 and _EVENT.match(text):
                self._event(out)
            else:
                out.messages.append((b"error: " if kind == 0xF1 else b"") + text)
        elif kind not in FRAME_SIZES:
            out.messages.append(f"unknown metadata frame F0 {kind:02X}".encode())
        # the other fixed-size frames (temperature and the like) carry nothing a window needs
