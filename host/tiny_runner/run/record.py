"""What a run produced, as data: its windows or per-input results, the calibration, the figures,
the violations and where it all came from (Provenance).

results.json is the record's JSON view (`RunRecord.to_json`), results.txt, the summary and the
plots are drawn from that view, and `RunRecord.from_json` reads a results.json back, one an
earlier tiny-runner wrote too. The view keeps every key earlier versions wrote, with the same
value; this version only adds keys ("input_results", "provenance"). Keys a record does not know
(a newer version's, a bench source's) are kept as they were read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..analysis.energy import EnergyWindow
from ..analysis.infer import TimedInfer
from ..errors import SessionFileError
from . import rules


def _json_fields(section, omit_none: tuple[str, ...] = ()) -> dict:
    """A section's fields in their declared order, then what it kept of a record it read."""
    data = {}
    for f in fields(section):
        value = getattr(section, f.name)
        if f.name == "extra" or (value is None and f.name in omit_none):
            continue
        data[f.name] = value
    data.update(getattr(section, "extra", {}))
    return data


def _known_and_extra(cls, data: dict) -> dict:
    """The keyword arguments of a section read from JSON: its own keys, the rest as `extra`."""
    names = {f.name for f in fields(cls)} - {"extra"}
    return {**{k: v for k, v in data.items() if k in names}, "extra": {k: v for k, v in data.items() if k not in names}}


def plain(value):
    """A value JSON can hold: numpy scalars and arrays (a plug-in's scores) become Python's own."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# -- what the procedures measure ------------------------------------------------------------------
@dataclass
class PerformanceWindow:
    """One window timed by the DUT's own m-lap-us timer."""

    index: int
    input: str
    inferences: int
    warmup: int
    lap_us: list[int]
    elapsed_us: int
    seconds: float
    attempts: list[TimedInfer]  # this window's infers, a short one re-run with a larger N
    results: list[float]  # the DUT's result vector for the window's input
    outputs_match_host: bool | None = None  # --check-outputs
    extra: dict = field(default_factory=dict)

    @property
    def throughput_inf_per_s(self) -> float | None:
        return self.inferences / self.seconds if self.seconds > 0 else None

    @property
    def latency_ms(self) -> float:
        return self.seconds * 1e3 / self.inferences

    @property
    def meets_min_window(self) -> bool:
        return self.seconds >= rules.MIN_WINDOW_S

    def to_json(self) -> dict:
        data = {
            "index": self.index, "input": self.input, "inferences": self.inferences, "warmup": self.warmup,
            "lap_us": list(self.lap_us), "elapsed_us": self.elapsed_us, "seconds": self.seconds,
            "throughput_inf_per_s": self.throughput_inf_per_s, "latency_ms": self.latency_ms,
            "meets_min_window": self.meets_min_window, "attempts": [a.to_json() for a in self.attempts],
            "results": self.results,
        }
        if self.outputs_match_host is not None:
            data["outputs_match_host"] = self.outputs_match_host
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "PerformanceWindow":
        derived = {"throughput_inf_per_s", "latency_ms", "meets_min_window"}
        known = _known_and_extra(cls, {k: v for k, v in data.items() if k not in derived})
        known["attempts"] = [TimedInfer.from_json(a) for a in known.get("attempts", [])]
        return cls(**known)


# how each windowed mode's windows are read back
WINDOW_TYPES = {"performance": PerformanceWindow, "energy": EnergyWindow}


@dataclass
class Stimuli:
    """Where the inputs came from: deterministic synthetic ones, or a dataset folder."""

    source: str  # "synthetic" or "dataset"
    note: str | None = None
    dataset: str | None = None
    labels_file: str | None = None
    synthetic_dataset: bool | None = None  # dataset.json marks the folder as synthetic
    labels: str | None = None  # accuracy mode: where the labels come from
    files_in_dataset: int | None = None  # accuracy mode
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return _json_fields(self, omit_none=tuple(f.name for f in fields(self)))

    @classmethod
    def from_json(cls, data: dict) -> "Stimuli":
        return cls(**_known_and_extra(cls, data))


@dataclass
class Calibration:
    """The probes that sized N, and the N chosen for the target window."""

    probes: list[TimedInfer]
    latency_estimate_ms: float
    target_window_s: float
    iterations: int
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**_json_fields(self), "probes": [p.to_json() for p in self.probes]}

    @classmethod
    def from_json(cls, data: dict) -> "Calibration":
        known = _known_and_extra(cls, data)
        known["probes"] = [TimedInfer.from_json(p) for p in known["probes"]]
        return cls(**known)


