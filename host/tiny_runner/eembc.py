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
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SessionFileError

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
    try:
        return path.read_bytes() if binary else path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SessionFileError(f"cannot read {path}: {exc.strerror}") from None


def analyze_session(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise SessionFileError(f"{folder} is not a folder")
    trace = _read(folder / "trace1-energy.bin", binary=True)
    if len(trace) < 5 or trace[0] != TRACE_MARKER or (len(trace) - 5) % 4:
        raise SessionFileError(f"{folder / 'trace1-energy.bin'} is not an EnergyRunner trace (0xF1, rate, float32s)")
    rate = float(np.frombuffer(trace[1:5], "<f4")[0])
    energy = np.frombuffer(trace[5:], "<f4").astype(np.float64)
    try:
        stamps = json.loads(_read(folder / "trace1-timestamps.json"))
    except json.JSONDecodeError as exc:
        raise SessionFileError(f"{folder / 'trace1-timestamps.json'}: not JSON ({exc.msg})") from None
    log = _read(folder / "log.txt")
    inferences = [int(n) for n, _ in _INFER.findall(log)]
    reported = _reported(folder / "results.txt")

    windows = []
    for k, (t1, t2) in enumerate(zip(stamps[1::2], stamps[2::2])):
        # the samples holding the edges (the epsilon keeps 2.779 s * 1000 from landing in sample 2778)
        first, last = (int(np.floor(t * rate + 1e-6)) for t in (t1, t2))
        if last >= len(energy):
            raise SessionFileError(f"edge at {t2} s lies beyond the trace ({len(energy) / rate:.3f} s)")
        number = 2 * (k + 1)
        windows.append(SessionWindow(
            number=number,
            start_s=t1,
            seconds=(last - first) / rate,
            energy_uj=float(energy[first + 1 : last + 1].sum()),
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
