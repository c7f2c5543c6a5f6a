"""Signals held back around work that must not be cut in two (a place's acquisition): the block
finishes, then the signal is delivered through the handler it would have met."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tiny_runner.run.stopping import Terminated, install_handlers, signals_held_back


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C as in a terminal: under a shell's background job (a CI runner's) it starts ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_inside_the_block_is_raised_once_it_has_finished(ctrl_c_raises):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held_back():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # where the handler would have raised
            steps.append("finished")
        steps.append("after the block")  # never: the signal is delivered as the block ends
    assert steps == ["finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_the_process_ignores_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals_held_back():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        time.sleep(0.05)  # delivered again after the block, and ignored as before
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_sigterm_is_delivered_through_the_runs_own_handler():
    before = signal.getsignal(signal.SIGTERM)
    install_handlers()
    try:
        with pytest.raises(Terminated, match="SIGTERM"):
            with signals_held_back():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_block_without_a_signal_raises_nothing_and_outside_the_main_thread_holds_nothing():
    with signals_held_back():
        pass
    errors = []

    def worker():
        try:
            with signals_held_back():  # signal.signal would raise here: handlers belong to the main thread
                pass
        except ValueError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors == []
