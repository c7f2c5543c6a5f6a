"""The published MLPerf Tiny results table: one row per system × benchmark of every round from
v0.5 to v1.3, each with its source (the results repository, its commit, the results folder and
the system's JSON in it), and how each value was read (`value_provenance`).

The package ships the table. `tiny-runner published update FILE` checks a newer one and keeps it
in this user's state folder, where it takes the place of the shipped copy (the installed package
is never written); `published reset` goes back to the shipped one.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import PublishedTableError
from ..image.installed import state_root

FILE_NAME = "mlperf_tiny_results.csv"
COLUMNS = (
    "round", "division", "submitter", "system_id", "board_name", "soc", "processor", "processor_freq",
    "accelerator", "accelerator_freq", "inference_framework", "status", "benchmark", "model_variant",
    "throughput_inf_per_s", "latency_ms", "perf_inferences_per_window", "top1_pct", "auc", "energy_uJ_per_inf",
    "energy_mode_throughput_inf_per_s", "energy_mode_latency_ms", "median_window_power_mW",
    "energy_inferences_per_window", "energy_window_s", "supply_mV", "energy_monitor", "sww_tp", "sww_fn", "sww_fp",
    "sww_duty_cycle", "sww_est_throughput", "value_provenance", "notes", "results_dir", "system_json", "repo",
    "commit",
)
NUMERIC = (
    "throughput_inf_per_s", "latency_ms", "perf_inferences_per_window", "top1_pct", "auc", "energy_uJ_per_inf",
    "energy_mode_throughput_inf_per_s", "energy_mode_latency_ms", "median_window_power_mW",
    "energy_inferences_per_window", "energy_window_s", "supply_mV", "sww_tp", "sww_fn", "sww_fp", "sww_duty_cycle",
    "sww_est_throughput",
)
REQUIRED = ("round", "division", "submitter", "system_id", "benchmark", "results_dir", "repo", "commit")
BENCHMARKS = ("kws", "vww", "ic", "ad", "sww")
DIVISIONS = ("closed", "open")
MAX_BYTES = 16 * 1024 * 1024  # the 365-row table is 160 KB; a file far larger is not this table
_ROUND = re.compile(r"^v\d+\.\d+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_IDENTITY = ("round", "division", "submitter", "system_id", "benchmark", "model_variant")


@dataclass(frozen=True)
class PublishedTable:
    path: Path
    updated: bool  # True: the copy `published update` kept; False: the one the package ships
    rows: tuple[dict, ...]  # NUMERIC columns as floats (None where empty), the others as text

    @property
    def rounds(self) -> list[str]:
        return sorted({r["round"] for r in self.rows}, key=lambda r: tuple(int(p) for p in r[1:].split(".")))


def shipped_path() -> Path:
    return Path(str(resources.files(__package__) / FILE_NAME))


def updated_path() -> Path:
    return state_root() / "published" / FILE_NAME


def load_table() -> PublishedTable:
    """The table in use: the updated copy when there is one, else the shipped one."""
    updated = updated_path()
    path = updated if updated.is_file() else shipped_path()
    return PublishedTable(path, path == updated, read_table(path))


def update_table(source: Path) -> PublishedTable:
    """Check `source` as a whole, then keep it as this user's table (written whole or not at all)."""
    data = _read_bytes(source)
    rows = parse_table(source, data)
    target = updated_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)  # the bytes that were checked, whatever the file holds by now
    os.replace(partial, target)
    return PublishedTable(target, True, rows)


def reset_table() -> bool:
    """Go back to the shipped table; True when an updated copy was removed."""
    updated = updated_path()
    if updated.is_file():
        updated.unlink()
        return True
    return False


def read_table(path: Path) -> tuple[dict, ...]:
    return parse_table(path, _read_bytes(path))


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise PublishedTableError(f"{path}: {path.stat().st_size:,} bytes; the published results table is far "
                                      f"smaller (at most {MAX_BYTES // 2**20} MiB)")
        return path.read_bytes()
    except OSError as exc:
        raise PublishedTableError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_table(path: Path, data: bytes) -> tuple[dict, ...]:
    """The rows of a table file's bytes, every one checked; `path` names it in the errors."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PublishedTableError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise PublishedTableError(f"{path}: no column {missing[0]!r}; the table has the columns "
                                  f"{', '.join(COLUMNS[:4])}, … {', '.join(COLUMNS[-2:])}")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise PublishedTableError(f"{path}: column {(unknown or header)[0]!r} is not one of the table's or is twice")
    rows, seen = [], {}
    try:
        for raw in reader:
            rows.append(_row(path, reader.line_num, raw, seen))
    except csv.Error as exc:
        raise PublishedTableError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
    if not rows:
        raise PublishedTableError(f"{path}: the table has no rows")
    return tuple(rows)


def _row(path: Path, line: int, raw: dict, seen: dict) -> dict:
    where = f"{path}:{line}"
    if None in raw or any(value is None for value in raw.values()):
        raise PublishedTableError(f"{where}: {len(COLUMNS)} fields expected")
    row: dict = {}
    for column in COLUMNS:
        value = raw[column].strip()
        if column in NUMERIC:
            row[column] = _number(where, column, value)
        else:
            row[column] = value
    empty = [c for c in REQUIRED if not row[c]]
    if empty:
        raise PublishedTableError(f"{where}: {empty[0]} is empty; every row names its system and its source")
    if not _ROUND.match(row["round"]):
        raise PublishedTableError(f"{where}: round {row['round']!r}; rounds are written v0.5, v1.3, …")
    if row["benchmark"] not in BENCHMARKS:
        raise PublishedTableError(f"{where}: benchmark {row['benchmark']!r}; one of {', '.join(BENCHMARKS)}")
    if row["division"] not in DIVISIONS:
        raise PublishedTableError(f"{where}: division {row['division']!r}; one of {', '.join(DIVISIONS)}")
    if not _COMMIT.match(row["commit"]):
        raise PublishedTableError(f"{where}: commit {row['commit']!r} is not a 40-digit git commit")
    identity = tuple(row[c] for c in _IDENTITY)
    if identity in seen:
        raise PublishedTableError(f"{where}: the same result as line {seen[identity]} ({', '.join(identity[:5])})")
    seen[identity] = line
    return row


def _number(where: str, column: str, text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise PublishedTableError(f"{where}: {column} {text!r} is not a number ≥ 0")
    return value
