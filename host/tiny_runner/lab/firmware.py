"""The MLPerf Tiny reference firmware, emulated: the DUT side of tiny_protocol.md §3.

Byte for byte what the reference ports do: the boot banner, the 80-character command buffer,
every command with its exact replies and error strings, the result formats of §3.6 (with the
KWS integer digits and the VWW trailing comma) and the input conversions of §3.7. Where the
reference code has undefined behaviour (a bare `%`, writes past the buffer) this emulation
picks the safe reading and says so in a comment.

The firmware is I/O-agnostic: it prints through `uart.write(bytes)`, spends virtual time
through `clock.spend(us)`, and drives the timestamp pin through `pin(level, time_us)`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..benchmarks import get_benchmark
from ..benchmarks.reference_port import Quantization

CMD_SIZE = 80  # EE_CMD_SIZE
FW_VERSION = "ULPMark for tinyML Firmware V0.0.1"
DEVICE_NAME = "dut"
TIMER_WRAP = 1 << 32
# The reference firmware's `help` text, line for line, with its spelling and its W=0 (the code's
# default warm-up is 10).
HELP_LINES = (
    FW_VERSION,
    "",
    "help         : Print this information",
    "name         : Print the name of the device",
    "timestsamp   : Generate a timetsamp",
    "db SUBCMD    : Manipulate a generic byte buffer",
    "  load N     : Allocate N bytes and set load counter",
    "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes",
    "  print [N=16] [offset=0]",
    "             : Print N bytes at offset as hex",
    "infer N [W=0]: Load input, execute N inferences after W warmup loops",
    "results      : Return the result fp32 vector",
)
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?\d+)")
# The reference ports hold the timestamp pin low for a 100,000-iteration NOP loop (order of ms).
DEFAULT_PULSE_HOLD_US = 2_000


class Model(Protocol):
    input_quant: Quantization
    output_quant: Quantization

    def run(self, data: np.ndarray) -> np.ndarray: ...


class Uart(Protocol):
    def write(self, data: bytes) -> None: ...


class Clock(Protocol):
    def now_us(self) -> int: ...

    def now_exact_us(self) -> float: ...

    def spend(self, us: float, activity: str) -> None: ...


@dataclass
class Faults:
    """Switches that make the DUT misbehave the way real ones do, for tests and drills."""

    error_reply: dict[str, str] = field(default_factory=dict)  # command -> text of an e-[...] reply
    drop_rx_every: int = 0  # lose every Nth received byte (a noisy UART)
    silent_after: int = -1  # stop answering after this many commands (-1: never)
    no_banner: bool = False  # boot without printing anything
    abort_on_infer: bool = False  # the process aborts inside an inference, as TFLM can on a bad model
    extra_pulse: bool = False  # energy build: a stray timestamp pulse in the middle of the timed region
    skip_pulse: int = 0  # energy build: the Nth `infer` (counting from 1) never makes its closing pulse
    # at power-on the DUT is already running, this many (virtual) seconds from the end of an
    # `infer` a killed host started: no banner, then that reply's tail
    busy_on_connect: float = 0.0
    stray_rx: str = ""  # characters already in the command buffer at power-on (line noise, a killed host)

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        return cls(**data)


class ReferenceFirmware:
    def __init__(
        self,
        *,
        benchmark_id: str,
        model: Model,
        inference_us: float,
        mode: str,
        uart: Uart,
        clock: Clock,
        pin: Callable[[int, int], None] | None = None,
        vendor: str = "unspecified",
        boot_us: int = 0,
        pulse_hold_us: int = DEFAULT_PULSE_HOLD_US,
        faults: Faults | None = None,
    ):
        if mode not in ("performance", "energy"):
            raise ValueError(f"firmware mode must be performance or energy, not {mode!r}")
        self.benchmark_id = benchmark_id
        # its buffer size, tensor sizes, input conversion and result format (tiny_protocol.md §3.6-3.7)
        self.benchmark = get_benchmark(benchmark_id)
        self.model = model
        self.inference_us = inference_us
        self.mode = mode
        self.uart = uart
        self.clock = clock
        self.pin = pin or (lambda level, t_us: None)
        self.vendor = vendor
        self.boot_us = boot_us
        self.pulse_hold_us = pulse_hold_us
        self.faults = faults or Faults()

        self.max_db = self.benchmark.db_capacity
        self._cmd = bytearray()
        self._parser_enabled = False
        self._rx_count = 0
        self._commands_seen = 0
        self._buffer = bytearray(self.max_db)
        self._buff_size = 0
        self._buff_pos = 0
        self._input = np.zeros(self.benchmark.input_elements, dtype=np.int8)
        self._input_floats = np.zeros(self.benchmark.input_elements, dtype=np.float32)
        self._output: np.ndarray | None = None
        self.inferences_run = 0  # how many times the model was really executed
        self._infers = 0

    # -- output helpers ---------------------------------------------------------------------
    def _print(self, text: str) -> None:
        self.uart.write(text.encode("ascii"))

    def _line(self, text: str) -> None:
        self._print(text + "\r\n")

    # -- boot -------------------------------------------------------------------------------
    def boot(self) -> None:
        """ee_benchmark_initialize(): serial init, timestamp init, model init, ready."""
        self._parser_enabled = False
        self._cmd[:] = self.faults.stray_rx.encode("latin-1")[:CMD_SIZE]
        self._rx_count = self._infers = 0  # fault counters count from power-on
        if self.faults.busy_on_connect > 0:
            self._finish_stale_infer()
            return
        if self.faults.no_banner:
            self.clock.spend(self.boot_us, "boot")
            self._parser_enabled = True
            return
        self._line(f"m-timestamp-mode-{self.mode}")
        self._timestamp()  # leaves the pin idle-high in energy mode (one extra edge)
        self.clock.spend(self.boot_us, "boot")
        for text in self.benchmark.boot_lines:
            self._line(text)
        self._line("m-init-done")
        self._parser_enabled = True
        self._line("m-ready")

    def _finish_stale_infer(self) -> None:
        """The rest of an inference the host no longer waits for, then the end of its reply."""
        self._parser_enabled = True
        self.clock.spend(self.faults.busy_on_connect * 1e6, "compute")
        self._timestamp()
        self._line("m-infer-done")
        self._results()
        self._line("m-ready")

    # -- input ------------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """ee_serial_callback() for each byte: collect up to '%', keeping the first 80 chars."""
        for byte in data:
            self._rx_count += 1
            if self.faults.drop_rx_every and self._rx_count % self.faults.drop_rx_every == 0:
                continue
            if byte == ord("%"):
                command = self._cmd.decode("latin-1")
                self._cmd.clear()
                if self._parser_enabled:  # commands completed during boot are ignored
                    self._dispatch(command)
            elif len(self._cmd) < CMD_SIZE:
                self._cmd.append(byte)
            # beyond 80 characters the reference overwrites its last slot, then NULs it: dropped

    # -- commands ---------------------------------------------------------------------------
    def _dispatch(self, command: str) -> None:
        self._commands_seen += 1
        if 0 <= self.faults.silent_after < self._commands_seen:
            return
        tokens = [t for t in command.split(" ") if t]  # strtok(" "): only spaces separate
        if not tokens:
            # The reference dereferences NULL here; a robust firmware answers with an error.
            self._line("e-[Empty command]")
        elif tokens[0] in self.faults.error_reply:
            self._line(f"e-[{self.faults.error_reply[tokens[0]]}]")
        elif tokens[0] == "name":
            self._line(f"m-name-{DEVICE_NAME}-[{self.vendor}]")
        elif tokens[0] == "timestamp":
            self._timestamp()
        elif tokens[0] == "profile":
            self._line(f"m-profile-[{FW_VERSION}]")
            self._line(f"m-model-[{self.benchmark_id}]")
        elif tokens[0] == "help":
            self._help()
        elif tokens[0] == "db":
            self._db(tokens[1:])
        elif tokens[0] == "infer":
            self._infer_command(tokens[1:])
        elif tokens[0] == "results":
            self._results()
        else:
            self._line(f"e-[Unknown command: {tokens[0]}]")
        self._line("m-ready")

    def _help(self) -> None:
        for text in HELP_LINES:
            self._line(text)

    def _db(self, args: list[str]) -> None:
        if not args:
            self._line("e-[Command 'db' requires a subcommand]")
        elif args[0] == "load":
            if len(args) < 2:
                self._line("e-[Command 'db load' requires the # of bytes]")
                return
            size = _atoi(args[1])
            if size == 0:
                self._line("e-[Command 'db load' must be >0 bytes]")
                return
            self._buff_size = size % (1 << 32)  # stored in a size_t
            self._buff_pos = 0
            if self._buff_size > self.max_db:
                # The reference accepts the size anyway (no e- prefix, bare LF) and later writes
                # past its buffer; here those writes are dropped instead of corrupting memory.
                self._print(f"Supplied buffer size {_as_int(self._buff_size)} exceeds maximum of {self.max_db}\n")
            else:
                self._line(f"m-[Expecting {self._buff_size} bytes]")
        elif args[0] == "print":
            self._db_print()
        else:
            self._db_hex(args[0])

    def _db_hex(self, digits: str) -> None:
        if len(digits) % 2:
            self._line("e-[Insufficent number of hex digits]")  # sic: the reference spelling
            return
        for i in range(0, len(digits), 2):
            pair = digits[i : i + 2]
            if not all(c in _HEX_DIGITS for c in pair):
                self._line(f"e-[Invalid hex digit '{pair}']")
                return  # bytes before the bad pair stay stored, as in the reference
            value = int(pair, 16)
            if self._buff_pos < self.max_db:
                self._buffer[self._buff_pos] = value
            self._buff_pos += 1
            if self._buff_pos == self._buff_size:
                self._line("m-load-done")
                return  # the rest of the digits in this command are ignored

    def _db_print(self) -> None:
        per_line, size = 8, self._buff_size
        out = []
        for i in range(size):
            if i % per_line == 0:
                out.append("m-buffer-")
            out.append(f"{self._buffer[i] if i < self.max_db else 0:02x}")
            out.append("\r\n" if (i + 1) % per_line == 0 or i + 1 == size else "-")
        if size % per_line:
            out.append("\r\n")  # the reference prints an extra blank line after a short last row
        self._print("".join(out))

    def _infer_command(self, args: list[str]) -> None:
        iterations, warmup = 1, 10
        if args:
            iterations = _atoi(args[0])
            if iterations <= 0:
                self._line("e-[Inference iterations must be >0]")
                return
            if len(args) > 1:
                warmup = _atoi(args[1])
                if warmup < 0:
                    self._line("e-[Inference warmup must be >=0]")
                    return
        self._infer(iterations, warmup)

    # -- the timed region (ee_infer) ----------------------------------------------------------
    def _infer(self, iterations: int, warmup: int) -> None:
        self._load_tensor()
        self._line(f"m-warmup-start-{warmup}")
        self.clock.spend(warmup * self.inference_us, "compute")
        self._line("m-warmup-done")
        self._line(f"m-infer-start-{iterations}")
        self._timestamp()
        # The model is deterministic: run it once for the outputs, account N inferences of time.
        if self.faults.abort_on_infer:
            os.abort()
        self._output = self.model.run(self._input)
        self.inferences_run += 1
        if self.faults.extra_pulse:
            self.clock.spend(iterations * self.inference_us / 2, "compute")
            self._timestamp()
            self.clock.spend(iterations * self.inference_us / 2, "compute")
        else:
            self.clock.spend(iterations * self.inference_us, "compute")
        self._infers += 1
        if self._infers != self.faults.skip_pulse:
            self._timestamp()
        self._line("m-infer-done")
        self._results()

    def _load_tensor(self) -> None:
        element = self.benchmark.input_element_bytes
        expected = self.benchmark.input_elements
        got = min(expected * element, self._buff_pos) // element
        if got != expected:
            self._print(f"Input db has {got} elemented, expected {expected}\n")
            return  # the previous input stays in the tensor, as in the reference
        raw = bytes(self._buffer[: expected * element])
        self._input, floats = self.benchmark.convert_input(raw, self.model.input_quant)
        if floats is not None:
            self._input_floats = floats

    def _results(self) -> None:
        output = self._output if self._output is not None else np.zeros(self.benchmark.output_elements, np.int8)
        self._line(self.benchmark.results_line(output, self.model.output_quant, self._input_floats))

    # -- timestamps ---------------------------------------------------------------------------
    def _timestamp(self) -> None:
        if self.mode == "performance":
            self._line(f"m-lap-us-{self.clock.now_us() % TIMER_WRAP}")
        else:
            self.pin(0, self.clock.now_exact_us())
            self.clock.spend(self.pulse_hold_us, "compute")  # the reference's NOP loop
            self.pin(1, self.clock.now_exact_us())


def _atoi(text: str) -> int:
    """C atoi(): leading whitespace, optional sign, digits; no digits gives 0; saturates at int32."""
    match = _ATOI.match(text)
    if not match:
        return 0
    return max(-(1 << 31), min((1 << 31) - 1, int(match.group(1))))


def _as_int(value: int) -> int:
    """A size_t printed with %d (32-bit int on the MCU)."""
    value %= 1 << 32
    return value - (1 << 32) if value >= 1 << 31 else value
