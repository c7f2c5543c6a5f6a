"""The benchmarks tiny-runner can measure: every plug-in registered in the entry-point group
`tiny_runner.benchmarks` (base.py says what one declares). The MLPerf Tiny ones (kws01.py,
vww01.py, ic01.py, ic02.py, ad01.py) register from this distribution; another distribution's
register the same way.

A plug-in that cannot be loaded is left out and named where it is asked for (`--benchmark NAME`,
a DUT that reports it), so one broken distribution does not stop every command."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib.metadata import entry_points

from ..errors import UsageError
from .ad01 import STRIDE_BYTES as AD_STRIDE_BYTES
from .ad01 import WINDOW_BYTES as AD_WINDOW_BYTES
from .base import ENTRY_POINT_GROUP, Benchmark, ReferenceModel, Windows

__all__ = ["AD_STRIDE_BYTES", "AD_WINDOW_BYTES", "BENCHMARKS", "ENTRY_POINT_GROUP", "Benchmark", "ReferenceModel",
           "Windows", "broken_plugins", "clear_cache", "find_benchmark", "get_benchmark", "plugins"]

@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, Benchmark], dict[str, str]]:
    found: list[Benchmark] = []
    broken: dict[str, str] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            benchmark = point.load()
        except Exception as exc:  # another distribution's bug
            broken[point.name] = (f"benchmark plug-in {point.name!r} ({point.value}) cannot be loaded: "
                                  f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(benchmark, Benchmark) or benchmark.id != point.name:
            broken[point.name] = (f"benchmark plug-in {point.name!r} ({point.value}) is not a Benchmark "
                                  f"with id {point.name!r}")
            continue
        found.append(benchmark)
    known: dict[str, Benchmark] = {}
    for benchmark in sorted(found, key=lambda b: (b.listed, b.id)):
        known.setdefault(benchmark.id, benchmark)
    return known, broken


class _Registered(Mapping):
    """Benchmark id -> declaration, as registered now (a mapping, so `id in BENCHMARKS` works)."""

    def __getitem__(self, benchmark_id: str) -> Benchmark:
        return _registry()[0][benchmark_id]

    def __iter__(self) -> Iterator[str]:
        return iter(_registry()[0])

    def __len__(self) -> int:
        return len(_registry()[0])

    def __repr__(self) -> str:
        return f"BENCHMARKS({', '.join(self)})"


BENCHMARKS: Mapping[str, Benchmark] = _Registered()


def plugins() -> dict[str, Benchmark]:
    return _registry()[0]


def broken_plugins() -> dict[str, str]:
    """Registered names whose plug-in could not be loaded, with why."""
    return _registry()[1]


def clear_cache() -> None:
    """Look for plug-ins again (after sys.path changed)."""
    _registry.cache_clear()


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
