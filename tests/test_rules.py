"""Run rules and the iteration calibration."""

from __future__ import annotations

from tiny_runner.run import rules


def test_probe_grows_until_half_a_second():
    assert rules.next_probe(1, 0.0) == 100  # timer did not tick: jump
    assert rules.next_probe(1, 0.0001) == 100  # capped at x100 per step
    assert rules.next_probe(10, 0.1) == 60  # 1.2 x 0.5 s / 0.1 s = x6
    assert rules.next_probe(10, 0.5) is None
    assert rules.next_probe(1, 3.0) is None  # one slow inference is already long enough


def test_iterations_meet_the_target():
    assert rules.iterations_for(0.1819174, 12.0) == 66  # 66 x 181.9 ms = 12.006 s
    assert rules.iterations_for(20.0, 12.0) == 1
    n = rules.iterations_for(0.0099, 12.0)
    assert n * 0.0099 >= 12.0 > (n - 1) * 0.0099


def test_grow_iterations_after_a_short_window():
    assert rules.grow_iterations(60, 9.0, 12.0) == 80
    assert rules.grow_iterations(1, 9.99, 10.0) == 2  # always at least one more


def test_window_violations():
    assert rules.window_violations([10.0, 12, 12, 12, 12]) == []
    problems = rules.window_violations([12, 9.5, 12, 12])
    assert any("4 windows" in p for p in problems)
    assert any("window 2 lasted 9.500 s" in p for p in problems)


def test_infer_timeout_leaves_room():
    assert rules.infer_timeout_s(12.0) == 34.0
