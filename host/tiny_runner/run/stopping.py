"""How a run stops when asked to: Ctrl-C (SIGINT) from the person at the terminal, or SIGTERM
(SIGHUP) from a scheduler, CI or a closed terminal. Both unwind the run the same way (data kept,
status written), but the record says which it was; and no lab process outlives the runner.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """A termination signal, raised where the run is, so every cleanup that Ctrl-C gets runs too."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def install_handlers() -> None:
    """SIGTERM and SIGHUP stop the run like Ctrl-C does, told apart in the record."""
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, _raise_terminated)


def ignore_further() -> None:
    """Once the run has stopped, a second Ctrl-C (or SIGTERM) must not break the last words."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def how_stopped(exc: KeyboardInterrupt) -> tuple[str, str]:
    """(state, reason) for status.json."""
    if isinstance(exc, Terminated):
        return "terminated", f"terminated by {exc.signal_name}"
    return "interrupted", "interrupted by the user (Ctrl-C)"


@contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back while a record that must be whole is written; a signal that
    came meanwhile is delivered right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_PR_SET_PDEATHSIG = 1
_prctl = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child only calls it
    except (OSError, AttributeError):
        _prctl = None


def _die_with_runner(runner_pid: int):
    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != runner_pid:  # the runner died before the line above took effect
            os._exit(1)

    return preexec


def lab_process_options() -> dict:
    """subprocess.Popen options for a process the runner starts and ends itself (virtual bench,
    firmware DUT, QEMU): its own session, so a terminal's Ctrl-C reaches the runner alone and the
    runner ends it in order; on Linux it is killed if the runner dies first (a second Ctrl-C, a
    SIGKILL), so it cannot be left running."""
    options: dict = {"start_new_session": True}
    if _prctl is not None:
        options["preexec_fn"] = _die_with_runner(os.getpid())
    return options
