"""The virtual clock's determinism, the wire log's exactness, and the link's framing."""

from __future__ import annotations

import time

import pytest

from tiny_runner.errors import PortError
from tiny_runner.lab.clock import VirtualClock
from tiny_runner.protocol.link import Link
from tiny_runner.protocol.wirelog import WireLog, escape, read_wire_log, unescape


class FakeWall:
    def __init__(self):
        self.t = 100.0
        self.slept = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept += s
        self.t += s


def test_activity_is_exact_and_scaled_idle_is_wall_times_speed():
    wall = FakeWall()
    clock = VirtualClock(50.0, start_us=7, wall=wall, sleep=wall.sleep)
    clock.spend(1_000_000)  # one virtual second of work
    assert clock.now_us() == 1_000_007
    assert wall.slept == pytest.approx(0.02)  # took 1/50 s of wall time
    wall.t += 0.1  # the host thinks for 0.1 s
    clock.idle()
    assert clock.now_us() == 1_000_007 + 5_000_000


def test_running_late_never_adds_virtual_time():
    wall = FakeWall()
    clock = VirtualClock(10.0, wall=wall, sleep=lambda s: None)  # sleep that returns at once
    wall.t += 5.0  # scheduler hiccup before the work
    clock.spend(1000)
    assert clock.now_us() == 1000  # the hiccup is not in the work's duration


def test_a_stream_clock_compresses_work_but_not_the_hosts_waits():
    """sww01: the host's 0.25 s pause inside the stream's energy window must last 0.25 s."""
    wall = FakeWall()
    clock = VirtualClock(100.0, wall=wall, sleep=wall.sleep, wait_speed=1.0)
    clock.spend(320_000)  # ten frame periods of work: 3.2 ms of wall
    assert wall.slept == pytest.approx(0.0032)
    clock.wait_begin()
    wall.t += 0.25
    assert clock.horizon_us() == pytest.approx(570_000)  # a monitor sees the wait pass at wall rate
    clock.idle()
    assert clock.now_us() == pytest.approx(570_000, abs=1)
    clock.spend(1_000_000)  # and the work after it is paced at x100 again
    assert clock.now_us() == pytest.approx(1_570_000, abs=1) and wall.slept == pytest.approx(0.0132)
    with pytest.raises(ValueError, match="at most its speed"):
        VirtualClock(1.0, wait_speed=2.0)


def test_a_real_time_clock_takes_lateness_out_of_the_next_wait():
    """Host-timed edges (an SMU) need the DUT's time never to fall behind the wall clock."""
    wall = FakeWall()
    clock = VirtualClock(1.0, wall=wall, sleep=wall.sleep, realtime=True)
    clock.spend(1000)
    wall.t += 0.005  # woke 5 ms late
    clock.spend(10_000)  # the next 10 ms of work sleeps only 5 ms
    assert clock.now_us() == 11_000 and wall.t == pytest.approx(100.011)
    clock.wait_begin()
    wall.t += 0.5
    clock.idle()
    assert clock.now_us() == pytest.approx(511_000, abs=1)  # still on the wall clock
    with pytest.raises(ValueError, match="speed 1"):
        VirtualClock(2.0, realtime=True)


def test_escape_roundtrip_every_byte():
    data = bytes(range(256)) + b"\\x41\r\n"
    assert unescape(escape(data)) == data
    assert escape(b"m-ready\r\n") == "m-ready\\r\\n"


def test_link_over_loop_url_frames_lines_and_logs(tmp_path):
    log = WireLog(tmp_path / "w.log")
    with Link("loop://", 115200, log) as link:
        link.send(b"one\r\ntwo\nthr")
        assert link.read_line(time.monotonic() + 1) == "one"
        assert link.read_line(time.monotonic() + 1) == "two"
        assert link.read_line(time.monotonic() + 0.1) is None
        assert link.partial() == b"thr"
    records = read_wire_log(tmp_path / "w.log")
    assert [(d, b) for _, d, b in records] == [(">", b"one\r\ntwo\nthr"), ("<", b"one\r\ntwo\nthr")]


def test_unopenable_port_is_a_port_error():
    with pytest.raises(PortError, match="cannot open port /dev/does-not-exist"):
        Link("/dev/does-not-exist", 115200)
