"""The one writer of a run's record: the session and the mode procedures hand it what they found
and measured; it keeps the record (run/record.py) and appends to the run directory as the run
goes (windows.jsonl, outputs.csv), so a run that stops keeps what it measured."""

from __future__ import annotations

from ..report.results import finalise, results_txt
from .record import (
    AccuracyFigures,
    Calibration,
    DutRecord,
    InputResult,
    MonitorRecord,
    RelayRecord,
    RunRecord,
    Stimuli,
    Violation,
)
from .rundir import RunDir, utc_now


class Recorder:
    def __init__(self, record: RunRecord, run_dir: RunDir):
        self.record = record
        self.run_dir = run_dir

    # -- the bench and the DUT --------------------------------------------------------------------
    def set_benchmark(self, benchmark_id: str) -> None:
        """The DUT named it (the run did not)."""
        self.record.benchmark = benchmark_id

    def add_bench_records(self, records: dict) -> None:
        self.record.bench_records.update(records)

    def set_dut(self, dut: DutRecord) -> None:
        self.record.dut = dut

    def set_firmware_mode(self, mode: str) -> None:
        """Learnt at the first infer, when neither the banner nor `timestamp` told it."""
        self.record.dut.firmware_mode = mode

    def set_monitor(self, monitor: MonitorRecord) -> None:
        self.record.monitor = monitor

    def set_measured_voltage(self, volts: float | None) -> None:
        if volts is not None:
            self.record.monitor.measured_voltage_mv = volts * 1000

    def set_relay(self, relay: RelayRecord) -> None:
        self.record.relay = relay

    # -- what the procedures measure ----------------------------------------------------------------
    def set_stimuli(self, stimuli: Stimuli) -> None:
        self.record.stimuli = stimuli

    def start_windows(self) -> None:
        """The procedure has started: results.json lists its windows, none yet."""
        if self.record.windows is None:
            self.record.windows = []

    def set_calibration(self, calibration: Calibration) -> None:
        self.record.calibration = calibration

    def add_window(self, window) -> None:
        """A finished window (PerformanceWindow, EnergyWindow): into the record, then windows.jsonl."""
        self.start_windows()
        self.record.windows.append(window)
        self.run_dir.append_window(window.to_json())

    def add_input(self, result: InputResult, row: list) -> None:
        """An accuracy run's scored file: its row into outputs.csv, then into the record."""
        self.run_dir.append_output(row)
        if self.record.input_results is None:
            self.record.input_results = []
        self.record.input_results.append(result)
        self.record.files_done = len(self.record.input_results)

    def set_accuracy(self, figures: AccuracyFigures) -> None:
        self.record.accuracy = figures

    def add_violation(self, text: str, source: str = "procedure") -> None:
        self.record.violations.append(Violation(text, source))

    def set_stream(self, section: dict) -> None:
        """A streamed run's section as far as it goes; it grows as the board and the DUT report."""
        self.record.stream = section

    def set_check_outputs(self, summary: dict) -> None:
        self.record.check_outputs = summary

    # -- the end ----------------------------------------------------------------------------------
    def finish(self, request) -> None:
        """The summary figures and the validity verdict, once the procedure has finished."""
        finalise(self.record, request)

    def set_plots(self, names: list[str]) -> None:
        self.record.plots = names

    def stop(self, state: str, reason: str | None = None) -> None:
        """How the run ended: completed, or why not (then it is never valid)."""
        self.record.status = state
        if state != "completed":
            self.record.stop_reason = reason
            self.record.valid = False
        self.record.finished = utc_now()

    def write(self) -> None:
        """results.json and results.txt, from the record as it stands."""
        results = self.record.to_json()
        self.run_dir.write_results(results, results_txt(results))
