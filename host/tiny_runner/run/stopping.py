"""How a run stops when asked to: Ctrl-C (SIGINT) from the person at the terminal, or SIGTERM
(SIGHUP) from a scheduler, CI or a closed terminal. Both unwind the run the same way (data kept,
status written), but the record says which it was; and no lab process outlives the runner.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
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


@contextmanager
def signals_held_back():
    """Hold SIGINT, SIGTERM and SIGHUP back for a few milliseconds of work that must not be cut in
    two (a request to a server and the reply that says it was done); one that came meanwhile is
    delivered right after. Unlike signals_deferred it swaps the Python handlers rather than
    masking the signal, so it holds even when the OS hands the signal to another thread (a gRPC
    client's). Outside the main thread, where handlers cannot be set, it holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    signums = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum)) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])  # through the handler it would have met


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
