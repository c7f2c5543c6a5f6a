"""The streaming procedure (sww01), as the official runner's stream step runs it (benchmark/
runner/script.py _ScriptStreamStep): `dut stop` (in case it was streaming), `dut start` (the
DUT's first timestamp pulse: the energy window opens), `record_detections` on the interface
board, `play FILE` (blocking: its length and 10 s), a 0.25 s pause, `dut stop` (the second
pulse: the window closes; the reply carries the model's logged outputs), then the board's
detection times and duty-cycle edges.

In energy mode the stream is one energy window (Inferences: 1), framed by the monitor's two
timestamp edges; in performance mode (bring-up, no monitor) only detections and duty cycle.
Everything is handed to the recorder as it arrives (results.json's "stream" section), so a run
that stops part-way keeps what the board and the DUT had already said."""

from __future__ import annotations

import time

from ...analysis.energy import EnergyWindow
from ...benchmarks.sww01 import replies
from ...benchmarks.sww01.scoring import duty_cycle, score_detections
from ...errors import DutTimeout, StreamError
from . import Procedure
from .energy import edge_window

AFTER_PLAY_S = 0.25  # the official runner's pause before `stop` (the DUT may still be busy with a frame)
STOP_TIMEOUT_S = 5.0  # to stop and start printing; the activations (37 500 for 1200 s) add their wire time
STOP_BYTES_PER_ACTIVATION = 7  # "-128, " and a share of the line ends: the stop reply's wire time


class StreamingRun(Procedure):
    def run(self) -> None:
        selection = self.req.stream
        stream, relay, capture = selection.stream, self.context.relay, self.context.capture
        section = selection.describe()
        self.recorder.set_stream(section)
        if capture:
            capture.settle()  # the boot pulse and the handshake's edges are not the stream's
        before = capture.edge_count() if capture else 0
        self.dut.transact("stop")  # the official runner's "in case it wasn't stopped earlier"
        started = self.dut.transact("start")
        replies.check_started(started)
        section["start_reply"] = started
        relay.record_detections()
        self.log(f"playing {stream.wav_file} ({stream.length_s:g} s, timeout {stream.play_timeout_s:g} s)")
        self.progress.message(f"streaming {stream.wav_file} ({stream.length_s:g} s of audio)")
        began = time.monotonic()
        try:
            relay.play(stream.wav_file, stream.play_timeout_s)
        except DutTimeout:
            raise DutTimeout(f"the interface board did not finish 'play {stream.wav_file}' within "
                             f"{stream.play_timeout_s:g} s (the file's {stream.length_s:g} s and 10 s)") from None
        section["play_wall_s"] = round(time.monotonic() - began, 3)
        time.sleep(AFTER_PLAY_S)
        section["activations"] = replies.parse_stopped(self._stop(stream.length_s))
        self.recorder.set_stream(section)
        if capture:
            self.recorder.add_window(self._energy_window(before, stream.wav_file))
        section["detections_ms"] = relay.print_detections()
        section["duty_cycle_ticks"] = dict(zip(("starts", "stops"), relay.print_dutycycle()))
        self.recorder.set_stream(section)
        section.update(score_stream(section, selection))
        self.recorder.set_stream(section)
        for warning in section["duty_cycle"]["warnings"]:
            self.log(f"duty cycle: {warning}")

    def _stop(self, length_s: float) -> list[str]:
        frames = length_s * 16_000 / 512
        wire_s = frames * STOP_BYTES_PER_ACTIVATION * 10 / self.req.baud
        timeout = STOP_TIMEOUT_S + wire_s
        try:
            return self.dut.transact("stop", timeout)
        except DutTimeout as exc:
            raise DutTimeout(f"the DUT did not answer 'stop%' after the stream ({exc}); the stream's energy window "
                             "has no end") from None

    def _energy_window(self, before: int, wav_file: str) -> EnergyWindow:
        capture = self.context.capture
        window = edge_window(capture, before, EnergyWindow(0, wav_file, 1, 0, [], capture.rate_hz))
        for problem in window.problems:
            self.log(f"stream energy window: {problem}")
        return window


def score_stream(section: dict, selection) -> dict:
    """The score and the duty cycle from what the board reported; StreamError when they cannot be had."""
    detections = section["detections_ms"]
    if not detections:
        raise StreamError("the interface board recorded no detections, not even the DUT's sync pulse on its first "
                          "frame: check the WW_DETECTED wire (DUT to the board's PG15) and that the DUT streamed")
    score = score_detections(detections, list(selection.stream.windows), selection.rule)
    ticks = section["duty_cycle_ticks"]
    try:
        duty = duty_cycle(ticks["starts"], ticks["stops"])
    except ValueError as exc:
        raise StreamError(f"duty cycle: {exc}; check the PROCESSING wire (DUT to the board's PB5)") from None
    return {
        "detections_s": [round((d - detections[0]) / 1000, 3) for d in detections[1:]],
        "score": {"rule": score.rule, "window_extension_s": score.window_extension_s,
                  "true_positives": score.true_positives, "false_negatives": score.false_negatives,
                  "false_positives": score.false_positives},
        "duty_cycle": {"duty_cycle": duty.duty_cycle, "period_s": duty.period_s,
                       "processing_time_s": duty.processing_time_s,
                       "throughput_inf_per_s": duty.throughput_inf_per_s, "frames": len(ticks["starts"]),
                       "period_variation": duty.period_variation, "warnings": duty.warnings},
    }
