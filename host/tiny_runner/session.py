"""One measurement: board + (virtual) DUT + link + protocol + mode procedure + run directory.

The session opens things in order (run directory first, then the lab, the port, the
handshake), hands the connected DUT to a mode procedure (modes/), and on every way out writes
what it has: results.json (partial if need be) and status.json saying why it stopped.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from energy_monitor import MonitorError, MonitorFirmwareTooOld

from . import __version__
from .analysis.truth import attach_truth
from .benchmarks import BENCHMARKS, Benchmark
from .boards import Board
from .capture import Capture
from .datasets import Dataset
from .dut import DutClient
from .errors import (
    DutTimeout,
    FirmwareMismatch,
    Interrupted,
    MonitorProblem,
    MonitorTooOld,
    PortError,
    RunDirError,
    Terminated,
    TinyRunnerError,
)
from .golden import GoldenCheck
from .lab.launcher import VirtualBench
from .lab.start import start_lab
from .link import Link
from .models import ResolvedModel, resolve_model
from .modes import RunContext, procedure_for
from .monitors import DEFAULT_MONITOR, parse_spec
from .printable import printable
from .progress import Progress
from .relay import DEFAULT_RELAY, open_relay
from .report.plots import plot_energy_run
from .report.results import finalise, results_txt
from .rules import DEFAULT_TARGET_WINDOW_S
from .rundir import RunDir, utc_now
from .stopping import how_stopped, signals_deferred
from .wirelog import WireLog

DEFAULT_LAB_SPEED = 100.0
DEFAULT_SUPPLY_MV = 1800  # what most published LPM01A results used
_LAB_EXIT_GRACE_S = 3.0  # how long a lab process whose port broke may take to finish exiting
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
    board: Board
    mode: str  # "performance", "accuracy" or "energy"
    benchmark: Benchmark | None = None  # None: take it from the DUT's `profile` reply
    dut_url: str | None = None  # None on a virtual board: the lab starts its own DUT
    found_by: dict[str, str] = field(default_factory=dict)  # "dut", "monitor", "relay": how detection chose
    # the ports the user did not name
    baud: int | None = None  # None: the board descriptor's rate for this mode
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
    lab_speed: float = DEFAULT_LAB_SPEED
    lab_timer_start_us: int = 0
    lab_faults: dict = field(default_factory=dict)
    lab_firmware_mode: str | None = None  # None: the build this run needs
    lab_monitor_quirks: dict = field(default_factory=dict)
    # energy mode
    monitor: str | None = None  # lpm01a:PORT, ppk2:PORT, joulescope[:SERIAL]; virtual board: the name alone
    relay: str | None = None  # "ifboard:PORT_URL", "ioman:PORT_URL"; on the virtual lab a name alone (default ifboard)
    voltage_mv: int | None = None  # None: the board's supply.default_mv, else 1800
    monitor_rate_hz: float | None = None  # None: the monitor's own default (LPM01A 1 kHz, PPK2 100 kHz, ...)
    bench: dict | None = None  # the bench file the ports came from (bench_file.BenchFile.describe())

    @property
    def uses_lab(self) -> bool:
        """A virtual board whose DUT (or, in energy mode, pass-through board) was given no port:
        the run starts the virtual lab; given ports, it is measured through them like a real board."""
        outside = self.dut_url if self.mode != "energy" else (self.relay or "").partition(":")[2]
        return self.board.virtual and not outside


class Session:
    def __init__(self, request: MeasureRequest, progress: Progress | None = None):
        self.req = request
        self.progress = progress or Progress(enabled=False)
        self.lab: VirtualBench | None = None
        self._lab_failure = None
        self.capture: Capture | None = None
        label = f"{request.board.name}-{request.benchmark.id if request.benchmark else 'dut'}-{request.mode}"
        self.run_dir = RunDir.create(request.runs_root, label, request.run_dir)
        self.results: dict = {
            "tiny_runner_version": __version__,
            "status": "running",
            "benchmark": request.benchmark.id if request.benchmark else None,
            "mode": request.mode,
            "board": request.board.name,
            "run_dir": str(self.run_dir.path),
            "started": utc_now(),
            "valid": False,
            "violations": [],
        }
        if request.bench:
            self.results["bench"] = request.bench

    # -- the whole run ----------------------------------------------------------------------------
    def run(self) -> dict:
        self.measured = False  # True once the numbers exist, even if saving them then fails
        try:
            self.run_dir.log(f"tiny-runner {__version__}: {self.req.mode} run on board {self.req.board.name}")
            with ExitStack() as stack:
                dut = self._connect_energy(stack) if self.req.mode == "energy" else self._connect(stack)
                golden = self._golden(stack)
                procedure = procedure_for(self.req.benchmark, self.req.mode)
                procedure(RunContext(self.req, dut, self.results, self.run_dir, self.run_dir.log, self.progress,
                                     self.capture, golden)).run()
                if golden:
                    self.results["check_outputs"] = golden.summary()
            finalise(self.results, self.req)
            if self.capture:
                self._energy_extras()
            self.measured = True
            self.results["status"] = "completed"
            self.results["finished"] = utc_now()
            self.run_dir.write_results(self.results, results_txt(self.results))
            self.run_dir.set_status("completed")
            self.run_dir.log(f"completed; valid: {self.results['valid']}")
            return self.results
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
        if self.capture and self.capture.measured_voltage_v is not None:
            self.results["monitor"]["measured_voltage_mv"] = self.capture.measured_voltage_v * 1000
        self.results.update(status=state, stop_reason=reason, finished=utc_now(), valid=False)
        failures = []
        for write in (lambda: self.run_dir.log(f"{state}: {reason}"),
                      lambda: self.run_dir.write_results(self.results, results_txt(self.results)),
                      lambda: self.run_dir.set_status(state, reason, exit_code)):
            try:
                write()
            except RunDirError as exc:
                failures.append(exc)
        return failures[0] if failures else None

    def _explain(self, exc: Exception) -> TinyRunnerError:
        """Monitor errors become the runner's; a port or timeout failure on the virtual lab is
        really the virtual bench dying."""
        if isinstance(exc, MonitorFirmwareTooOld):
            return MonitorTooOld(str(exc))
        if isinstance(exc, MonitorError):
            return self._lab_failure or MonitorProblem(str(exc))
        if self._lab_failure and isinstance(exc, (PortError, DutTimeout)):
            return self._lab_failure
        return exc

    def _stop_lab(self, exc_type, exc, traceback) -> bool:
        """Runs as the connection unwinds: note whether the virtual DUT had died, then stop it.
        A broken port or a silent DUT is often the lab process going down: it gets a moment to
        finish exiting, so the error names the crash rather than its symptom."""
        dying = isinstance(exc, (PortError, DutTimeout, MonitorError))
        self._lab_failure = self.lab.failure(wait_s=_LAB_EXIT_GRACE_S if dying else 0.0)
        self.lab.stop(hurry=isinstance(exc, KeyboardInterrupt))
        self.results["lab"]["model_executions"] = self.lab.stats.get("inferences_run")
        return False  # the error, if any, goes on

    # -- wiring -----------------------------------------------------------------------------------
    def _connect(self, stack: ExitStack) -> DutClient:
        req, log = self.req, self.run_dir.log
        baud = req.baud or req.board.baud(req.mode)
        if req.uses_lab:
            self.lab = self._start_lab(baud)
            stack.push(self._stop_lab)
            url = self.lab.url
            log(f"{self.lab.what} started; the DUT's UART is {url}" if req.board.firmware_port
                else f"virtual DUT started on {url} (speed x{req.lab_speed:g})")
        else:
            url = req.dut_url
            if "dut" in req.found_by:
                log(req.found_by["dut"])
        link = stack.enter_context(Link(url, baud, WireLog(self.run_dir.path / "wire.log", f"DUT at {url}")))
        log(f"opened {url} at {baud} baud")
        if self.lab:
            self.lab.power_on()
        dut = DutClient(link, db_chunk_bytes=req.board.db_chunk_bytes)
        self.results["dut"] = {**self._handshake(dut, url), "baud": baud}
        if "dut" in req.found_by:
            self.results["dut"]["found_by"] = req.found_by["dut"]
        return dut

    def _start_lab(self, baud: int, monitor: str = DEFAULT_MONITOR, supply_mv: int = DEFAULT_SUPPLY_MV):
        """The virtual lab for this request; what it started is recorded under `lab`."""
        lab, self.results["lab"] = start_lab(self.req, self.run_dir.path, self.run_dir.log, self.progress, baud,
                                             monitor, supply_mv)
        return lab

    def _connect_energy(self, stack: ExitStack) -> DutClient:
        """Monitor, relay, power, handshake through the relay, then the capture."""
        req, log = self.req, self.run_dir.log
        dut_baud = req.baud or req.board.baud("energy")
        kind, target = parse_spec(req.monitor or DEFAULT_MONITOR)
        rate = req.monitor_rate_hz or kind.default_rate_hz
        voltage_mv = req.voltage_mv or req.board.supply.get("default_mv", DEFAULT_SUPPLY_MV)
        relay_spec = req.relay
        if req.uses_lab:
            fastest = kind.lab_samples_per_s / rate
            if req.lab_speed > fastest and not req.board.firmware_port:
                log(f"lab speed lowered from x{req.lab_speed:g} to x{fastest:g} so the emulated {kind.name} keeps "
                    f"up with {rate:,.0f} samples/s")
                req.lab_speed = fastest
            self.lab = self._start_lab(dut_baud, monitor=kind.name, supply_mv=voltage_mv)
            stack.push(self._stop_lab)
            relay_spec, target = f"{req.relay or DEFAULT_RELAY}:{self.lab.ports['relay']}", self.lab.ports["monitor"]
            dut = "the C firmware under QEMU" if req.board.firmware_port else f"speed x{req.lab_speed:g}"
            log(f"virtual energy bench started: pass-through board {relay_spec}, {kind.name} {target} ({dut})")
        for how in (req.found_by.get("monitor"), req.found_by.get("relay")):
            if how:
                log(how)
        monitor_log = WireLog(self.run_dir.path / "monitor-wire.log", f"monitor {kind.name} {target or ''}")
        open_driver = kind.emulated_driver if self.lab else kind.driver  # target: the emulator's address
        monitor = open_driver(target, lambda d, text: monitor_log.record(d, text.encode("latin-1") + b"\r\n"))
        stack.callback(monitor_log.close)
        stack.callback(self._close_monitor, monitor)  # also when open() fails half-way
        identity = monitor.open()
        log(f"monitor: {identity}")
        relay = open_relay(relay_spec, wire_log=WireLog(self.run_dir.path / "wire.log", f"relay {relay_spec}"),
                           log=log)  # at the host-side rate its plug-in declares
        stack.callback(relay.link.close)
        log(f"relay: {relay.identify()}")
        if relay.ensure_dut_baud(dut_baud):
            log(f"relay: DUT-side baud set to {dut_baud}")
        sources = monitor.capabilities.can_set_voltage
        if sources:
            monitor.set_voltage(voltage_mv)
        monitor.power(True)
        log(f"DUT powered at {voltage_mv} mV" if sources else "DUT powered from its external supply")
        dut = DutClient(relay.dut_link(), db_chunk_bytes=min(req.board.db_chunk_bytes, relay.db_chunk_bytes))
        self.results["dut"] = {**self._handshake(dut, relay_spec), "baud": dut_baud}
        self.capture = Capture(monitor, self.run_dir.path / "capture", voltage_mv / 1000 if sources else None,
                               identity)
        self.capture.start(rate)
        stack.callback(self.capture.stop)
        self.results["monitor"] = {**identity, "rate_hz": rate, "voltage_mv": voltage_mv if sources else None,
                                   "voltage_source": "set by the monitor" if sources else "external, measured"}
        self.results["relay"] = {"kind": relay.kind, "port": relay.link.url, "dut_baud": dut_baud}
        for part in ("monitor", "relay"):
            if part in req.found_by:
                self.results[part]["found_by"] = req.found_by[part]
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
        measured = self.capture.measured_voltage_v
        if measured is not None:
            self.results["monitor"]["measured_voltage_mv"] = measured * 1000
        truth_path = self.run_dir.path / "lab-truth.jsonl"
        if truth_path.is_file():
            attach_truth(self.results, truth_path)
        try:
            self.results["plots"] = plot_energy_run(self.run_dir.path, self.results)
        except Exception as exc:  # a plot is a convenience: say why it is missing, keep the numbers
            self.results["plots"] = []
            self.run_dir.log(f"plots not written: {type(exc).__name__}: {exc}")

    def _handshake(self, dut: DutClient, url: str) -> dict:
        """Banner, name, profile, firmware mode; checks the DUT runs what this run needs."""
        req, log = self.req, self.run_dir.log
        # A running board prints nothing; one that resets on open (or the lab's, just powered)
        # prints a banner, which then has the board's boot time to finish.
        listen = None if self.lab and self.lab.banner_on_power_on else _BANNER_LISTEN_S
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
            req.benchmark = BENCHMARKS[model_id]
            self.results["benchmark"] = req.benchmark.id
        elif model_id != req.benchmark.id:
            raise FirmwareMismatch(
                f"the DUT at {url} runs {printable(model_id)} firmware but this run is for {req.benchmark.id}; "
                f"flash the {req.benchmark.id} build or pass --benchmark {printable(model_id)}"
            )
        mode, mode_from = self._firmware_mode(dut, banner)
        needed = "energy" if req.mode == "energy" else "performance"
        if mode is not None and mode != needed:
            raise FirmwareMismatch(
                f"the DUT at {url} runs {mode}-mode firmware (m-timestamp-mode-{mode}) but this {req.mode} run "
                f"needs the {needed}-mode build (m-timestamp-mode-{needed}); flash that build"
            )
        return {
            "url": url,
            "virtual": self.lab is not None,
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
            self.results["dut"]["firmware_mode"] = seen
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

