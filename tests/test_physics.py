"""The virtual bench's physics: exact energy between edges, power switching, bounded memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tiny_runner.lab.physics import Physics, PowerProfile


class Clock:
    def __init__(self):
        self.t = 0.0

    def now_exact_us(self):
        return self.t


def test_energy_is_exact_piecewise_and_recorded_at_falling_edges(tmp_path):
    clock = Clock()
    profile = PowerProfile(boot_a=0.010, idle_a=0.005, uart_a=0.008, compute_a=0.020)
    physics = Physics(profile, clock, tmp_path / "truth.jsonl")
    physics.set_voltage(1.8, 0)
    physics.set_power(True, 1_000)  # 1 ms off, then idle
    physics.activity(2_000, 3_000, "boot")
    physics.pin(0, 10_000)
    physics.activity(10_000, 1_010_000, "compute")  # one second of inference
    physics.pin(1, 10_500)
    physics.pin(0, 1_010_000)
    physics.activity(1_010_000, 1_012_000, "uart")
    physics.set_power(False, 1_020_000)
    e = physics.energy_at(np.array([0, 1_000, 2_000, 3_000, 10_000, 1_010_000, 1_012_000, 1_020_000, 2_000_000]))
    v = 1.8
    steps = [0, 0, 0.005 * v * 1e-3, 0.010 * v * 1e-3, 0.005 * v * 7e-3, 0.020 * v * 1.0, 0.008 * v * 2e-3,
             0.005 * v * 8e-3, 0]
    assert np.allclose(e, np.cumsum(steps), rtol=1e-12, atol=1e-15)
    physics.close()
    edges = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert [r["edge_us"] for r in edges] == [10_000, 1_010_000]
    assert edges[1]["energy_j"] - edges[0]["energy_j"] == pytest.approx(0.020 * v * 1.0, rel=1e-12)


def test_edges_go_to_the_monitor_once_and_old_breakpoints_can_be_forgotten():
    clock = Clock()
    physics = Physics(PowerProfile(0.01, 0.005, 0.008, 0.02), clock)
    physics.set_power(True, 0)
    for k in range(1000):
        physics.activity(k * 1000, k * 1000 + 500, "compute")
        physics.pin(0, k * 1000)
        physics.pin(1, k * 1000 + 100)
    assert len(physics.falling_edges_until(10_500)) == 11
    assert physics.falling_edges_until(10_500) == []
    before = physics.energy_at(np.array([999_000.0]))
    physics.forget_before(990_000)
    assert len(physics._t) < 30  # memory stays bounded however long the capture
    assert physics.energy_at(np.array([999_000.0])) == pytest.approx(before)


def test_the_board_profile_gives_the_currents():
    profile = PowerProfile.from_ma({"boot_ma": 12, "idle_ma": 7.5, "uart_ma": 9, "compute_ma": 22.688})
    assert profile.current("compute") == pytest.approx(0.022688) and profile.current("idle") == 0.0075