@dataclass
class InputResult:
    """Accuracy mode: one dataset file, its label and the benchmark's score of its result vectors."""

    file: str
    label: int
    score: object  # a result vector (classifiers) or one number (ad01's mean MSE)
    inferences: int  # inputs of the file sent (ad01: its windows)

    def to_json(self) -> dict:
        return {"file": self.file, "label": plain(self.label), "score": plain(self.score),
                "inferences": self.inferences}

    @classmethod
    def from_json(cls, data: dict) -> "InputResult":
        return cls(data["file"], data["label"], data["score"], data["inferences"])


@dataclass
class LatencySummary:
    median: float
    min: float
    max: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class AccuracyFigures:
    """What an accuracy run scored: the benchmark's own metrics (top1_pct, auc, ...), over how much."""

    metrics: dict
    files: int
    inferences: int
    single_inference_latency_ms: LatencySummary

    def to_json(self) -> dict:
        return {**self.metrics, "files": self.files, "inferences": self.inferences,
                "single_inference_latency_ms": self.single_inference_latency_ms.to_json()}


@dataclass
class PerformanceFigures:
    median_throughput_inf_per_s: float | None
    median_latency_ms: float | None
    throughput_stats: dict  # analysis.stats.window_stats

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class EnergyFigures:
    median_energy_uj_per_inf: float | None
    energy_stats: dict  # analysis.stats.window_stats
    median_power_mw: float | None
    median_throughput_inf_per_s: float | None
    median_latency_ms: float | None
    quantisation_pct_max: float | None  # the worst window's edge quantisation, in % of its energy

    def to_json(self) -> dict:
        return asdict(self)


FIGURE_TYPES = {"performance": PerformanceFigures, "energy": EnergyFigures}


@dataclass
class Violation:
    """One reason the run is not valid for submission, in the words results.txt prints."""

    text: str
    source: str  # "windows" (the window rules), "procedure", "check outputs", "recorded" (read back)


@dataclass
class ModelUsed:
    path: str
    sha256: str
    reference: bool  # the MLPerf Tiny reference model, not one of the person's own

    def to_json(self) -> dict:
        return asdict(self)


# -- the bench the run measured on ------------------------------------------------------------------
@dataclass
class DutRecord:
    """The DUT as the handshake found it."""

    url: str
    virtual: bool
    vendor: str
    profile: str
    model_id: str
    firmware_mode: str | None
    firmware_mode_from: str  # "banner", "timestamp command" or "first infer"
    banner: list[str] | None
    name_attempts: int
    skipped_stale_lines: int
    flushed_command_buffer: bool
    baud: int
    found_by: str | None = None  # how detection or a bench file chose the port
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return _json_fields(self, omit_none=("found_by",))

    @classmethod
    def from_json(cls, data: dict) -> "DutRecord":
        return cls(**_known_and_extra(cls, data))


