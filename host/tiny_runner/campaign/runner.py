"""Running a campaign: one worker per bench, each measuring its bench's cells one after the other
(never two on one bench), all benches at once. Each cell is a `tiny-runner measure` process, so
a cell that crashes, hangs up or is interrupted takes nothing else down; it records its run in
the results database itself, and the campaign records the cell's state beside it (`cells`):
pending, running, completed, failed (with the reason), interrupted.

A bench with firmware images has its cells in image order; before the first cell of an image
that still has something to measure, the worker flashes it (`tiny-runner flash`, 1 + retries
tries). An image that cannot be flashed fails its cells with the reason, and the worker goes on
with the next image. A cell that ran other firmware than its image (on a board that reports what
it runs) is failed, not completed.

Resuming is running the campaign again: a cell whose key (its definition and firmware hash) is
recorded as completed is skipped; a failed one gets 1 + retries attempts again (the attempts
column counts them all); an interrupted one is run again, the interruption not counted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..db.store import ResultsDb
from ..errors import ResultNotValid
from ..run.stopping import Terminated
from .plan import Campaign, Cell

INTERRUPTED_CODES = (130, 143)


@dataclass
class Tally:
    """What the campaign has done so far, for the progress line and the end."""

    total: int
    done: int = 0  # completed now or before
    skipped: int = 0  # completed before (not measured again)
    not_valid: int = 0
    failed: int = 0  # failed every attempt
    running: int = 0
    seconds: list[float] = field(default_factory=list)  # each measured cell's wall time

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed - self.running


class CampaignRunner:
    def __init__(self, campaign: Campaign, db_path: Path, runs_root: Path, report=None):
        self.campaign = campaign
        self.db_path = db_path
        self.runs_root = runs_root
        self.report = report or (lambda line: None)
        self.tally = Tally(len(campaign.cells))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._children: set[subprocess.Popen] = set()
        self.outcomes: dict[str, dict] = {}  # cell key -> its last state

    # -- the whole campaign -----------------------------------------------------------------------
    def run(self) -> Tally:
        with ResultsDb(self.db_path) as db:  # created and migrated once, before the workers race on rows
            for cell in self.campaign.cells:
                if db.cell(self.campaign.name, cell.key) is None:
                    db.set_cell(self.campaign.name, cell.key, cell.definition, "pending", 0)
        finished = {bench.name: threading.Event() for bench in self.campaign.benches}
        workers = [threading.Thread(target=self._work, args=(name, done), name=f"bench {name}")
                   for name, done in finished.items()]
        began = time.monotonic()
        for worker in workers:
            worker.start()
        try:
            _wait_all(finished.values())
        except KeyboardInterrupt as exc:
            self._stop.set()
            # Ctrl-C reaches the whole process group: each cell in progress stops and records itself.
            # A SIGTERM or SIGHUP reached this process alone: it is passed on.
            if isinstance(exc, Terminated):
                with self._lock:
                    for child in self._children:
                        child.send_signal(signal.SIGTERM)
            _wait_all(finished.values())  # the workers record how their cells ended
            raise
        self.wall_s = time.monotonic() - began
        return self.tally

    def _work(self, bench: str, finished: threading.Event) -> None:
        try:
            with ResultsDb(self.db_path) as db:
                flashed = None  # the image this worker flashed last
                unflashable: dict[str, str] = {}  # image name -> why it could not be flashed
                for cell in (c for c in self.campaign.cells if c.bench.name == bench):
                    if self._stop.is_set():
                        return
                    image = cell.image
                    if image and image != flashed and not self._completed(db, cell):
                        if image.name not in unflashable:
                            reason = self._flash(cell)
                            if self._stop.is_set():
                                return
                            if reason:
                                unflashable[image.name] = reason
                            else:
                                flashed = image
                        if image.name in unflashable:
                            self._fail_unmeasured(db, cell, unflashable[image.name])
                            continue
                    self._run_cell(db, cell)
        finally:
            finished.set()

    # -- flashing an image ------------------------------------------------------------------------
    def _completed(self, db: ResultsDb, cell: Cell) -> bool:
        return (db.cell(self.campaign.name, cell.key) or {}).get("state") == "completed"

    def _flash(self, cell: Cell) -> str | None:
        """Flash the cell's image on its bench's board: None when done, else why not."""
        bench, image = cell.bench, cell.image
        command = [sys.executable, "-m", "tiny_runner", "flash", "--board", bench.flash_board, image.path,
                   "--json", "--quiet", *(["--probe", bench.probe] if bench.probe else [])]
        reason = None
        for attempt in range(1, self.campaign.retries + 2):
            began = time.monotonic()
            code, out, reason = self._child(command)
            if code in INTERRUPTED_CODES:
                self._stop.set()
                return "interrupted"
            if code == 0:
                flashed = _flashed_sha256(out)
                if flashed == image.sha256:
                    self.report(f"{bench.name}: flashed image {image.name} ({image.sha256[:12]}) on "
                                f"{bench.flash_board} in {time.monotonic() - began:.1f} s")
                    return None
                reason = (f"{image.path} changed since the campaign was loaded (sha256 {str(flashed)[:12]}, was "
                          f"{image.sha256[:12]}); run the campaign again to measure the new image")
                break  # flashing it again flashes the same new file
            self.report(f"{bench.name}: flashing image {image.name}, attempt {attempt} failed: {reason}")
        return f"flashing image {image.name} failed: {reason}"

    def _fail_unmeasured(self, db: ResultsDb, cell: Cell, reason: str) -> None:
        """A cell whose image could not be flashed: failed, counted as an attempt, never measured."""
        name, key = self.campaign.name, cell.key
        attempts = (db.cell(name, key) or {"attempts": 0})["attempts"] + 1
        db.set_cell(name, key, cell.definition, "failed", attempts, reason)
        self._count(cell, "failed", db.cell(name, key))

    # -- one cell ---------------------------------------------------------------------------------
    def _run_cell(self, db: ResultsDb, cell: Cell) -> None:
        name, key = self.campaign.name, cell.key
        recorded = db.cell(name, key) or {"state": "pending", "attempts": 0}
        if recorded["state"] == "completed":
            runs = db.runs(run_dir=recorded["run_dir"]) if recorded["run_dir"] else []
            self._count(cell, "skipped", {"run_dir": recorded["run_dir"], "valid": runs[0]["valid"] if runs else None})
            return
        attempts = recorded["attempts"]  # over every run of the campaign
        tries = 0  # in this run: a failed cell gets 1 + retries again each time the campaign is resumed
        while tries <= self.campaign.retries and not self._stop.is_set():
            db.set_cell(name, key, cell.definition, "running", attempts)
            self._change(running=1)
            began = time.monotonic()
            code, results, reason = self._measure(cell)
            other = other_firmware(cell, results) if code in (0, ResultNotValid.exit_code) else None
            if other:
                code, reason = -1, other
            if code in INTERRUPTED_CODES:
                db.set_cell(name, key, cell.definition, "interrupted", attempts, reason)
                self._stop.set()
                self._change(running=-1)
                return
            attempts, tries = attempts + 1, tries + 1
            run_dir = results.get("run_dir") if results else None
            if code in (0, ResultNotValid.exit_code):
                db.set_cell(name, key, cell.definition, "completed", attempts, None, run_dir)
                with self._lock:
                    self.tally.seconds.append(time.monotonic() - began)
                self._count(cell, "completed", {"valid": results["valid"], "run_dir": run_dir}, was_running=True)
                return
            db.set_cell(name, key, cell.definition, "failed", attempts, reason, run_dir)
            self.report(f"{cell.label}: attempt {attempts} failed: {reason}")
            if tries > self.campaign.retries or self._stop.is_set():
                self._count(cell, "failed", db.cell(name, key), was_running=True)
                return
            self._change(running=-1)

    def _measure(self, cell: Cell) -> tuple[int, dict | None, str | None]:
        marker = json.dumps({"campaign": self.campaign.name, "key": cell.key, "definition": cell.definition})
        command = [sys.executable, "-m", "tiny_runner", "measure", *cell.measure_args(), "--out",
                   str(self.runs_root), "--db", str(self.db_path), "--json", "--quiet", "--campaign-cell", marker]
        code, out, reason = self._child(command)
        results = _json(out)
        return code, results, None if code in (0, ResultNotValid.exit_code) else reason

    def _child(self, command: list[str]) -> tuple[int, str, str]:
        """Run one tiny-runner process: its exit code, its stdout and the reason it gives on stderr."""
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with self._lock:
            self._children.add(process)
        try:
            out, err = process.communicate()
        finally:
            with self._lock:
                self._children.discard(process)
        errors = [line for line in err.splitlines() if line.startswith("tiny-runner: error:")]
        reason = (errors[-1].removeprefix("tiny-runner: error: ") if errors
                  else (err.strip().splitlines() or [f"exit code {process.returncode}"])[-1])
        return process.returncode, out, reason

    # -- progress ---------------------------------------------------------------------------------
    def _change(self, running: int) -> None:
        with self._lock:
            self.tally.running += running
        self._progress()

    def _count(self, cell: Cell, state: str, detail: dict, was_running: bool = False) -> None:
        with self._lock:
            self.tally.running -= was_running  # in the same step, so no line counts the cell twice
            if state in ("completed", "skipped"):
                self.tally.done += 1
                self.tally.skipped += state == "skipped"
                self.tally.not_valid += detail.get("valid") is False
            else:
                self.tally.failed += 1
            self.outcomes[cell.key] = {"cell": cell, "state": state, **(detail or {})}
        self._progress()

    def _progress(self) -> None:
        with self._lock:
            t = self.tally
            eta = ""
            if t.seconds and t.remaining + t.running:
                per_cell = sum(t.seconds) / len(t.seconds)
                eta = f", ETA {_duration(per_cell * (t.remaining + t.running) / max(1, len(self.campaign.benches)))}"
            line = (f"campaign {self.campaign.name}: done {t.done} ({t.skipped} before) / running {t.running} / "
                    f"failed {t.failed} / remaining {t.remaining}{eta}")
        self.report(line)


def _json(out: str) -> dict | None:
    try:
        return json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        return None


def _flashed_sha256(out: str) -> str | None:
    """The sha256 of what `flash --json` programmed or installed."""
    described = _json(out) or {}
    return ((described.get("installed") or {}).get("sha256")
            or (described.get("image") or {}).get("sha256"))


def other_firmware(cell: Cell, results: dict | None) -> str | None:
    """Why a cell's run does not count for its image: the board reported running other firmware
    (the boards that run on this machine report the image they ran; real boards report none)."""
    if cell.image is None or not results:
        return None
    firmware = (results.get("lab") or {}).get("firmware")
    if firmware is None:
        return None
    ran = (firmware.get("installed") or {}).get("sha256")
    if ran == cell.image.sha256:
        return None
    what = f"firmware {ran[:12]}" if ran else "an image it built itself (none was installed)"
    return (f"the board ran {what}, not image {cell.image.name} ({cell.image.sha256[:12]}): was it flashed or "
            "erased meanwhile?")


def _wait_all(events) -> None:
    """Until every worker has finished. Events, not Thread.join: a join that a signal interrupts
    can leave the thread looking finished, and the campaign would exit under a cell in progress."""
    for event in events:
        while not event.wait(0.2):
            pass


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
