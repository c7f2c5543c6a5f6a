"""The sww01 (streaming wake word) reference DUT, emulated: the energy build of mlcommons/tiny
benchmark/reference_submissions/streaming_wakeword (sww_ref_util.c, sww_ref_util_submitter.c).

Like lab.firmware.ReferenceFirmware it is I/O-agnostic: it prints through `uart.write(bytes)`,
spends virtual time through `clock.spend(us, activity)`, drives the timestamp pin through
`pin(level, t_us)` and tells the physics what it does at rest through `rest(activity, t_us)`.
Its two GPIOs to the interface board are callbacks the bench wires: `on_detection(t_us)` at
each falling edge of WW_DETECTED (an active-low 1 µs pulse) and `on_processing(level, t_us)`
for the PROCESSING (duty cycle) pin. The board hands it audio with `i2s_frame(stereo)`, one
DMA block of 512 stereo int16 frames.

Commands (each ends with `%`; every reply ends with `m-ready`): `name`, `profile`,
`timestamp`, `start` (ee_start_detection), `stop` (ee_stop_detection); anything else is
`e-[Unknown command: X]`. Each frame while streaming is th_process_chunk_and_cont_streaming:
PROCESSING high, the left channel's features (benchmarks/sww01/features.py), one model run,
a detection pulse when output[0] > 115 or on the first frame (the sync mark), output[0]
logged as an activation, PROCESSING low; it takes [simulation.sww] processing_us.

Ground truth: each `stop` of a stream notes one record on the physics (lab-truth.jsonl):

    {"sww_stream": {
        "frames": frames processed,
        "period_us": the I2S block period (512 frames at 16 kHz),
        "processing_us": the modelled processing time of one frame,
        "start_us": the falling edge of the timestamp pulse of `start` (energy window start),
        "stop_us": the falling edge of the timestamp pulse of `stop` (energy window end),
        "sync_pulse_us": [rise, fall] of the 1 µs PROCESSING pulse `start` makes,
        "detections_us": every WW_DETECTED falling edge, the sync mark first,
        "processing_edges_us": [[rise, fall], ...] of the first 100 frames (what the board keeps),
        "activations": every logged output[0] (int8)}}

All times are the DUT's virtual microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, get_type_hints

import numpy as np

from ..benchmarks.sww01.features import DETECT_THRESHOLD, STRIDE, FeatureStream, left_channel
from ..relays.ifboard.emulator import BoardFaults
from .firmware import CMD_SIZE, DEFAULT_PULSE_HOLD_US, DEVICE_NAME, FW_VERSION, Clock, Model, Uart

BENCHMARK_ID = "sww01"
SAMPLE_RATE = 16_000
FRAME_PERIOD_US = STRIDE * 1_000_000 // SAMPLE_RATE  # one I2S DMA block: 32 ms
ACTIVATION_CAPACITY = 64_000  # g_gp_buff_bytes: the int8 activation log's size
DUTY_FRAMES_NOTED = 100  # the interface board keeps the first 100 PROCESSING edges of each kind
PULSE_US = 1.0  # th_delay_us(1): the WW_DETECTED and sync PROCESSING pulses
ACTIVATIONS_PER_LINE = 16


@dataclass
class StreamFaults:
    """Ways the streaming DUT misbehaves, for tests and drills."""

    ignore_start: bool = False  # `start` gets only m-ready: it never streams (no sync detection)
    # `stop` of a stream is lost: no reply at all, not even m-ready; it keeps streaming (and the energy
    # window never ends). An idle DUT still answers `stop`, as the host's opening `stop` needs.
    ignore_stop: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> "StreamFaults":
        return cls(**data)


# Every fault a streaming bench takes, the DUT's and the interface board's, with its value type.
STREAM_FAULTS = {name: kind for cls in (StreamFaults, BoardFaults) for name, kind in get_type_hints(cls).items()}
_DUT_FAULTS = {f.name for f in fields(StreamFaults)}


def split_stream_faults(faults: dict) -> tuple[dict, dict]:
    """(the DUT's, the interface board's) faults from one dict of fault names."""
    unknown = sorted(set(faults) - set(STREAM_FAULTS))
    if unknown:
        raise ValueError(f"unknown streaming lab fault {unknown[0]!r} (known: {', '.join(STREAM_FAULTS)})")
    dut = {name: value for name, value in faults.items() if name in _DUT_FAULTS}
    return dut, {name: value for name, value in faults.items() if name not in _DUT_FAULTS}


def activations_text(values: list[int]) -> str:
    """ee_print_vals_int8: `[`, then 16 `v, ` to a line, the last value followed by two spaces."""
    out = ["["]
    for i in range(0, len(values), ACTIVATIONS_PER_LINE):
        for j, value in enumerate(values[i:i + ACTIVATIONS_PER_LINE], start=i):
            out.append(f"{value}{' ' if j == len(values) - 1 else ','} ")
        out.append("\r\n")
    out.append("]\r\n")
    return "".join(out)


def _no_pin(level: int, t_us: float) -> None:
    pass


def _no_edge(t_us: float) -> None:
    pass


class StreamingFirmware:
    def __init__(
        self,
        *,
        model: Model,
        processing_us: float,
        uart: Uart,
        clock: Clock,
        pin: Callable[[int, float], None] | None = None,
        rest: Callable[[str, float], None] | None = None,
        vendor: str = "unspecified",
        boot_us: int = 0,
        pulse_hold_us: float = DEFAULT_PULSE_HOLD_US,
        faults: StreamFaults | None = None,
    ):
        self.model = model
        self.processing_us = processing_us
        self.uart = uart
        self.clock = clock
        self.pin = pin or _no_pin
        self.rest = rest or (lambda activity, t_us: None)
        self.vendor = vendor
        self.boot_us = boot_us
        self.pulse_hold_us = pulse_hold_us
        self.faults = faults or StreamFaults()
        self.on_detection: Callable[[float], None] = _no_edge  # WW_DETECTED falling edge
        self.on_processing: Callable[[int, float], None] = _no_pin  # PROCESSING pin
        self.note: Callable[[dict], None] = lambda record: None  # the ground truth (Physics.note)

        self._cmd = bytearray()
        self._parser_enabled = False
        self.streaming = False
        self.inferences_run = 0  # how many times the model was really executed
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._features = FeatureStream(self.model.input_quant.scale)
        self._first_frame = True
        self._activations: list[int] = []
        self._frames = 0
        self._detections: list[float] = []
        self._edges: list[list[float]] = []
        self._start_us = self._sync_pulse = None

    @property
    def listening_activity(self) -> str:
        """What the DUT does between frames: asleep with its DMA running, or plain idle."""
        return "listening" if self.streaming else "idle"

    # -- output helpers ---------------------------------------------------------------------
    def _print(self, text: str) -> None:
        self.uart.write(text.encode("ascii"))

    def _line(self, text: str) -> None:
        self._print(text + "\r\n")

    def _now(self) -> float:
        return self.clock.now_exact_us()

    # -- boot and commands ------------------------------------------------------------------
    def boot(self) -> None:
        self._parser_enabled = False
        self._cmd.clear()
        self.streaming = False
        self.rest("idle", self._now())
        self._line("m-timestamp-mode-energy")
        self._timestamp()  # leaves the pin idle-high (one extra edge), as the other builds
        self.clock.spend(self.boot_us, "boot")
        self._line("m-init-done")
        self._parser_enabled = True
        self._line("m-ready")

    def receive(self, data: bytes) -> None:
        """Collect up to '%', keeping the first 80 characters (as lab.firmware does)."""
        for byte in data:
            if byte == ord("%"):
                command = self._cmd.decode("latin-1")
                self._cmd.clear()
                if self._parser_enabled:
                    self._dispatch(command)
            elif len(self._cmd) < CMD_SIZE:
                self._cmd.append(byte)

    def _dispatch(self, command: str) -> None:
        tokens = [t for t in command.split(" ") if t]
        word = tokens[0] if tokens else ""
        if word == "stop" and self.streaming and self.faults.ignore_stop:
            return
        if word == "name":
            self._line(f"m-name-{DEVICE_NAME}-[{self.vendor}]")
        elif word == "profile":
            self._line(f"m-profile-[{FW_VERSION}]")
            self._line(f"m-model-[{BENCHMARK_ID}]")
        elif word == "timestamp":
            self._timestamp()
        elif word == "start":
            if not self.faults.ignore_start:
                self._start()
        elif word == "stop":
            self._stop()
        elif not word:
            self._line("e-[Empty command]")
        else:
            self._line(f"e-[Unknown command: {word}]")
        self._line("m-ready")

    def _start(self) -> None:
        """ee_start_detection."""
        if self.streaming:
            self._line("I2S Rx currently in progress. Ignoring request")
            return
        self.streaming = True
        self._reset_stream()
        self._line("Listening for I2S data ... ")
        self._start_us = self._timestamp()  # the energy window starts
        # a 1 µs PROCESSING pulse aligns the duty cycle, energy and detections
        rise = self._now()
        self.on_processing(1, rise)
        self.clock.spend(PULSE_US, "processing")
        fall = self._now()
        self.on_processing(0, fall)
        self._sync_pulse = [rise, fall]
        self.rest("listening", fall)
        self._line("DMA receive initiated.")

    def _stop(self) -> None:
        """ee_stop_detection."""
        if not self.streaming:
            self._line("I2S is already idle.  Ignoring stop request")
            return
        self.streaming = False
        self.rest("idle", self._now())
        stop_us = self._timestamp()  # the energy window ends
        self.note({"sww_stream": {
            "frames": self._frames, "period_us": FRAME_PERIOD_US, "processing_us": self.processing_us,
            "start_us": self._start_us, "stop_us": stop_us, "sync_pulse_us": self._sync_pulse,
            "detections_us": self._detections, "processing_edges_us": self._edges,
            "activations": self._activations}})
        self._line("Streaming stopped.")
        self._line("target activations: ")
        self._print(activations_text(self._activations))

    # -- the stream -------------------------------------------------------------------------
    def i2s_frame(self, stereo: np.ndarray) -> None:
        """One DMA block of 512 stereo frames has arrived: th_process_chunk_and_cont_streaming."""
        if not self.streaming:
            return  # the DMA is not armed
        rise = self._now()
        self.on_processing(1, rise)
        model_input = self._features.push(left_channel(stereo, 2))
        output = self.model.run(model_input.reshape(-1))
        self.inferences_run += 1
        detected = int(output[0]) > DETECT_THRESHOLD or self._first_frame
        # the detection pulse comes after the inference, at the end of the frame's work
        self.clock.spend(self.processing_us - PULSE_US, "processing")
        if detected:
            self._detections.append(self._now())
            self.on_detection(self._now())
            self._first_frame = False
        self.clock.spend(PULSE_US, "processing")
        if len(self._activations) < ACTIVATION_CAPACITY:
            self._activations.append(int(output[0]))
        fall = self._now()
        self.on_processing(0, fall)
        if len(self._edges) < DUTY_FRAMES_NOTED:
            self._edges.append([rise, fall])
        self._frames += 1

    # -- timestamps -------------------------------------------------------------------------
    def _timestamp(self) -> float:
        """The energy build's pulse; the time of its falling edge."""
        fall = self._now()
        self.pin(0, fall)
        self.clock.spend(self.pulse_hold_us, "compute")  # the reference's NOP loop
        self.pin(1, self._now())
        return fall
