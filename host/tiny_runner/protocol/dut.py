"""The DUT protocol client (docs: tiny_protocol.md §3), byte-exact, with typed replies.

Every command is ASCII text plus one `%`, never CR/LF, at most 80 characters; the client waits
for the `m-ready` line after each one. Every `e-` reply, and the two error lines the reference
firmware prints without the `e-` prefix, raise DutErrorReply carrying the DUT's own text.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..errors import DutErrorReply, DutTimeout, FirmwareMismatch, ProtocolError
from ..printable import printable
from .link import Link

COMMAND_BUDGET = 80  # characters the reference parser keeps (tiny_protocol.md §3.1)
MAX_DB_CHUNK = (COMMAND_BUDGET - len("db ")) // 2  # 38 payload bytes per `db` command
LAP_WRAP = 1 << 32  # m-lap-us is a 32-bit microsecond counter

READY = "m-ready"
MODES = ("performance", "energy")

_RESULTS = re.compile(r"^m-results-\[([^\]]*)\]$")
_LAP = re.compile(r"^m-lap-us-(\d+)$")
_NAME = re.compile(r"^m-name-([^-\[]+)-\[(.*)\]$")
_PROFILE = re.compile(r"^m-profile-\[(.*)\]$")
_MODEL = re.compile(r"^m-model-\[(.*)\]$")
_MODE = re.compile(r"^m-timestamp-mode-(\w+)$")
# Error lines the reference firmware prints without the e- prefix (tiny_protocol.md §3.3, §3.4).
_UNPREFIXED_ERRORS = (
    re.compile(r"^Supplied buffer size -?\d+ exceeds maximum of \d+$"),
    re.compile(r"^Input db has \d+ elemented, expected \d+$"),
)
_REBOOT_MARKERS = ("m-init-done",)
# What the tail of an earlier command's reply carries: a DUT still finishing an `infer` (or a
# download) that a killed host started answers that before it reads the next command.
_STALE = re.compile(
    r"^(m-lap-us-\d+|m-results-\[[^\]]*\]|m-infer-done|m-infer-start-\d+|m-warmup-start-\d+|m-warmup-done"
    r"|m-load-done|m-\[Expecting \d+ bytes\]|m-buffer-[0-9a-f-]*|)$"
)
NAME_ATTEMPT_S = 2.0  # one `name%` attempt; some hosts (QEMU, USB bridges) hold back the first bytes
_NAME_ATTEMPT_MAX_S = 8.0  # a silent DUT is asked less often, so a busy one does not queue many
_FAST_ATTEMPTS = 3  # attempts at NAME_ATTEMPT_S before the wait between them grows
_SETTLE_S = 0.25  # after the name: how long the line must be quiet (answers to repeated `name%`)


@dataclass
class Banner:
    lines: list[str]
    mode: str | None  # "performance", "energy", or None if the banner carried no mode line


@dataclass
class Greeting:
    """How the DUT came to answer `name%`."""

    vendor: str
    attempts: int  # `name%` commands sent
    stale: list[str] = field(default_factory=list)  # lines of an earlier command's reply, skipped
    flushed: bool = False  # a lone `%` was sent to clear stray bytes from the DUT's command buffer


@dataclass
class InferReply:
    iterations: int
    warmup: int
    lap_us: tuple[int, int] | None  # the two timestamps (performance firmware only)
    results: list[float]
    results_line: str
    lines: list[str] = field(default_factory=list)
    # when `m-infer-start-N` and `m-infer-done` came in (time.monotonic()), for monitors with no edge input
    arrived: dict[str, float] = field(default_factory=dict)

    @property
    def elapsed_us(self) -> int | None:
        """t1 - t0, correct across one wrap of the 32-bit counter."""
        if self.lap_us is None:
            return None
        t0, t1 = self.lap_us
        return (t1 - t0) % LAP_WRAP


def parse_results(line: str) -> list[float]:
    """Values of an `m-results-[...]` line; empty items (the VWW trailing comma) are skipped."""
    match = _RESULTS.match(line)
    if not match:
        raise ProtocolError(f"not a results line: {line!r}")
    values = []
    for item in match.group(1).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(float(item))
        except ValueError:
            raise ProtocolError(f"results line has a non-numeric value {item!r}: {line!r}") from None
    return values


def _is_banner(lines: list[str]) -> bool:
    return any(line.strip("\r") in _REBOOT_MARKERS or _MODE.match(line.strip("\r")) for line in lines)


def mode_from_banner(lines: list[str]) -> str | None:
    for line in lines:
        match = _MODE.match(line)
        if match:
            return match.group(1)
    return None


class DutClient:
    """Talks to one DUT over a Link. Timeouts are host seconds; results come from DUT clocks."""

    def __init__(self, link: Link, *, db_chunk_bytes: int = MAX_DB_CHUNK, command_timeout_s: float = 5.0):
        if not 1 <= db_chunk_bytes <= MAX_DB_CHUNK:
            raise ValueError(f"db chunk must be 1..{MAX_DB_CHUNK} bytes, got {db_chunk_bytes}")
        self.link = link
        self.db_chunk_bytes = db_chunk_bytes
        self.command_timeout_s = command_timeout_s
        self.answered = False  # until the DUT first answers, a banner means it is still booting
        self.late_banner: Banner | None = None
        self.skipped: list[str] = []  # lines of an earlier command's reply, met before the first answer
        # False: neither banner nor `timestamp%` told the mode; the first `infer` reply does (lap lines or not)
        self.firmware_mode_known = True
        self.on_mode_learnt = None  # called with the mode the first `infer` reply showed
        self.arrivals: list[float | None] = []  # when each line of the last reply came in (time.monotonic())

    # -- the basic exchange ----------------------------------------------------------------
    def read_banner(self, timeout_s: float, first_line_s: float | None = None) -> Banner | None:
        """Collect the boot banner up to its `m-ready`; None if no line came within first_line_s
        (default: timeout_s). Once a banner starts, it has timeout_s in all to finish."""
        start = time.monotonic()
        deadline = start + timeout_s
        lines: list[str] = []
        while True:
            first_deadline = start + min(first_line_s, timeout_s) if first_line_s is not None else deadline
            line = self.link.read_line(deadline if lines else first_deadline)
            if line is None:
                if lines:
                    raise DutTimeout(
                        f"{self.link.url}: boot banner started ({lines[-1]!r}) but no m-ready within {timeout_s:g} s"
                    )
                return None
            if line == READY:
                if lines and not _is_banner(lines) and all(_STALE.match(line) for line in lines):
                    self.skipped += lines  # not a boot: the end of an `infer` a killed host started
                    return None
                return Banner(lines, mode_from_banner(lines))
            lines.append(line)

    def transact(self, command: str, timeout_s: float | None = None) -> list[str]:
        """Send one command, return the reply lines before `m-ready`; raise on any error line."""
        _check_command(command)
        stale = self.link.drain()  # late or unasked output (kept in the wire log) must not pose as a reply
        if stale and _is_banner(stale.decode("latin-1").splitlines()):
            self._booted(stale.decode("latin-1").splitlines(), f"before {command + '%'!r}")
        timeout_s = self.command_timeout_s if timeout_s is None else timeout_s
        self.link.send(command.encode("ascii") + b"%")
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        self.arrivals = []
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                got = lines + ([self.link.partial().decode("latin-1")] if self.link.partial() else [])
                heard = f"received {got!r}" if got else "received nothing"
                raise DutTimeout(
                    f"no reply from {self.link.url} to {command + '%'!r} within {timeout_s:g} s ({heard}); "
                    "check the port, the baud rate and that the DUT is powered and running the benchmark firmware"
                )
            if line == READY:
                break
            lines.append(line)
            self.arrivals.append(getattr(self.link, "line_arrived", None))
        if _is_banner(lines):
            self._booted(lines, f"instead of answering {command + '%'!r}")
            raise DutTimeout(f"{self.link.url} was still booting and ignored {command + '%'!r}")
        self._raise_on_error(command, lines)
        self.answered = True
        return lines

    def _booted(self, lines: list[str], when: str) -> None:
        """A boot banner outside read_banner: the tail of a slow boot, or a reset mid-run."""
        if self.answered:
            raise ProtocolError(
                f"{self.link.url}: the DUT rebooted (a boot banner arrived {when}); check its power and reset lines"
            )
        lines = [line.strip("\r") for line in lines if line.strip("\r") and line.strip("\r") != READY]
        self.late_banner = Banner(lines, mode_from_banner(lines))

    def _raise_on_error(self, command: str, lines: list[str]) -> None:
        for line in lines:
            if _is_error(line):
                raise DutErrorReply(
                    f"the DUT rejected {command + '%'!r}: {printable(line)}", command=command, reply=line
                )

    # -- the first contact ---------------------------------------------------------------------
    def greet(self, budget_s: float, note=None) -> Greeting:
        """Ask `name%` until the DUT answers with its name, for at most budget_s.

        Three things a bench does to the first command are taken in stride: a DUT still finishing
        an earlier command (its reply tail, up to its `m-ready`, is skipped, and the `name%` it
        has queued is then answered), stray bytes in the DUT's command buffer (the first error
        reply gets one lone `%` to flush the buffer, then `name%` again) and a DUT that did not
        hear the command (asked again, less often as the silence goes on)."""
        note = note or (lambda message: None)
        deadline = time.monotonic() + budget_s
        greeting = Greeting(vendor="", attempts=0, stale=self.skipped)
        wait_s, heard = NAME_ATTEMPT_S, b""
        while True:
            greeting.attempts += 1
            vendor = self._ask_name(min(deadline, time.monotonic() + wait_s), greeting, note)
            if vendor is not None:
                greeting.vendor = vendor
                if greeting.attempts > 1 or greeting.flushed:
                    self._settle()
                self.answered = True
                return greeting
            heard = self.link.partial() or heard
            if time.monotonic() >= deadline:
                got = f"received {printable(heard)!r}" if heard else "received nothing"
                if greeting.stale:
                    got += f" after the end of an earlier command's reply ({len(greeting.stale)} lines)"
                raise DutTimeout(
                    f"no reply from {self.link.url} to 'name%' within {budget_s:g} s ({greeting.attempts} attempts, "
                    f"{got}); that is long enough for an inference an earlier run left running to finish: check "
                    "the port, the baud rate and that the DUT is powered and running the benchmark firmware"
                )
            if greeting.attempts >= _FAST_ATTEMPTS:
                wait_s = min(2 * wait_s, _NAME_ATTEMPT_MAX_S)
            note(f"no answer to name% (attempt {greeting.attempts}); asking again "
                 f"(up to {max(0.0, deadline - time.monotonic()):.0f} s more: the DUT may still be busy)")

    def _ask_name(self, attempt_deadline: float, greeting: Greeting, note) -> str | None:
        """One `name%`: the vendor, or None if no name came by attempt_deadline (or the DUT
        asked to be asked again: it was booting, or it got a flush)."""
        stale = self.link.drain()
        if stale and _is_banner(stale.decode("latin-1").splitlines()):
            self._booted(stale.decode("latin-1").splitlines(), "before 'name%'")
        try:
            self.link.send(b"name%")
        except DutTimeout as exc:  # a pass-through board still busy with the earlier command
            note(f"name% not passed on ({exc.message})")
            return None
        span = attempt_deadline - time.monotonic()
        lines: list[str] = []
        while True:
            line = self.link.read_line(attempt_deadline)
            if line is None:
                return None
            if line != READY:
                lines.append(line)
                continue
            vendor = next((m.group(2) for m in map(_NAME.match, lines) if m), None)
            if vendor is not None:
                return vendor
            if _is_banner(lines):
                self._booted(lines, "instead of answering 'name%'")
                return None
            errors = [line for line in lines if _is_error(line)]
            if errors and not greeting.flushed:
                note(f"name% answered with {printable(errors[0])!r}: stray bytes in the DUT's command buffer; "
                     "flushing it with a lone % and asking again")
                self._flush()
                greeting.flushed = True
                return None
            self._raise_on_error("name", lines)
            if not all(_STALE.match(line) for line in lines):
                raise ProtocolError(
                    f"{self.link.url}: no m-name-... line in the reply to 'name%': {printable(repr(lines))}"
                )
            # the end of an earlier command; this `name%` is still queued behind it
            greeting.stale += lines
            note(f"skipped the end of an earlier command's reply: {printable(repr(lines))}")
            lines = []
            attempt_deadline = time.monotonic() + span

    def _flush(self) -> None:
        """A lone `%` ends whatever stray characters the DUT's command buffer holds (the
        official runner does the same); its reply, whatever it is, is read and dropped."""
        self.link.send(b"%")
        deadline = time.monotonic() + NAME_ATTEMPT_S
        while (line := self.link.read_line(deadline)) is not None and line != READY:
            pass

    def _settle(self) -> None:
        """Answers to `name%` commands sent while the DUT was busy may still come: let them."""
        leftover = self.link.drain(quiet_s=_SETTLE_S).decode("latin-1").splitlines()
        if _is_banner(leftover):
            self._booted(leftover, "after answering 'name%'")

    # -- typed commands ---------------------------------------------------------------------
    def name(self, timeout_s: float | None = None) -> str:
        """The vendor string of `m-name-dut-[<vendor>]`."""
        for line in self.transact("name", timeout_s):
            match = _NAME.match(line)
            if match:
                return match.group(2)
        raise ProtocolError(f"{self.link.url}: no m-name-... line in the reply to 'name%'")

    def profile(self) -> tuple[str, str]:
        """(firmware profile string, model id such as 'kws01')."""
        lines = self.transact("profile")
        profile = next((m.group(1) for m in map(_PROFILE.match, lines) if m), None)
        model = next((m.group(1) for m in map(_MODEL.match, lines) if m), None)
        if profile is None or model is None:
            raise ProtocolError(f"{self.link.url}: 'profile%' reply lacks m-profile-[...] or m-model-[...]: {lines!r}")
        return profile, model

    def firmware_mode(self) -> str | None:
        """Ask the DUT which timestamp mode it was built for: a `timestamp` command prints
        m-lap-us-N in performance firmware and nothing (a GPIO pulse) in energy firmware.
        None if the firmware has no `timestamp` command (the MLCommons DUT API need not have
        one): then the first `infer` reply tells, and on_mode_learnt hears it."""
        try:
            lines = self.transact("timestamp")
        except DutErrorReply as exc:
            if not exc.reply.startswith("e-[Unknown command"):
                raise
            self.firmware_mode_known = False
            return None
        return "performance" if any(_LAP.match(line) for line in lines) else "energy"

    def load(self, data: bytes) -> None:
        """Download one input: `db load N`, then `db <hex>` chunks, checking each reply."""
        if not data:
            raise ValueError("cannot load an empty input")
        size = len(data)
        lines = self.transact(f"db load {size}")
        if f"m-[Expecting {size} bytes]" not in lines:
            raise ProtocolError(f"the DUT did not confirm 'db load {size}%' (replied {lines!r})")
        step = self.db_chunk_bytes
        for offset in range(0, size, step):
            chunk = data[offset : offset + step]
            lines = self.transact("db " + chunk.hex())
            last = offset + step >= size
            if last and "m-load-done" not in lines:
                raise ProtocolError(
                    f"the DUT did not report m-load-done after all {size} bytes (replied {lines!r}); bytes were lost"
                )
            if not last and "m-load-done" in lines:
                raise ProtocolError(
                    f"the DUT reported m-load-done after {offset + len(chunk)} of {size} bytes; the link corrupts data"
                )

    def infer(self, iterations: int, warmup: int, timeout_s: float, expect_timestamps: bool = True) -> InferReply:
        """`infer N W`: check the reply sequence of §3.4 and return timestamps and results."""
        if iterations < 1 or warmup < 0:
            raise ValueError("iterations must be >= 1 and warmup >= 0")
        command = f"infer {iterations} {warmup}"
        lines = self.transact(command, timeout_s)
        laps = [int(m.group(1)) for m in map(_LAP.match, lines) if m]
        if not self.firmware_mode_known:
            self.firmware_mode_known = True
            if self.on_mode_learnt:
                self.on_mode_learnt("performance" if laps else "energy")
        results = [line for line in lines if line.startswith("m-results-")]
        expected_start = f"m-infer-start-{iterations}"
        if expected_start not in lines or "m-infer-done" not in lines:
            raise ProtocolError(f"{command + '%'!r}: reply lacks {expected_start} / m-infer-done: {lines!r}")
        if len(results) != 1:
            raise ProtocolError(f"{command + '%'!r}: expected one m-results line, got {len(results)}: {lines!r}")
        if expect_timestamps and not laps:
            raise FirmwareMismatch(
                f"{command + '%'!r} printed no m-lap-us timestamps: the DUT runs energy-mode firmware, "
                "but this is a performance run; flash the performance build"
            )
        if expect_timestamps and len(laps) != 2:
            raise ProtocolError(
                f"{command + '%'!r}: expected two m-lap-us timestamps around the timed region, got {len(laps)}"
            )
        if not expect_timestamps and laps:
            raise FirmwareMismatch(
                "the DUT printed m-lap-us timestamps: it runs performance-mode firmware, but this is an energy run"
            )
        arrived = {key: self.arrivals[lines.index(line)] for key, line in
                   (("start", expected_start), ("done", "m-infer-done"))}
        return InferReply(
            iterations=iterations,
            warmup=warmup,
            lap_us=(laps[0], laps[1]) if len(laps) == 2 else None,
            results=parse_results(results[0]),
            results_line=results[0],
            lines=lines,
            arrived={key: value for key, value in arrived.items() if value is not None},
        )

    def results(self) -> list[float]:
        lines = [line for line in self.transact("results") if line.startswith("m-results-")]
        if len(lines) != 1:
            raise ProtocolError(f"'results%' returned {len(lines)} results lines")
        return parse_results(lines[0])


def _is_error(line: str) -> bool:
    return line.startswith("e-") or any(p.match(line) for p in _UNPREFIXED_ERRORS)


def _check_command(command: str) -> None:
    """The host never sends what the reference parser would mangle."""
    if not command.strip():
        raise ValueError("refusing to send an empty command (the reference parser dereferences NULL)")
    if any(c in command for c in "%\r\n"):
        raise ValueError(f"command contains %, CR or LF: {command!r}")
    if len(command) > COMMAND_BUDGET:
        raise ValueError(f"command is {len(command)} characters; the DUT keeps only {COMMAND_BUDGET}")
    if not command.isascii():
        raise ValueError(f"command is not ASCII: {command!r}")
