"""The energy monitors tiny-runner can drive: every plug-in registered in the entry-point group
`tiny_runner.energy_monitors` (energy_monitor/plugin.py says what one declares). The built-in
ones register from this distribution; another distribution's register the same way.

A plug-in that cannot be loaded is left out and named where it is asked for (`--monitor NAME`,
`tiny-runner monitors`), so one broken distribution does not stop every command."""

from __future__ import annotations

from energy_monitor.plugin import ENTRY_POINT_GROUP, MonitorPlugin

from ..plugin_registry import PluginRegistry

DEFAULT_MONITOR = "lpm01a"


# listed the default first, then the monitors that also supply the DUT, then by name
MONITORS = PluginRegistry(ENTRY_POINT_GROUP, "energy monitor", MonitorPlugin, lambda m: m.name,
                          lambda m: (m.name != DEFAULT_MONITOR, not m.supplies_dut, m.name))


def plugins() -> PluginRegistry:
    return MONITORS


def broken_plugins() -> dict[str, str]:
    """Registered names whose plug-in could not be loaded, with why."""
    return MONITORS.broken


def clear_cache() -> None:
    """Look for plug-ins again (after sys.path changed)."""
    MONITORS.clear()


def get_plugin(name: str) -> MonitorPlugin:
    return MONITORS.require(name, f"unknown monitor {name!r}; known: "
                                  f"{', '.join(MONITORS) or 'none (is tiny-runner installed?)'}")


def parse_spec(spec: str) -> tuple[MonitorPlugin, str | None]:
    """`lpm01a:PORT`, `ppk2:PORT`, `joulescope[:SERIAL]` -> (plug-in, port or serial or None)."""
    name, _, target = spec.partition(":")
    return get_plugin(name), target or None
