"""The run directory: created before anything talks to a device and written as the run goes.

    status.json     state (running / completed / failed / interrupted) and why it stopped
    log.txt         the step log: every action, in order, with host time
    wire.log        every byte to and from the DUT (wirelog.py)
    windows.jsonl   one JSON object per timed window, appended as each completes
    outputs.csv     accuracy mode: one row per input with the DUT's result vector, appended
    results.json    the run's record (record.py), written at the end (and, partial, when a run fails)
    results.txt     the lines the MLPerf submission checker greps
    virtual-lab.log on the virtual lab: what the virtual bench process wrote to stderr

The recorder (recorder.py) is what writes the results files, through this class.
A failed or interrupted run keeps every file it had written, with status.json saying why.
A file that cannot be written (a full disk, a read-only folder) stops the run with RunDirError:
a run that cannot keep its record is not measured on.
"""

from __future__ import annotations

import csv
import errno
import itertools
import json
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import RunDirError, UsageError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_failure(path: Path, exc: OSError) -> RunDirError:
    """The one-line error for a run-directory file that could not be written."""
    reason = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        reason += " (the disk holding the run directory is full)"
    return RunDirError(f"cannot write {path}: {reason}")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, named for this process alone, and
    rename it into place; the temporary file never outlives a failure."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _overwrite(path: Path, text: str) -> None:
    """On a full disk a new file gets no space, but truncating the old one frees what it held."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _create_numbered(root: Path, name: str) -> Path:
    """root/name, or root/name-2, -3, ...: the first one this process creates itself (mkdir is the
    claim, so two runs started in the same second never share a directory)."""
    for suffix in itertools.count(1):  # ends at the first name no one has taken
        path = root / (name if suffix == 1 else f"{name}-{suffix}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunDirError(f"cannot create run directory {path}: {exc.strerror or exc}") from None


def _create_runs_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise RunDirError(f"the runs folder {root} exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the runs folder {root}: {exc.strerror or exc}") from None


def _create_explicit(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise RunDirError(f"run directory {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        empty = not any(path.iterdir())
    except OSError as exc:
        raise RunDirError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    if not empty:
        raise UsageError(f"run directory {path} already exists and is not empty")


class RunDir:
    def __init__(self, path: Path, *, exclusive: bool = False):
        """exclusive: log.txt must not exist yet (a second run given the same empty folder stops here)."""
        self.path = path
        self._t0 = time.monotonic()
        self._outputs = None
        self._log_failed = False  # after its first failure the step log is quiet, so unwinding is not cut short
        log_path = path / "log.txt"
        try:
            self._log = open(log_path, "x" if exclusive else "a", encoding="utf-8")
        except FileExistsError:
            raise UsageError(f"run directory {path} already exists and is not empty") from None
        except OSError as exc:
            raise write_failure(log_path, exc) from None
        try:
            self.set_status("running")
        except RunDirError:
            self._log.close()
            raise

    @classmethod
    def create(cls, root: Path, label: str, explicit: Path | None = None) -> "RunDir":
        """A new run directory: `explicit` if given (must be new or empty), else root/<time>-<label>."""
        if explicit is not None:
            _create_explicit(Path(explicit))
            return cls(Path(explicit), exclusive=True)
        _create_runs_root(Path(root))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return cls(_create_numbered(Path(root), f"{stamp}-{label}"))

    # -- the step log --------------------------------------------------------------------------
    def log(self, message: str) -> None:
        if self._log_failed:
            return
        try:
            self._log.write(f"{time.monotonic() - self._t0:9.3f}  {message}\n")
            self._log.flush()
        except OSError as exc:
            self._log_failed = True
            raise write_failure(self.path / "log.txt", exc) from None

    # -- status --------------------------------------------------------------------------------
    def set_status(self, state: str, reason: str | None = None, exit_code: int | None = None) -> None:
        data = {"state": state, "updated": utc_now()}
        if reason:
            data["reason"] = reason
        if exit_code is not None:
            data["exit_code"] = exit_code
        path, text = self.path / "status.json", json.dumps(data, indent=2) + "\n"
        try:
            write_atomic(path, text)
        except OSError as exc:
            if exc.errno not in _NO_SPACE or not path.is_file():
                raise write_failure(path, exc) from None
            try:  # a stale "running" would be worse than a status written in place
                _overwrite(path, text)
            except OSError:
                raise write_failure(path, exc) from None

    # -- incremental results ----------------------------------------------------------------------
    def append_window(self, window: dict) -> None:
        path = self.path / "windows.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(window) + "\n")
        except OSError as exc:
            raise write_failure(path, exc) from None

    def append_output(self, row: list) -> None:
        path = self.path / "outputs.csv"
        try:
            if self._outputs is None:
                self._outputs_file = open(path, "a", newline="", encoding="utf-8")
                self._outputs = csv.writer(self._outputs_file)
            self._outputs.writerow(row)
            self._outputs_file.flush()
        except OSError as exc:
            raise write_failure(path, exc) from None

    def write_results(self, results: dict, results_txt: str | None = None) -> None:
        files = [("results.json", json.dumps(results, indent=2) + "\n")]
        if results_txt is not None:
            files.append(("results.txt", results_txt))
        for name, text in files:
            try:
                write_atomic(self.path / name, text)
            except OSError as exc:
                raise write_failure(self.path / name, exc) from None

    def close(self) -> None:
        for f in (self._log, self._outputs_file if self._outputs is not None else None):
            if f is None:
                continue
            try:
                f.close()
            except OSError:  # what could not be flushed was already reported
                pass
