"""The benchmarks tiny-runner can measure: every plug-in registered in the entry-point group
`tiny_runner.benchmarks` (base.py says what one declares). The MLPerf Tiny ones (kws01.py,
vww01.py, ic01.py, ic02.py, ad01.py) register from this distribution; another distribution's
register the same way.

A plug-in that cannot be loaded is left out and named where it is asked for (`--benchmark NAME`,
a DUT that reports it), so one broken distribution does not stop every command."""

from __future__ import annotations

from ..errors import UsageError
from ..plugin_registry import PluginRegistry
from .ad01 import STRIDE_BYTES as AD_STRIDE_BYTES
from .ad01 import WINDOW_BYTES as AD_WINDOW_BYTES
from .base import ENTRY_POINT_GROUP, Benchmark, ReferenceModel, Windows

__all__ = ["AD_STRIDE_BYTES", "AD_WINDOW_BYTES", "BENCHMARKS", "ENTRY_POINT_GROUP", "Benchmark", "ReferenceModel",
           "Windows", "broken_plugins", "clear_cache", "find_benchmark", "get_benchmark", "plugins"]

# the MLPerf Tiny suite's own order, plug-ins after it
BENCHMARKS = PluginRegistry(ENTRY_POINT_GROUP, "benchmark", Benchmark, lambda b: b.id, lambda b: (b.listed, b.id))


def plugins() -> PluginRegistry:
    return BENCHMARKS


def broken_plugins() -> dict[str, str]:
    """Registered names whose plug-in could not be loaded, with why."""
    return BENCHMARKS.broken


def clear_cache() -> None:
    """Look for plug-ins again (after sys.path changed)."""
    BENCHMARKS.clear()


def _names() -> dict[str, str]:
    """Every name the command line takes (id, short name, aliases) -> benchmark id."""
    names: dict[str, str] = {}
    for b in plugins().values():
        for name in (b.id, b.short, *b.aliases):
            names.setdefault(name.lower(), b.id)
    return names


def find_benchmark(benchmark_id: str | None) -> Benchmark | None:
    """The benchmark a DUT or a results record names by id, None when none is registered."""
    return plugins().get(benchmark_id) if isinstance(benchmark_id, str) else None


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by id or short name; UsageError naming the known ones (or the broken plug-in)."""
    key = name.lower()
    if key in broken_plugins():
        raise UsageError(broken_plugins()[key])
    names = _names()
    if key not in names:
        known = ", ".join(f"{b.short}/{b.id}" for b in plugins().values())
        raise UsageError(f"unknown benchmark {name!r}; known: {known or 'none (is tiny-runner installed?)'}")
    return plugins()[names[key]]
