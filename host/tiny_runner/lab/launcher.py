"""Starting and stopping a virtual bench process from the runner (the parent side)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path

from ..errors import LabError, PortError
from ..run.stopping import lab_process_options
from .bench_process import BenchConfig

_QUIT_TIMEOUT_S = 1.5  # it answers `quit` at once; a bench that does not is killed, so Ctrl-C takes < 2 s
_START_TIMEOUT_S = 60.0  # loading a model into TFLM takes well under a second; be generous on slow CI


def describe_exit(proc: subprocess.Popen) -> str:
    """How a child process ended, in words, or that it has not."""
    code = proc.poll()
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def end_process(proc: subprocess.Popen, timeout_s: float = 1.5) -> None:
    """SIGTERM, then SIGKILL if it has not gone within timeout_s (or a second Ctrl-C came)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
            raise


class LabProcess:
    """What the runner asks of any lab process (virtual bench, firmware DUT): is it alive, how
    did it end. Subclasses set `_proc` and say in `_ended()` what its end means."""

    _proc: subprocess.Popen

    def alive(self) -> bool:
        return self._proc.poll() is None

    def exit_description(self) -> str:
        return describe_exit(self._proc)

    def failure(self, wait_s: float = 0.0) -> LabError | None:
        """A LabError if the process has ended, else None. A process that is going down (its port
        just broke) gets up to wait_s to finish exiting before it counts as alive."""
        if wait_s and self.alive():
            try:
                self._proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        return None if self.alive() else self._ended()

    def _ended(self) -> LabError:
        raise NotImplementedError


class VirtualBench(LabProcess):
    """A virtual bench process. `ports` names what to open: {"dut": url} when the DUT is wired
    straight to the host (`power_on()` boots it), {"relay": path, "monitor": path} on the
    energy bench (the monitor powers the DUT)."""

    banner_on_power_on = True  # the host is listening before the DUT boots

    def __init__(self, config: BenchConfig, log_path: Path | None = None):
        self.config = config
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tiny_runner.lab.bench_process", config.to_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            **lab_process_options(),
        )
        self.stats: dict = {}
        try:
            self.ports: dict = self._wait_ready()
        except KeyboardInterrupt:  # nobody else holds it yet to end it
            self.stop(hurry=True)
            raise

    @property
    def url(self) -> str:
        return self.ports["dut"]

    def _wait_ready(self) -> dict:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.5)
            if ready:
                line = self._proc.stdout.readline()
                if line.startswith("ready "):
                    return json.loads(line.split(" ", 1)[1])
                if line.startswith("failed "):
                    failed = json.loads(line.split(" ", 1)[1])
                    self.stop()
                    raise PortError(f"cannot open {failed['port']}: {failed['reason']}")
                if not line:
                    break
        self.stop()
        raise LabError(f"the virtual bench did not start ({self.exit_description()}){self._log_hint()}")

    def power_on(self) -> None:
        """Boot the firmware (the banner goes out on the port)."""
        self._send("boot")

    def _send(self, command: str) -> None:
        try:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise LabError(f"the virtual bench is gone ({self.exit_description()}){self._log_hint()}") from None

    def _ended(self) -> LabError:
        return LabError(f"the virtual bench process died ({self.exit_description()}){self._log_hint()}")

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    def stop(self, hurry: bool = False) -> None:
        """Ask it to quit and collect its statistics; hurry (an interrupted run): just end it."""
        if hurry:
            end_process(self._proc, timeout_s=0.5)
            for stream in (self._proc.stdin, self._proc.stdout):
                stream.close()
        if self._proc.poll() is None:
            try:
                out, _ = self._proc.communicate(input="quit\n", timeout=_QUIT_TIMEOUT_S)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):  # a second Ctrl-C: no waiting
                self._proc.kill()
                out, _ = self._proc.communicate()
            except (BrokenPipeError, ValueError, OSError):
                out = ""
            for line in (out or "").splitlines():
                if line.startswith("stats "):
                    self.stats = json.loads(line[6:])
        if self._log is not subprocess.DEVNULL:
            self._log.close()
            self._log = subprocess.DEVNULL

    def __enter__(self) -> "VirtualBench":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
