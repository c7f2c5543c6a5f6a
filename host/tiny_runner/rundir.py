"""The run directory: created before anything talks to a device and written as the run goes.

    status.json     state (running / completed / failed / interrupted) and why it stopped
    log.txt         the step log: every action, in order, with host time
    wire.log        every byte to and from the DUT (wirelog.py)
    windows.jsonl   one JSON object per timed window, appended as each completes
    outputs.csv     accuracy mode: one row per input with the DUT's result vector, appended
    results.json    everything, written at the end (and, partial, when a run fails)
    results.txt     the lines the MLPerf submission checker greps
    virtual-lab.log on the virtual lab: what the virtual bench process wrote to stderr

A failed or interrupted run keeps every file it had written, with status.json saying why.
"""

from __future__ import annotations

import csv
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class RunDir:
    def __init__(self, path: Path):
        self.path = path
        self._t0 = time.monotonic()
        self._log = open(path / "log.txt", "a", encoding="utf-8")
        self._outputs = None
        self.set_status("running")

    @classmethod
    def create(cls, root: Path, label: str, explicit: Path | None = None) -> "RunDir":
        """A new run directory: `explicit` if given (must be new or empty), else root/<time>-<label>."""
        if explicit is not None:
            path = Path(explicit)
            if path.exists() and any(path.iterdir()):
                from .errors import UsageError

                raise UsageError(f"run directory {path} already exists and is not empty")
        else:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path(root) / f"{stamp}-{label}"
            suffix = 1
            while path.exists():
                suffix += 1
                path = Path(root) / f"{stamp}-{label}-{suffix}"
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    # -- the step log --------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self._log.write(f"{time.monotonic() - self._t0:9.3f}  {message}\n")
        self._log.flush()

    # -- status --------------------------------------------------------------------------------
    def set_status(self, state: str, reason: str | None = None, exit_code: int | None = None) -> None:
        data = {"state": state, "updated": utc_now()}
        if reason:
            data["reason"] = reason
        if exit_code is not None:
            data["exit_code"] = exit_code
        _write_json_atomic(self.path / "status.json", data)

    # -- incremental results ----------------------------------------------------------------------
    def append_window(self, window: dict) -> None:
        with open(self.path / "windows.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(window) + "\n")

    def append_output(self, row: list) -> None:
        if self._outputs is None:
            self._outputs_file = open(self.path / "outputs.csv", "a", newline="", encoding="utf-8")
            self._outputs = csv.writer(self._outputs_file)
        self._outputs.writerow(row)
        self._outputs_file.flush()

    def write_results(self, results: dict, results_txt: str | None = None) -> None:
        _write_json_atomic(self.path / "results.json", results)
        if results_txt is not None:
            (self.path / "results.txt").write_text(results_txt)

    def close(self) -> None:
        self._log.close()
        if self._outputs is not None:
            self._outputs_file.close()
