"""Parsing the LPM01A acquisition stream into samples, events and checks.

ASCII (`format ascii_dec`): one value per line; `TimeStamp: SSSs MMMms, buff NN%` every 1000
samples; `event NN ris` right after the sample during which a D7 edge happened; other lines
(acks, `end`, `error...`, `PowerShield > Acquisition completed`) are messages. NUL bytes are
stripped and samples glued together by a lost newline are split.

Binary (`format bin_hexa`): 2-byte samples; records start with F0 Fx and end with FF FF. The
timestamp record is F0 F3 + 4-byte ms (bit 31 an overflow flag) + buffer %; end is F0 F4.
How the firmware reports D7 events in binary mode is not documented: this parser takes an
info-text record (F0 F2) holding `event NN ris`, which is what the emulator sends.

Both parsers count samples, and at each timestamp record compare the count with the elapsed
time: samples the instrument lost are reported as `dropped`, and later indices skip over
them, so an index always means a time (index / rate after the start).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .codec import ASCII_SAMPLE_LEN, decode_binary, parse_ascii_samples

_TIMESTAMP = re.compile(rb"TimeStamp:[ <>]?(\d+)s (\d+)ms, buff (\d+)%")
_EVENT = re.compile(rb"event (\d+) \w+")
END_MESSAGES = (b"end", b"PowerShield > Acquisition completed")


@dataclass
class Parsed:
    """What one feed() call produced."""

    first_index: int
    values: np.ndarray
    edges: list[int] = field(default_factory=list)
    dropped: int = 0
    messages: list[bytes] = field(default_factory=list)
    buffer_pct: int | None = None
    ended: bool = False


class StreamParser:
    def __init__(self, rate_hz: float):
        self.rate_hz = rate_hz
        self.index = 0  # absolute index of the next sample
        self.dropped_total = 0
        self.events_seen = 0
        self.ended = False  # the acquisition's end marker was seen
        self.leftover = b""  # bytes after the end marker: shell output again, not samples
        self._pending = b""

    def take_leftover(self) -> bytes:
        data, self.leftover = self.leftover, b""
        return data

    def _at_timestamp(self, out: Parsed, elapsed_ms: int, buffer_pct: int) -> None:
        expected = round(elapsed_ms * self.rate_hz / 1000)
        if expected > self.index:  # the instrument skipped samples; keep index == time
            lost = expected - self.index
            self.index += lost
            out.dropped += lost
            self.dropped_total += lost
        out.buffer_pct = buffer_pct

    def _event(self, out: Parsed) -> None:
        # The edge is in the last sample received. If samples were lost just before it, the loss
        # shows only at the next timestamp record, so this index is early by the gap; the window
        # is flagged for its lost samples anyway.
        self.events_seen += 1
        out.edges.append(max(self.index - 1, 0))


class AsciiStreamParser(StreamParser):
    def feed(self, data: bytes) -> list[Parsed]:
        """Parse complete lines; returns one Parsed per run of samples between gaps."""
        data = self._pending + data.replace(b"\x00", b"")
        *lines, self._pending = data.split(b"\n")
        outputs = [Parsed(self.index, np.empty(0))]
        run: list[bytes] = []

        def flush():
            out = outputs[-1]
            if run:
                values = parse_ascii_samples(b"".join(run))
                out.values = np.concatenate([out.values, values]) if len(out.values) else values
                self.index += len(values)
                run.clear()

        for number, raw in enumerate(lines):
            line = raw.rstrip(b"\r")
            if not line:
                continue
            if line[:1].isdigit():
                if len(line) % ASCII_SAMPLE_LEN == 0:
                    run.append(line)
                else:
                    outputs[-1].messages.append(b"unparseable sample line: " + line)
                continue
            flush()
            stamp = _TIMESTAMP.match(line)
            if stamp:
                seconds, millis, buff = (int(g) for g in stamp.groups())
                before = self.index
                self._at_timestamp(outputs[-1], seconds * 1000 + millis, buff)
                if self.index != before:  # a gap: the next samples start a new run
                    outputs.append(Parsed(self.index, np.empty(0)))
            elif _EVENT.match(line):
                self._event(outputs[-1])
            else:
                outputs[-1].messages.append(line)
                if line in END_MESSAGES or line.startswith(b"PowerShield > Acquisition completed"):
                    outputs[-1].ended = self.ended = True
                    self.leftover = b"".join(rest + b"\n" for rest in lines[number + 1:]) + self._pending
                    self._pending = b""
                    break
        flush()
        return [o for o in outputs if len(o.values) or o.edges or o.messages or o.dropped or o.ended]


class BinaryStreamParser(StreamParser):
    def feed(self, data: bytes) -> list[Parsed]:
        data = self._pending + data
        self._pending = b""
        outputs = [Parsed(self.index, np.empty(0))]
        position = 0
        while position + 2 <= len(data):
            # samples up to the next record marker (a first nibble of 0xF)
            words = np.frombuffer(data[position : len(data) - (len(data) - position) % 2], dtype=np.uint8)
            high = words[0::2] >> 4
            markers = np.flatnonzero(high == 0xF)
            count = int(markers[0]) if len(markers) else len(high)
            if count:
                values = decode_binary(data[position : position + 2 * count])
                out = outputs[-1]
                out.values = np.concatenate([out.values, values]) if len(out.values) else values
                self.index += count
                position += 2 * count
                continue
            end = self._record_end(data, position)
            if end is None:
                break  # incomplete record: wait for more bytes
            self._record(outputs, data[position:end])
            position = end
            if self.ended:
                self.leftover = data[position:]
                return [o for o in outputs if len(o.values) or o.edges or o.messages or o.dropped or o.ended]
        self._pending = data[position:]
        return [o for o in outputs if len(o.values) or o.edges or o.messages or o.dropped or o.ended]

    @staticmethod
    def _record_end(data: bytes, start: int) -> int | None:
        kind = data[start + 1] if start + 1 < len(data) else None
        if kind is None:
            return None
        if kind in (0xF1, 0xF2):  # text records end with CR LF FF FF
            stop = data.find(b"\r\n\xff\xff", start + 2)
            return None if stop < 0 else stop + 4
        fixed = {0xF3: 9, 0xF4: 4, 0xF5: 4, 0xF6: 4, 0xF7: 6, 0xF8: 6, 0xF9: 5}.get(kind)
        if fixed is None:
            return start + 2  # unknown or misaligned marker: skip it, the next record resyncs
        return start + fixed if start + fixed <= len(data) else None

    def _record(self, outputs: list[Parsed], record: bytes) -> None:
        out = outputs[-1]
        kind = record[1]
        if kind == 0xF3 and len(record) == 9:
            stamp = int.from_bytes(record[2:6], "big") & 0x7FFFFFFF
            before = self.index
            self._at_timestamp(out, stamp, record[6])
            if self.index != before:
                outputs.append(Parsed(self.index, np.empty(0)))
        elif kind == 0xF4:
            out.messages.append(b"end")
            out.ended = self.ended = True
        elif kind in (0xF1, 0xF2):
            text = record[2:-4]
            if _EVENT.match(text):
                self._event(out)
            else:
                out.messages.append((b"error: " if kind == 0xF1 else b"") + text)
        else:
            out.messages.append(b"record " + record.hex().encode())