@dataclass
class MonitorRecord:
    """The energy monitor: what it said it is (its driver's identity), and how it was run."""

    identity: dict  # model, firmware, serial, port, ... as the driver reports them
    rate_hz: float
    voltage_mv: int | None  # what it supplied; None: the DUT has its own supply
    voltage_source: str
    found_by: str | None = None
    measured_voltage_mv: float | None = None

    def to_json(self) -> dict:
        data = {**self.identity, "rate_hz": self.rate_hz, "voltage_mv": self.voltage_mv,
                "voltage_source": self.voltage_source}
        for name in ("found_by", "measured_voltage_mv"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "MonitorRecord":
        own = {"rate_hz", "voltage_mv", "voltage_source", "found_by", "measured_voltage_mv"}
        return cls({k: v for k, v in data.items() if k not in own}, data.get("rate_hz"), data.get("voltage_mv"),
                   data.get("voltage_source"), data.get("found_by"), data.get("measured_voltage_mv"))


@dataclass
class RelayRecord:
    """The pass-through board between the host and the DUT (energy mode)."""

    kind: str
    port: str
    dut_baud: int
    found_by: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return _json_fields(self, omit_none=("found_by",))

    @classmethod
    def from_json(cls, data: dict) -> "RelayRecord":
        return cls(**_known_and_extra(cls, data))


# -- where the figures came from --------------------------------------------------------------------
@dataclass
class FirmwareProvenance:
    sha256: str | None  # the image's, when known (the virtual lab's built or installed image)
    mode: str | None  # performance or energy, as the DUT reported it
    mode_from: str | None  # how the mode was learnt: banner, timestamp command, first infer
    profile: str | None  # the firmware's own `profile` reply


@dataclass
class MonitorProvenance:
    model: str | None
    serial: str | None
    firmware: str | None


@dataclass
class Provenance:
    """Who measured what on which bench: the part of a record a database keys results by."""

    tool_version: str
    board: str
    benchmark: str | None
    mode: str
    started: str
    finished: str | None
    bench: dict | None  # the bench file's name and ports, when one was given
    firmware: FirmwareProvenance | None
    monitor: MonitorProvenance | None
    relay: RelayRecord | None
    lab: dict | None  # the virtual lab's setup, when it stood in for the bench
    host: str | None = None  # the machine the runner ran on

    def to_json(self) -> dict:
        data = asdict(self)
        if self.relay is not None:
            data["relay"] = self.relay.to_json()
        return data


# what the virtual lab's record holds of its outcome rather than its setup
_LAB_OUTCOMES = ("model_executions", "truth")


def _firmware_sha256(lab: dict | None) -> str | None:
    firmware = (lab or {}).get("firmware") or {}
    return (firmware.get("installed") or {}).get("sha256") or firmware.get("sha256")


def _monitor_serial(identity: dict) -> str | None:
    """Drivers name it differently: a serial number, or the LPM01A's board id."""
    return identity.get("serial") or identity.get("board_id")


# -- the record -------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """Everything one run produced. The recorder (run/recorder.py) is its one writer while the run goes."""

    tool_version: str
    benchmark: str | None
    mode: str
    board: str
    run_dir: str
    started: str
    status: str = "running"
    valid: bool = False
    violations: list[Violation] = field(default_factory=list)
    bench: dict | None = None  # the bench file's description, when one was given
    bench_records: dict = field(default_factory=dict)  # what the bench source records, key by key ("lab")
    dut: DutRecord | None = None
    monitor: MonitorRecord | None = None
    relay: RelayRecord | None = None
    stimuli: Stimuli | None = None
    windows: list | None = None  # PerformanceWindow or EnergyWindow; [] once a procedure started
    calibration: Calibration | None = None
    files_done: int | None = None  # accuracy mode, as the files go
    input_results: list[InputResult] | None = None  # accuracy mode
    accuracy: AccuracyFigures | None = None
    check_outputs: dict | None = None  # run/golden.py GoldenCheck.summary()
    stream: dict | None = None  # a streamed benchmark's stream, detections and duty cycle (modes/streaming.py)
    model: ModelUsed | None = None
    quality_target: str | None = None
    figures: PerformanceFigures | EnergyFigures | None = None
    plots: list[str] | None = None
    stop_reason: str | None = None
    finished: str | None = None
    host: str | None = None  # the machine the runner ran on
    cell: dict | None = None  # the campaign cell this run measures: {"campaign", "key", "definition"}
    extra: dict = field(default_factory=dict)  # keys of a read results.json that no part claims

    @property
    def provenance(self) -> Provenance:
        lab = self.bench_records.get("lab")
        dut, identity = self.dut, self.monitor.identity if self.monitor else None
        return Provenance(
            tool_version=self.tool_version, board=self.board, benchmark=self.benchmark, mode=self.mode,
            started=self.started, finished=self.finished, bench=self.bench,
            firmware=FirmwareProvenance(_firmware_sha256(lab), dut.firmware_mode, dut.firmware_mode_from,
                                        dut.profile) if dut else None,
            monitor=MonitorProvenance(identity.get("model"), _monitor_serial(identity),
                                      identity.get("firmware")) if identity is not None else None,
            relay=self.relay,
            lab={k: v for k, v in lab.items() if k not in _LAB_OUTCOMES} if isinstance(lab, dict) else None,
            host=self.host,
        )

    def to_json(self) -> dict:
        """results.json: the keys in the order earlier versions wrote them, the new ones last."""
        data = {"tiny_runner_version": self.tool_version, "status": self.status, "benchmark": self.benchmark,
                "mode": self.mode, "board": self.board, "run_dir": self.run_dir, "started": self.started,
                "valid": self.valid, "violations": [v.text for v in self.violations]}
        if self.bench:
            data["bench"] = self.bench
        data.update(self.bench_records)
        for name in ("dut", "monitor", "relay", "stimuli"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name).to_json()
        if self.windows is not None:
            data["windows"] = [w.to_json() for w in self.windows]
        if self.calibration is not None:
            data["calibration"] = self.calibration.to_json()
        if self.files_done is not None:
            data["files_done"] = self.files_done
        if self.accuracy is not None:
            data.update(self.accuracy.to_json())
        if self.check_outputs is not None:
            data["check_outputs"] = self.check_outputs
        if self.stream is not None:
            data["stream"] = self.stream
        if self.model is not None:
            data["model"] = self.model.to_json()
        if self.quality_target is not None:
            data["quality_target"] = self.quality_target
        if self.figures is not None:
            data.update(self.figures.to_json())
        for name in ("plots", "stop_reason", "finished"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data.update(self.extra)
        if self.input_results is not None:
            data["input_results"] = [r.to_json() for r in self.input_results]
        for name in ("host", "cell"):  # keys this version adds, after those earlier ones wrote
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data["provenance"] = self.provenance.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "RunRecord":
        """A record read back from results.json (any tiny-runner version's): what `to_json` wrote
        comes back as it was; "provenance" is derived, so it is drawn again from the rest."""
        rest = dict(data)
        take = rest.pop
        mode = take("mode")
        record = cls(tool_version=take("tiny_runner_version"), benchmark=take("benchmark", None), mode=mode,
                     board=take("board"), run_dir=take("run_dir", ""), started=take("started", ""),
                     status=take("status", "running"), valid=take("valid", False),
                     violations=[Violation(text, "recorded") for text in take("violations", [])],
                     bench=take("bench", None))
        take("provenance", None)
        if "lab" in rest:
            record.bench_records["lab"] = take("lab")
        for name, section in (("dut", DutRecord), ("monitor", MonitorRecord), ("relay", RelayRecord),
                              ("stimuli", Stimuli), ("calibration", Calibration)):
            if name in rest:
                setattr(record, name, section.from_json(take(name)))
        window_type = WINDOW_TYPES.get(mode)
        if "windows" in rest and (window_type or not rest["windows"]):
            record.windows = [window_type.from_json(w) for w in take("windows")]
        if "input_results" in rest:
            record.input_results = [InputResult.from_json(r) for r in take("input_results")]
        if "model" in rest:
            record.model = ModelUsed(**take("model"))
        for name in ("files_done", "check_outputs", "stream", "quality_target", "plots", "stop_reason", "finished",
                     "host", "cell"):
            if name in rest:
                setattr(record, name, take(name))
        figures = FIGURE_TYPES.get(mode)
        names = [f.name for f in fields(figures)] if figures else []
        if names and all(name in rest for name in names):
            record.figures = figures(**{name: take(name) for name in names})
        if mode == "accuracy" and all(name in rest for name in ("files", "inferences",
                                                                "single_inference_latency_ms")):
            # the benchmark names its metrics; a record does not say which keys they were: all the
            # keys no other part claims
            record.accuracy = AccuracyFigures(
                {}, take("files"), take("inferences"), LatencySummary(**take("single_inference_latency_ms")))
            record.accuracy.metrics, rest = rest, {}
        record.extra = rest
        return record


def read_record(path: Path) -> RunRecord:
    """A run directory's results.json, read back; SessionFileError when it is not one."""
    if path.exists() and not path.is_file():
        raise SessionFileError(f"cannot read {path}: not a regular file")
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise SessionFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SessionFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SessionFileError(f"{path}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise SessionFileError(f"{path}: not a tiny-runner record (nested too deeply)") from None
    if not isinstance(data, dict):
        raise SessionFileError(f"{path}: not a tiny-runner record (a JSON object)")
    try:
        return RunRecord.from_json(data)
    except KeyError as exc:
        raise SessionFileError(f"{path}: not a tiny-runner record: it has no {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise SessionFileError(f"{path}: not a tiny-runner record ({exc})") from None


def json_view(results) -> dict:
    """results.json's dict, from a record or from a results.json already read."""
    return results.to_json() if isinstance(results, RunRecord) else results
