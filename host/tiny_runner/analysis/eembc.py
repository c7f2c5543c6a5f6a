"""Re-analysing an EEMBC EnergyRunner energy session (reference/eembc-session-example/README.md).

    trace1-energy.bin       one byte 0xF1, float32 sample rate, then float32 energy per sample (µJ)
    trace1-timestamps.json  the timestamp-pin falling edges, seconds from the trace start
    log.txt                 the runner's log: `infer N W` commands give the inferences per window
    results.txt             (optional) what the runner reported, to compare with

Windows are the intervals between consecutive edge pairs after the first edge (the first comes
from the initial `timestamp` command): EEMBC windows 2, 4, 6, 8, 10. A window's energy is the
sum of the samples after the one holding its first edge through the one holding its second,
the same rule tiny-runner applies to its own captures.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SessionFileError

TRACE_MARKER = 0xF1
_INFER = re.compile(r'Command "io dut infer (\d+) (\d+)"')
_WINDOW = re.compile(r"Energy data for window (\d+) at time ([\d.]+) for ([\d.]+) sec\.")
_FIELD = re.compile(r"(Energy|Power|Energy/Inf\.)\s*:\s*([\d.]+)")
_MEDIAN = re.compile(r"Median energy cost is\s+([\d.]+) uJ/inf")


@dataclass
class SessionWindow:
    number: int  # EEMBC's numbering
    start_s: float
    seconds: float
    energy_uj: float
    inferences: int | None
    reported_energy_uj: float | None = None

    @property
    def energy_uj_per_inf(self) -> float | None:
        return self.energy_uj / self.inferences if self.inferences else None

    @property
    def power_mw(self) -> float:
        return self.energy_uj / self.seconds / 1e3

    @property
    def difference_pct(self) -> float | None:
        if not self.reported_energy_uj:
            return None
        return (self.energy_uj / self.reported_energy_uj - 1) * 100


def _read(path: Path, binary: bool = False):
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read
        raise SessionFileError(f"cannot read {path}: not a regular file")
    try:
        return path.read_bytes() if binary else path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SessionFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_trace(path: Path) -> tuple[float, np.ndarray]:
    """The sample rate and the energy per sample (µJ) of an EnergyRunner trace."""
    trace = _read(path, binary=True)
    if len(trace) < 5 or trace[0] != TRACE_MARKER or (len(trace) - 5) % 4:
        raise SessionFileError(f"{path} is not an EnergyRunner trace (0xF1, rate, float32s)")
    rate = float(np.frombuffer(trace[1:5], "<f4")[0])
    if not (math.isfinite(rate) and rate > 0):
        raise SessionFileError(f"{path}: sample rate {rate:g} Hz; a trace's rate is a positive number")
    return rate, np.frombuffer(trace[5:], "<f4").astype(np.float64)


def _read_edges(path: Path) -> list[float]:
    """The timestamp edges: a JSON list of increasing times in seconds, the initial edge then
    two per window."""
    try:
        stamps = json.loads(_read(path, binary=True))
    except UnicodeDecodeError:
        raise SessionFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SessionFileError(f"{path}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise SessionFileError(f"{path}: not a list of edge times (nested too deeply)") from None
    if not isinstance(stamps, list):
        raise SessionFileError(f"{path}: expected a list of edge times in seconds, got {_json_kind(stamps)}")
    for k, t in enumerate(stamps):
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise SessionFileError(f"{path}: edge {k} is {_json_kind(t)}, not a time in seconds")
        if not _finite(t):
            raise SessionFileError(f"{path}: edge {k} is {str(t)[:24]}, not a finite time in seconds")
        if t < 0:
            raise SessionFileError(f"{path}: edge {k} is at {t} s; edge times count from the start of the trace")
        if k and t <= stamps[k - 1]:
            raise SessionFileError(f"{path}: edge {k} ({t} s) does not come after edge {k - 1} ({stamps[k - 1]} s); "
                                   "edge times must increase")
    if len(stamps) < 3 or len(stamps) % 2 == 0:
        count = f"{len(stamps)} edge{'' if len(stamps) == 1 else 's'}"
        raise SessionFileError(f"{path}: {count}; a session has the initial edge then two per window (3, 5, 7, ... "
                               "edges)")
    return [float(t) for t in stamps]


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), repr(value))


def analyze_session(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise SessionFileError(f"{folder} is not a folder")
    trace_path = folder / "trace1-energy.bin"
    rate, energy = _read_trace(trace_path)
    stamps = _read_edges(folder / "trace1-timestamps.json")
    log = _read(folder / "log.txt")
    inferences = [int(n) for n, _ in _INFER.findall(log)]
    reported = _reported(folder / "results.txt")

    windows = []
    for k, (t1, t2) in enumerate(zip(stamps[1::2], stamps[2::2])):
        number = 2 * (k + 1)
        # the samples holding the edges (the epsilon keeps 2.779 s * 1000 from landing in sample 2778)
        first, last = (t * rate + 1e-6 for t in (t1, t2))
        if not last < len(energy):
            raise SessionFileError(f"edge at {t2} s lies beyond the trace ({len(energy) / rate:.3f} s)")
        first, last = math.floor(first), math.floor(last)
        if last == first:
            raise SessionFileError(f"window {number}: its edges at {t1} s and {t2} s fall in one sample of "
                                   f"{trace_path} ({rate:g} Hz)")
        samples = energy[first + 1 : last + 1]
        if not np.isfinite(samples).all():
            bad = first + 1 + int(np.flatnonzero(~np.isfinite(samples))[0])
            raise SessionFileError(f"{trace_path}: sample {bad}, inside window {number}, is {energy[bad]}, "
                                   "not an energy")
        energy_uj = float(samples.sum())
        if energy_uj < 0:
            raise SessionFileError(f"{trace_path}: window {number} sums to {energy_uj:.3f} uJ; energy per sample "
                                   "cannot add up to less than nothing")
        windows.append(SessionWindow(
            number=number,
            start_s=t1,
            seconds=(last - first) / rate,
            energy_uj=energy_uj,
            inferences=inferences[k] if k < len(inferences) else None,
            reported_energy_uj=reported["windows"].get(number),
        ))
    per_inf = [w.energy_uj_per_inf for w in windows if w.energy_uj_per_inf is not None]
    return {
        "session": str(folder),
        "rate_hz": rate,
        "samples": len(energy),
        "windows": windows,
        "median_energy_uj_per_inf": statistics.median(per_inf) if per_inf else None,
        "reported_median_energy_uj_per_inf": reported["median"],
    }


def _reported(path: Path) -> dict:
    """Window energies and the median the EnergyRunner wrote, if its results.txt is there."""
    out = {"windows": {}, "median": None}
    if not path.is_file():
        return out
    window = None
    for line in _read(path).splitlines():
        match = _WINDOW.search(line)
        if match:
            window = int(match.group(1))
            continue
        field = _FIELD.search(line)
        if field and window is not None and field.group(1) == "Energy":
            out["windows"][window] = float(field.group(2))
        median = _MEDIAN.search(line)
        if median:
            out["median"] = float(median.group(1))
    return out
