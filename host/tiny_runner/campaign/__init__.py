"""Campaigns: a matrix of benches x benchmarks x modes x supply voltages x repeats, measured
cell by cell (plan.py), in parallel across benches and resumably (runner.py)."""
