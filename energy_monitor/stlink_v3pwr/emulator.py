"""A byte-faithful STLINK-V3PWR power port on a pty, sampling a virtual bench.

The shell as driver.py describes it (and where each piece was verified): replies `ack <command>
[payload]` or `error <command>` plus `Error detail: ...`, each reply closed by a blank line,
optionally behind the `stlp > ` prompt. No `htc` is needed (ST's own script never sends it),
but it is acked. The acquisition engine is the LPM01A emulator's, which this one extends:
currents at `freq` as the bench's virtual time settles, ASCII `DDDD±EE` lines up to 10 kHz or
2-byte binary samples, an event line (binary: an F2 text frame) after the sample holding each
falling edge of the event input, an F3 timestamp frame or TimeStamp line every 1000 samples,
and `end` (binary: F0 F4 FF FF) when `stop` ends it.

Fault switches: already streaming when the host opens the port (a run aborted before), the
prompt on every line, a firmware without the power monitor shell, a metadata frame (F5, 8
bytes) after every Nth timestamp frame, lost samples, the port gone after N samples (the probe
unplugged), noise, and commands refused.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..lpm01a.emulator import Lpm01aEmulator, Quirks
from .driver import ASCII_MAX_HZ, MODEL, VOLTAGE_RANGE_MV
from .stream import PROMPT

BOARD_ID = "002F00283137510E39383538"
FIRMWARE = "1.2.0"


@dataclass
class Faults:
    stale_stream: bool = False  # streaming when the host opens the port
    prompt: bool = False  # every line behind `stlp > `
    no_power_monitor: bool = False  # a firmware that refuses `power_monitor`
    metadata_every: int = 0  # binary: an F5 frame after every Nth timestamp frame
    drop_every: int = 0  # every Nth timestamp period loses its last 10 samples
    vanish_after: int = 0  # samples after which the port goes away (the probe unplugged)
    noise_rel: float = 0.002
    refuse: str = ""  # commands (comma-separated names) answered with an error

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        return cls(**data)


class StlinkV3pwrEmulator(Lpm01aEmulator):
    voltage_range_mv = VOLTAGE_RANGE_MV
    def __init__(self, bench, *, faults: Faults | None = None, seed: int = 0):
        self.faults = faults or Faults()
        quirks = Quirks(stale_stream=self.faults.stale_stream, drop_every=self.faults.drop_every,
                        noise_rel=self.faults.noise_rel, refuse=self.faults.refuse)
        super().__init__(bench, quirks=quirks, seed=seed, board_id=BOARD_ID)
        self.name = "v3pwr-emulator"
        self._timestamps = 0
        self._gone = False

    def streaming(self) -> bool:
        return self.acquiring and not self._gone

    # -- the shell -----------------------------------------------------------------------------
    def _line_prefix(self) -> bytes:
        return PROMPT if self.faults.prompt else b""

    def _say(self, text: str) -> None:
        self.port.write(self._line_prefix() + text.encode("latin-1") + b"\r\n")

    def _ack(self, text: str, payload: str = "") -> None:
        super()._ack(text, payload)
        self.port.write(b"\r\n")

    def _error(self, text: str, detail: str) -> None:
        super()._error(text, detail)
        self.port.write(b"\r\n")

    def _command(self, text: str) -> None:
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        if not words or self._gone:
            return
        name, args = words[0], words[1:]
        if self.acquiring and name != "stop":
            return self._error(text, "acquisition running, send stop first")
        if name in self.faults.refuse.split(",") or (name == "power_monitor" and self.faults.no_power_monitor):
            return self._error(text, "command failed" if name != "power_monitor" else "unknown command")
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return self._error(text, "unknown command")
        self.host_control = True  # the V3PWR's shell needs no `htc`
        try:
            handler(text, args)
        except (ValueError, IndexError) as exc:
            self._error(text, f"bad argument: {exc}")

    def _cmd_powershield(self, text, args):
        self._say(f"ack {MODEL} {self.board_id}")
        self.port.write(b"\r\n")

    def _cmd_version(self, text, args):
        self._ack(text, f": {FIRMWARE}")

    def _cmd_power_monitor(self, text, args):
        self._ack(text)

    def _cmd_whoami(self, text, args):
        self._ack(text, self.board_id)

    def _cmd_temp(self, text, args):
        self._ack(text, "25.0")

    def _cmd_format(self, text, args):
        if args[0] not in ("ascii_dec", "bin_hex"):
            raise ValueError(args[0])
        self.format = "ascii_dec" if args[0] == "ascii_dec" else "bin_hexa"  # the engine's name for binary
        self._ack(text)

    def _cmd_start(self, text, args):
        if self.format == "ascii_dec" and self.freq_hz > ASCII_MAX_HZ:
            raise ValueError(f"ascii_dec up to {ASCII_MAX_HZ // 1000} kHz")
        self._ack(text)
        self._timestamps = 0
        self._begin_acquisition()

    def _cmd_stop(self, text, args):
        if self.acquiring:
            self._end_acquisition()
        self._ack(text)

    # -- the acquisition -----------------------------------------------------------------------
    def _end_acquisition(self) -> None:
        self.produce(final=True)
        self.acquiring = False
        self.port.write(b"\xf0\xf4\xff\xff" if self.format == "bin_hexa" else self._line_prefix() + b"end\r\n")

    def produce(self, final: bool = False) -> None:
        super().produce(final)
        if self.faults.vanish_after and self._samples >= self.faults.vanish_after and not self._gone:
            self._gone = True  # the probe unplugged: its port closes under the host
            self._halt.set()
            self.port.close()

    def _event(self) -> bytes:
        number = self.event_counter
        self.event_counter += 1
        text = f"event {number:02d} fal".encode()
        return b"\xf0\xf2" + text + b"\r\n\xff\xff" if self.format == "bin_hexa" else text + b"\r\n"

    def _timestamp(self, samples: int) -> bytes:
        frame = super()._timestamp(samples)
        self._timestamps += 1
        every = self.faults.metadata_every
        if self.format == "bin_hexa" and every and self._timestamps % every == 0:
            frame += b"\xf0\xf5\x00\x00\x01\x90\xff\xff"  # an 8-byte F5 frame (a temperature, say)
        return frame

