"""One measurement, as orchestration: bench -> handshake -> procedure -> record.

The session opens things in order (run directory first, then the bench its source hands back,
the ports, the handshake), hands the connected DUT to a mode procedure (modes/), and on every
way out writes what it has: results.json (partial if need be) and status.json saying why it
stopped. Where the bench came from (options, detection, a bench file, the virtual lab) is the
source's business (bench/bench.py), not the session's.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from energy_monitor import MonitorError, MonitorFirmwareTooOld

from .. import __version__
from ..analysis.stream_truth import attach_stream_truth
from ..analysis.truth import attach_truth
from ..bench.bench import Bench, BenchSource
from ..bench.monitors import parse_spec
from ..bench.relays import open_relay
from ..benchmarks import BENCHMARKS, Benchmark
from ..benchmarks.datasets import Dataset
from ..benchmarks.sww01.streams import StreamSelection
from ..boards import Board
from ..errors import (
    DutTimeout,
    FirmwareMismatch,
    Interrupted,
    MonitorProblem,
    MonitorTooOld,
    PortError,
    RunDirError,
    StreamError,
    Terminated,
    TinyRunnerError,
)
from ..model.reference import ResolvedModel, resolve_model
from ..printable import printable
from ..protocol.dut import DutClient
from ..protocol.link import Link
from ..protocol.wirelog import WireLog
from ..report.plots import plot_energy_run
from .capture import Capture
from .golden import GoldenCheck
from .modes import RunContext, procedure_for
from .progress import Progress
from .record import DutRecord, MonitorRecord, RelayRecord, RunRecord
from .recorder import Recorder
from .rules import DEFAULT_TARGET_WINDOW_S
from .rundir import RunDir, utc_now
from .stopping import how_stopped, signals_deferred

DEFAULT_SUPPLY_MV = 1800  # what most published LPM01A results used
_BENCH_EXIT_GRACE_S = 3.0  # how long a bench process whose port broke may take to finish exiting
_BANNER_LISTEN_S = 0.5  # how long a real DUT gets to start a banner before the host asks its name
# A DUT may still be inside an `infer` that a killed host started. Such a window lasts about this
# run's target (tiny-runner's own windows) or at most 30 s (the official runner gives up on a reply
# line after that), plus the warm-up: the handshake keeps asking `name%` that long, and the boot time.
OFFICIAL_WINDOW_CEILING_S = 30.0
_BUSY_WINDOW_MARGIN = 1.25  # warm-up inferences and a window's overshoot of its target


def busy_dut_budget_s(target_window_s: float, boot_timeout_s: float) -> float:
    """How long the handshake asks `name%` before a silent DUT counts as not answering."""
    return _BUSY_WINDOW_MARGIN * max(target_window_s, OFFICIAL_WINDOW_CEILING_S) + boot_timeout_s


@dataclass
class MeasureRequest:
    """One run, checked (run/preflight.py): what to measure, on which bench, how."""

    board: Board
    mode: str  # "performance", "accuracy" or "energy"
    bench: BenchSource  # the ports given or found, a bench file's, or the virtual lab
    baud: int  # the DUT's UART rate
    benchmark: Benchmark | None = None  # None: take it from the DUT's `profile` reply
    dataset: Dataset | None = None
    limit: int | None = None
    model: ResolvedModel | None = None
    model_dir: str | None = None
    check_outputs: bool = False
    warmup: int = 1
    iterations: int | None = None  # fixed N per window instead of calibrating
    target_window_s: float = DEFAULT_TARGET_WINDOW_S
    runs_root: Path = Path("runs")
    run_dir: Path | None = None
    # energy mode
    voltage_mv: int = DEFAULT_SUPPLY_MV  # what the monitor supplies, when it can
    monitor_rate_hz: float | None = None  # None: the monitor's own default (LPM01A 1 kHz, PPK2 100 kHz, ...)
    # a streamed benchmark (sww01): the stream to play (benchmarks/sww01/streams.py)
    stream: StreamSelection | None = None
    cell: dict | None = None  # the campaign cell this run measures (campaign/runner.py)

    @property
    def sd_folder(self) -> Path | None:
        """The folder the virtual lab's interface board holds as its SD card: the stream's."""
        return self.stream.folder if self.stream else None


class Session:
    def __init__(self, request: MeasureRequest, progress: Progress | None = None):
        self.req = request
        self.progress = progress or Progress(enabled=False)
        self.bench: Bench | None = None
        self.relay = None  # the pass-through board, once open
        self._bench_failure = None
        self.capture: Capture | None = None
        label = f"{request.board.name}-{request.benchmark.id if request.benchmark else 'dut'}-{request.mode}"
        self.run_dir = RunDir.create(request.runs_root, label, request.run_dir)
        self.record = RunRecord(tool_version=__version__, benchmark=request.benchmark.id if request.benchmark else None,
                                mode=request.mode, board=request.board.name, run_dir=str(self.run_dir.path),
                                started=utc_now(), bench=request.bench.described, host=socket.gethostname(),
                                cell=request.cell)
        self.recorder = Recorder(self.record, self.run_dir)

    @property
    def results(self) -> dict:
        """The record as results.json holds it."""
        return self.record.to_json()

    # -- the whole run ----------------------------------------------------------------------------
    def run(self) -> dict:
        self.measured = False  # True once the numbers exist, even if saving them then fails
        try:
            self.run_dir.log(f"tiny-runner {__version__}: {self.req.mode} run on board {self.req.board.name}")
            with ExitStack() as stack:
                self._open_bench(stack)
                if self.req.mode == "energy":
                    dut = self._connect_energy(stack)
                elif self.req.benchmark is not None and self.req.benchmark.streaming:
                    dut = self._connect_stream(stack)
                else:
                    dut = self._connect(stack)
                golden = self._golden(stack)
                procedure = procedure_for(self.req.benchmark, self.req.mode)
                procedure(RunContext(self.req, dut, self.recorder, self.run_dir.log, self.progress, self.capture,
                                     golden, self.relay)).run()
                if golden:
                    self.recorder.set_check_outputs(golden.summary())
            self.recorder.finish(self.req)
            if self.capture:
                self._energy_extras()
            self._stream_truth()
            self.measured = True
            self.recorder.stop("completed")
            self.recorder.write()
            self.run_dir.set_status("completed")
            self.run_dir.log(f"completed; valid: {self.record.valid}")
            return self.record.to_json()
        except (TinyRunnerError, MonitorError) as exc:
            error = self._explain(exc)
            raise _noting(error, self._stop("failed", error.message, error.exit_code)) from None
        except KeyboardInterrupt as exc:
            state, reason = how_stopped(exc)
            error = (Interrupted if state == "interrupted" else Terminated)(
                f"{reason}; what was measured is kept in {self.run_dir.path}")
            with signals_deferred():  # a second Ctrl-C now would leave the record half-written
                stop_failure = self._stop(state, reason, error.exit_code)
            raise _noting(error, stop_failure) from None
        finally:
            self.progress.done()
            self.run_dir.close()

    def _stop(self, state: str, reason: str, exit_code: int) -> RunDirError | None:
        """Record why the run stopped, each file on its own: on a full disk the small status may
        still fit where the results do not. Returns the first write that failed, if one did."""
        if self.capture:
            self.recorder.set_measured_voltage(self.capture.measured_voltage_v)
        self.recorder.stop(state, reason)
        failures = []
        for write in (lambda: self.run_dir.log(f"{state}: {reason}"),
                      self.recorder.write,
                      lambda: self.run_dir.set_status(state, reason, exit_code)):
            try:
                write()
            except RunDirError as exc:
                failures.append(exc)
        return failures[0] if failures else None

    def _explain(self, exc: Exception) -> TinyRunnerError:
        """Monitor errors become the runner's; a port or timeout failure is really the bench's
        process dying, when one did."""
        if isinstance(exc, MonitorFirmwareTooOld):
            return MonitorTooOld(str(exc))
        if isinstance(exc, MonitorError):
            return self._bench_failure or MonitorProblem(str(exc))
        if self._bench_failure and isinstance(exc, (PortError, DutTimeout)):
            return self._bench_failure
        return exc

    def _close_bench(self, exc_type, exc, traceback) -> bool:
        """Runs as the connection unwinds: note whether a process behind the bench had died, then
        close it. A broken port or a silent DUT is often that process going down: it gets a moment
        to finish exiting, so the error names the crash rather than its symptom."""
        dying = isinstance(exc, (PortError, DutTimeout, MonitorError))
        self._bench_failure = self.bench.failure(wait_s=_BENCH_EXIT_GRACE_S if dying else 0.0)
        self.bench.close(hurry=isinstance(exc, KeyboardInterrupt))
        self.recorder.add_bench_records(self.bench.records)
        return False  # the error, if any, goes on

    # -- wiring -----------------------------------------------------------------------------------
    def _open_bench(self, stack: ExitStack) -> None:
        """The bench's parts, as its source hands them back (the virtual lab starts its devices now)."""
        log = self.run_dir.log
        self.bench = self.req.bench.open(self.req, self.run_dir.path, log, self.progress)
        stack.push(self._close_bench)
        self.recorder.add_bench_records(self.bench.records)
        for text in self.bench.violations:
            self.recorder.add_violation(text, "bench")
        if self.bench.description:
            log(self.bench.description)
        for part in self.bench.parts().values():
            if part.found_by and not part.emulated:
                log(part.found_by)

    def _found_by(self, name: str) -> dict:
        part = self.bench.parts().get(name)
        return {"found_by": part.found_by} if part and part.found_by and not part.emulated else {}

    def _connect(self, stack: ExitStack) -> DutClient:
        req, log = self.req, self.run_dir.log
        url = self.bench.dut.spec
        link = stack.enter_context(Link(url, req.baud, WireLog(self.run_dir.path / "wire.log", f"DUT at {url}")))
        log(f"opened {url} at {req.baud} baud")
        self.bench.power_on()
        dut = DutClient(link, db_chunk_bytes=req.board.db_chunk_bytes)
        self.recorder.set_dut(DutRecord(**self._handshake(dut, url), baud=req.baud, **self._found_by("dut")))
        return dut

    def _connect_energy(self, stack: ExitStack) -> DutClient:
        """Monitor, relay, power, handshake through the relay, then the capture."""
        req, log, bench = self.req, self.run_dir.log, self.bench
        kind, target = parse_spec(bench.monitor.spec)
        rate, voltage_mv, relay_spec = req.monitor_rate_hz or kind.default_rate_hz, req.voltage_mv, bench.relay.spec
        monitor_log = WireLog(self.run_dir.path / "monitor-wire.log", f"monitor {kind.name} {target or ''}")
        monitor = bench.monitor_driver(lambda d, text: monitor_log.record(d, text.encode("latin-1") + b"\r\n"))
        stack.callback(monitor_log.close)
        stack.callback(self._close_monitor, monitor)  # also when open() fails half-way
        identity = monitor.open()
        log(f"monitor: {identity}")
        relay = self._open_relay(stack)
        sources = monitor.capabilities.can_set_voltage
        if sources:
            monitor.set_voltage(voltage_mv)
        monitor.power(True)
        log(f"DUT powered at {voltage_mv} mV" if sources else "DUT powered from its external supply")
        dut = DutClient(relay.dut_link(), db_chunk_bytes=min(req.board.db_chunk_bytes, relay.db_chunk_bytes))
        self.recorder.set_dut(DutRecord(**self._handshake(dut, relay_spec), baud=req.baud))
        self.capture = Capture(monitor, self.run_dir.path / "capture", voltage_mv / 1000 if sources else None,
                               identity)
        self.capture.start(rate)
        stack.callback(self.capture.stop)
        self.recorder.set_monitor(MonitorRecord(dict(identity), rate, voltage_mv if sources else None,
                                                "set by the monitor" if sources else "external, measured",
                                                **self._found_by("monitor")))
        self.recorder.set_relay(RelayRecord(relay.kind, relay.link.url, req.baud, **self._found_by("relay")))
        return dut

    def _open_relay(self, stack: ExitStack):
        """The pass-through board, its DUT side at the run's rate; for a streamed benchmark, the
        stream's WAV file checked on its SD card before the DUT is powered."""
        req, log, spec = self.req, self.run_dir.log, self.bench.relay.spec
        relay = open_relay(spec, wire_log=WireLog(self.run_dir.path / "wire.log", f"relay {spec}"),
                           log=log)  # at the host-side rate its plug-in declares
        stack.callback(relay.link.close)
        self.relay = relay
        log(f"relay: {relay.identify()}")
        if relay.ensure_dut_baud(req.baud):
            log(f"relay: DUT-side baud set to {req.baud}")
        if req.stream is not None:
            wav = req.stream.stream.wav_file
            if relay.missing_files([wav]):
                raise StreamError(f"{wav} is not on the interface board's SD card (its `ls` lists "
                                  f"{', '.join(relay.list_files()) or 'no files'}): copy it there")
            log(f"relay: {wav} is on its SD card")
        return relay

    def _connect_stream(self, stack: ExitStack) -> DutClient:
        """A bring-up bench for a streamed benchmark: the interface board, no monitor; the DUT
        is powered from its own supply."""
        req = self.req
        relay = self._open_relay(stack)
        self.bench.power_on()
        dut = DutClient(relay.dut_link(), db_chunk_bytes=min(req.board.db_chunk_bytes, relay.db_chunk_bytes))
        self.recorder.set_dut(DutRecord(**self._handshake(dut, self.bench.relay.spec), baud=req.baud))
        self.recorder.set_relay(RelayRecord(relay.kind, relay.link.url, req.baud, **self._found_by("relay")))
        return dut

    def _close_monitor(self, monitor) -> None:
        if monitor.identity:  # it answered: leave the DUT unpowered
            try:
                monitor.power(False)
            except MonitorError as exc:
                self.run_dir.log(f"monitor: power off failed: {exc}")
        monitor.close()

    def _energy_extras(self) -> None:
        """Measured supply, ground truth on the virtual lab, then the plots; none may lose the results."""
        self.recorder.set_measured_voltage(self.capture.measured_voltage_v)
        truth_path = self.run_dir.path / "lab-truth.jsonl"
        if truth_path.is_file():
            attach_truth(self.record, truth_path)
        try:
            self.recorder.set_plots(plot_energy_run(self.run_dir.path, self.record))
        except Exception as exc:  # a plot is a convenience: say why it is missing, keep the numbers
            self.recorder.set_plots([])
            self.run_dir.log(f"plots not written: {type(exc).__name__}: {exc}")

    def _stream_truth(self) -> None:
        """On the virtual lab, a stream's detections and duty cycle against what the lab knows."""
        truth_path = self.run_dir.path / "lab-truth.jsonl"
        if self.record.stream is not None and truth_path.is_file():
            attach_stream_truth(self.record, truth_path)

    def _handshake(self, dut: DutClient, url: str) -> dict:
        """Banner, name, profile, firmware mode; checks the DUT runs what this run needs."""
        req, log = self.req, self.run_dir.log
        # A running board prints nothing; one that resets on open (or the lab's, just powered)
        # prints a banner, which then has the board's boot time to finish.
        listen = None if self.bench.banner_on_power_on else _BANNER_LISTEN_S
        banner = dut.read_banner(req.board.boot_timeout_s, first_line_s=listen)
        log(f"banner: {banner.lines if banner else 'none (the DUT was already running)'}")
        greeting = dut.greet(busy_dut_budget_s(req.target_window_s, req.board.boot_timeout_s), note=self._tell)
        vendor = greeting.vendor
        banner = banner or dut.late_banner
        profile, model_id = dut.profile()
        log(f"DUT: vendor {vendor!r}, profile {profile!r}, model {model_id!r}")
        if req.benchmark is None:
            if model_id not in BENCHMARKS:
                raise FirmwareMismatch(
                    f"the DUT at {url} runs {model_id!r} firmware; tiny-runner measures {', '.join(BENCHMARKS)}"
                )
            if BENCHMARKS[model_id].streaming:
                raise FirmwareMismatch(
                    f"the DUT at {url} runs {model_id} firmware, which is measured by streaming through the "
                    f"interface board: pass --benchmark {BENCHMARKS[model_id].short}, --dataset and --relay")
            req.benchmark = BENCHMARKS[model_id]
            self.recorder.set_benchmark(req.benchmark.id)
        elif model_id != req.benchmark.id:
            raise FirmwareMismatch(
                f"the DUT at {url} runs {printable(model_id)} firmware but this run is for {req.benchmark.id}; "
                f"flash the {req.benchmark.id} build or pass --benchmark {printable(model_id)}"
            )
        mode, mode_from = self._firmware_mode(dut, banner)
        needed = "energy" if req.mode == "energy" else "performance"
        if mode is not None and mode != needed and not req.benchmark.streaming:  # a stream has one build
            raise FirmwareMismatch(
                f"the DUT at {url} runs {mode}-mode firmware (m-timestamp-mode-{mode}) but this {req.mode} run "
                f"needs the {needed}-mode build (m-timestamp-mode-{needed}); flash that build"
            )
        return {
            "url": url,
            "virtual": self.bench.emulated,
            "vendor": vendor,
            "profile": profile,
            "model_id": model_id,
            "firmware_mode": mode,
            "firmware_mode_from": mode_from,
            "banner": banner.lines if banner else None,
            "name_attempts": greeting.attempts,
            "skipped_stale_lines": len(greeting.stale),
            "flushed_command_buffer": greeting.flushed,
        }

    def _tell(self, message: str) -> None:
        """Into the step log, and to the person watching: a handshake that waits says why."""
        self.run_dir.log(message)
        self.progress.message(message)

    def _firmware_mode(self, dut: DutClient, banner) -> tuple[str | None, str]:
        """The firmware's mode and how it was learnt: from the banner, from `timestamp%`, or,
        when the banner was missed and the firmware has no `timestamp` command, from the
        first `infer` reply (lap lines in performance mode, none in energy mode)."""
        if banner and banner.mode:
            return banner.mode, "banner"
        mode = dut.firmware_mode()
        if mode is not None:
            return mode, "timestamp command"
        self.run_dir.log("the DUT has no timestamp command and its banner was missed: the first infer will show "
                         "the firmware mode")

        def learnt(seen: str) -> None:
            self.recorder.set_firmware_mode(seen)
            self.run_dir.log(f"firmware mode from the first infer: {seen}")

        dut.on_mode_learnt = learnt
        return None, "first infer"

    def _golden(self, stack: ExitStack) -> GoldenCheck | None:
        req = self.req
        if not req.check_outputs:
            return None
        if req.model is None:
            req.model = resolve_model(req.benchmark.id, model_dir=req.model_dir)
        golden = GoldenCheck(req.benchmark.id, req.model.path)
        stack.callback(golden.close)
        return golden


def _noting(error: TinyRunnerError, unrecorded: RunDirError | None) -> TinyRunnerError:
    """The error the run stopped on, saying so when the run directory could not record it."""
    if unrecorded is not None and not isinstance(error, RunDirError):
        error.message = f"{error.message} (not recorded in the run directory: {unrecorded.message})"
    return error

