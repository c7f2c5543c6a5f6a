"""STLINK-V3PWR driver: its PowerShield-like shell on the power virtual COM port, and the stream.

What each step rests on (public sources; ST's manual UM3097 was not at hand):
- ST's script (x-cube-n6-ai-power-measurement, Utilities/pwr_scripts/stlinkpwr_cmd.py): commands
  end with CR LF and every reply ends with a blank line (`\\r\\n\\r\\n`); `powershield` answers
  `ack STLINK-V3PWR <id>`, `version` and `power_monitor` are acked (a firmware that refuses
  `power_monitor` is one the script sends back to be updated); `volt <mV>m` takes 1600..3600 mV;
  `freq` takes 1 Hz..100 kHz in 1-2-5 steps; `format ascii_dec` only up to 10 kHz, `bin_hex`
  above; `acqtime 0|inf` streams until `stop`; `pwr on|off` is acked `ack pwr on|off`; `start`'s
  reply is followed by the samples, which are currents.
- The official MLCommons runner (power_manager_stlinkv3pwr.py, with its LPM01A base): `htc`,
  `trigdelay 0`, `trigsrc sw`, `eventsrc d7 fal` (the event input; each edge an `event NN ris|fal`
  line in the ASCII stream), `pwr on nostatus`, replies that start with `ack` or `err`, lines
  that may carry the `stlp > ` prompt, `end` when the acquisition ends after `stop`.

The samples are currents; energy per sample is current x the set voltage / rate, which the
probe regulates. `volt get` (the LPM01A's read-back) is asked for the voltage it reports, and
recorded when it answers.
"""

from __future__ import annotations

import queue
import re
import threading
import time

import serial

from ..base import Capabilities
from ..errors import MonitorFirmwareTooOld, MonitorNotResponding, MonitorRefused
from ..lpm01a.codec import frequency_argument, millivolts_argument
from ..lpm01a.driver import Lpm01a
from .stream import PROMPT, BinaryParser, PromptedAsciiParser

MODEL = "STLINK-V3PWR"
RATES_HZ = (100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20, 10, 5, 2, 1)
VOLTAGE_RANGE_MV = (1600, 3600)
ASCII_MAX_HZ = 10_000
USB_ID = (0x0483, 0x3757)  # shared by the probe's debug, target-UART and power interfaces

_PROMPT = PROMPT.decode()
_NUMBER = re.compile(r"(\d+(?:\.\d+)*)")


def strip_prompt(line: str) -> str:
    return line[len(_PROMPT):] if line.startswith(_PROMPT) else line


