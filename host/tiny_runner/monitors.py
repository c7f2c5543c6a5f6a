"""The energy monitors tiny-runner can drive: every plug-in registered in the entry-point group
`tiny_runner.energy_monitors` (energy_monitor/plugin.py says what one declares). The built-in
ones register from this distribution; another distribution's register the same way.

A plug-in that cannot be loaded is left out and named where it is asked for (`--monitor NAME`,
`tiny-runner monitors`), so one broken distribution does not stop every command."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from energy_monitor.plugin import ENTRY_POINT_GROUP, MonitorPlugin

from .errors import UsageError

DEFAULT_MONITOR = "lpm01a"


@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, MonitorPlugin], dict[str, str]]:
    found: dict[str, MonitorPlugin] = {}
    broken: dict[str, str] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = point.load()
        except Exception as exc:  # another distribution's bug
            broken[point.name] = (f"energy monitor plug-in {point.name!r} ({point.value}) cannot be loaded: "
                                  f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(plugin, MonitorPlugin) or plugin.name != point.name:
            broken[point.name] = (f"energy monitor plug-in {point.name!r} ({point.value}) is not a MonitorPlugin "
                                  f"named {point.name!r}")
            continue
        found.setdefault(plugin.name, plugin)
    # listed the default first, then the monitors that also supply the DUT, then by name
    order = sorted(found.values(), key=lambda m: (m.name != DEFAULT_MONITOR, not m.supplies_dut, m.name))
    return {m.name: m for m in order}, broken


def plugins() -> dict[str, MonitorPlugin]:
    return _registry()[0]


def broken_plugins() -> dict[str, str]:
    """Registered names whose plug-in could not be loaded, with why."""
    return _registry()[1]


def clear_cache() -> None:
    """Look for plug-ins again (after sys.path changed)."""
    _registry.cache_clear()


def get_plugin(name: str) -> MonitorPlugin:
    known = plugins()
    if name in broken_plugins():
        raise UsageError(broken_plugins()[name])
    if name not in known:
        raise UsageError(f"unknown monitor {name!r}; known: {', '.join(known) or 'none (is tiny-runner installed?)'}")
    return known[name]


def parse_spec(spec: str) -> tuple[MonitorPlugin, str | None]:
    """`lpm01a:PORT`, `ppk2:PORT`, `joulescope[:SERIAL]` -> (plug-in, port or serial or None)."""
    name, _, target = spec.partition(":")
    return get_plugin(name), target or None