class StlinkV3pwr(Lpm01a):
    """The LPM01A driver's port handling, reader thread, stop and chunks (ST's shells share
    them), with the V3PWR's replies, identity, range and stream formats."""

    capabilities = Capabilities(
        model=MODEL,
        can_set_voltage=True,
        voltage_range_mv=VOLTAGE_RANGE_MV,
        can_switch_power=True,
        sample_rates_hz=RATES_HZ,
        output="energy",  # from its currents and the set voltage, as the LPM01A's above 10 kHz
        timestamp_input="event input (eventsrc d7, falling edge)",
    )

    def __init__(self, url: str, *, ack_timeout_s: float = 2.0, volt_timeout_s: float = 10.0, log=None):
        super().__init__(url, ack_timeout_s=ack_timeout_s, volt_timeout_s=volt_timeout_s, log=log)
        self._output = "current"  # its samples are currents: _deliver makes energy with the set voltage
        self._awaiting_blank = False  # `ack start` seen: the blank line after it opens the stream

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> dict:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=115200, timeout=0.05, exclusive=True)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise MonitorNotResponding(f"cannot open {MODEL} port {self.url}: {str(exc).splitlines()[0]}") from None
        # a run cut short may have left it streaming: stop it and forget what is in flight
        self._write("stop")
        self._drain(0.3)
        self._reader = threading.Thread(target=self._read_loop, name="v3pwr-reader", daemon=True)
        self._reader.start()
        board_id = self._identify()
        firmware = self.command("version")
        try:
            self.command("power_monitor")
        except MonitorRefused:
            raise MonitorFirmwareTooOld(
                f"{MODEL} at {self.url} (firmware {firmware!r}) refused power_monitor: its firmware has no power "
                "monitor shell; update it with STM32CubeProgrammer") from None
        self._optional("htc")
        match = _NUMBER.search(firmware)
        self.identity = {"model": MODEL, "serial": board_id, "firmware": match.group(1) if match else firmware,
                         "port": self.url}
        return self.identity

    def _identify(self) -> str:
        """`powershield` must be answered as a V3PWR: an LPM01A answers `ack powershield <id>`."""
        self._write("powershield")
        lpm01a_ack = "PowerShield > ack powershield"  # the LPM01A's prompt and ack
        reply = self._reply("powershield", ("ack STLINK-V3PWR", lpm01a_ack, "err"), self.ack_timeout_s)
        head, _, rest = reply.partition("\n")
        if not head.startswith("ack STLINK-V3PWR"):
            kind = "an LPM01A (use --monitor lpm01a:PORT)" if head.startswith(lpm01a_ack) else "no V3PWR"
            raise MonitorRefused(f"the device at {self.url} answered powershield with {head!r}: {kind}")
        words = (head[len("ack STLINK-V3PWR"):] + " " + rest).split()
        return words[0] if words else ""

    # -- the shell -----------------------------------------------------------------------------
    def command(self, text: str, timeout_s: float | None = None) -> str:
        """Send one command; return what follows its ack (further lines joined by newlines), or
        raise with what the error said. An ack echoes the command's name at least (`pwr on
        nostatus` may be acked `ack pwr on`); an error need not echo anything."""
        self._write(text)
        name = text.split()[0]
        reply = self._reply(text, (f"ack {name}", "err"), self.ack_timeout_s if timeout_s is None else timeout_s)
        echo = f"ack {text}" if reply.startswith(f"ack {text}") else f"ack {name}"
        return reply[len(echo):].strip(" :\n")

    def _reply(self, text: str, heads: tuple[str, ...], timeout_s: float) -> str:
        """The reply whose first line starts with one of `heads`, to its blank line; earlier lines
        (stale output, duplicate acks) are skipped. An error reply raises MonitorRefused."""
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        reply: list[str] | None = None
        while True:
            try:
                line = self._replies.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                if reply is not None:  # the blank line never came: take what there is
                    break
                got = f"received {seen[-3:]!r}" if seen else "received nothing"
                raise MonitorNotResponding(
                    f"{MODEL} at {self.url} did not acknowledge {text!r} within {timeout_s:g} s ({got}); check that "
                    "this is the probe's power port (its 'STLink Virtual COM Port PWR'), not the target's") from None
            if reply is None:
                if line.startswith(heads):
                    reply = [line]
                elif line:
                    seen.append(line)
            elif line:
                reply.append(line)
            else:
                break
        if reply[0].startswith("err"):
            raise MonitorRefused(f"{MODEL} at {self.url} refused {text!r}: {' '.join(reply)}")
        return "\n".join(reply)

    def _optional(self, text: str) -> None:
        """A command the MLCommons runner sends without checking its ack and ST's scripts never
        send (`htc`, `trigdelay`, `output`): a refusal leaves the probe as it was, which serves."""
        try:
            self.command(text)
        except MonitorRefused as exc:
            self.log("!", f"{text!r} refused, not needed: {exc}")

    # -- supply --------------------------------------------------------------------------------
    def set_voltage(self, millivolts: int) -> None:
        low, high = VOLTAGE_RANGE_MV
        if not low <= millivolts <= high:
            raise MonitorRefused(f"{MODEL} supplies {low}..{high} mV, not {millivolts} mV")
        self.command(f"volt {millivolts_argument(millivolts)}", timeout_s=self.volt_timeout_s)
        self.voltage_mv = millivolts
        try:
            reported = self.command("volt get")
        except MonitorRefused:  # not every firmware reads it back; the set value stands
            return
        match = re.search(r"(\d+(?:\.\d+)?)\s*(m?)", reported)
        if match:
            self.identity["voltage_read_back_mv"] = float(match.group(1)) * (1 if match.group(2) else 1000)

    # -- acquisition ---------------------------------------------------------------------------
    def start(self, rate_hz: float) -> None:
        if rate_hz not in RATES_HZ:
            raise MonitorRefused(f"{MODEL} samples at {', '.join(map(str, RATES_HZ))} Hz, not {rate_hz:g}")
        if self.voltage_mv is None:
            raise MonitorRefused("set the supply voltage before starting an acquisition")
        ascii_stream = rate_hz <= ASCII_MAX_HZ
        self._optional("output current")  # without `output` it streams current, as ST's script reads it
        self.command("acqtime 0")
        self._optional("trigdelay 0")
        for text in ("trigsrc sw", "eventsrc d7 fal", f"format {'ascii_dec' if ascii_stream else 'bin_hex'}",
                     f"freq {frequency_argument(rate_hz)}"):
            self.command(text)
        self.rate_hz = rate_hz
        self._parser = (PromptedAsciiParser if ascii_stream else BinaryParser)(rate_hz)
        self._streaming = True
        self.command("start")

    # -- the reader thread ---------------------------------------------------------------------
    def _shell_line(self, raw: bytes) -> None:
        """Each line, and each reply's closing blank line, to the reply queue; the blank line after
        `ack start` opens the stream."""
        line = strip_prompt(raw.decode("latin-1")).strip()
        if line:
            self.log("<", line)
        self._replies.put(line)
        if self._streaming and line.startswith("ack start"):
            self._awaiting_blank = True
        elif self._awaiting_blank and not line:
            self._awaiting_blank, self._stream_open = False, True

def answers_powershield(url: str, timeout_s: float = 1.0) -> str | None:
    """The probe id if the port answers `powershield` as a V3PWR's power port does, else None."""
    try:
        with serial.serial_for_url(url, baudrate=115200, timeout=0.05, exclusive=True) as port:
            port.write(b"powershield\r\n")
            deadline, received = time.monotonic() + timeout_s, b""
            while time.monotonic() < deadline and b"\r\n\r\n" not in received:
                received += port.read(256)
    except (serial.SerialException, ValueError, OSError):
        return None
    for line in received.decode("latin-1").splitlines():
        line = strip_prompt(line.strip())
        if line.startswith(f"ack {MODEL}"):
            return line[len(f"ack {MODEL}"):].strip()
    return None
