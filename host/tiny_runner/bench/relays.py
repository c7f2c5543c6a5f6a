"""The pass-through boards (relays) tiny-runner can drive between the host and an energy-mode
DUT (tiny_protocol.md §4): every plug-in registered in the entry-point group
`tiny_runner.relays` (tiny_runner.relays.plugin says what one declares). The built-in ones,
the MLCommons interface board (`ifboard`) and the EEMBC IO manager (`ioman`), register from
this distribution; another distribution's register the same way.

A plug-in that cannot be loaded is left out and named where it is asked for (`--relay NAME`),
so one broken distribution does not stop every command."""

from __future__ import annotations

from ..errors import UsageError
from ..plugin_registry import PluginRegistry
from ..protocol.link import Link
from ..relays.base import DUT_PREFIX, HOST_BAUD, PassThroughBoard, Relay, RelayLink
from ..relays.ifboard.driver import InterfaceBoard
from ..relays.ioman.driver import IoManager
from ..relays.plugin import ENTRY_POINT_GROUP, RelayPlugin

__all__ = ["DUT_PREFIX", "HOST_BAUD", "RELAYS", "InterfaceBoard", "IoManager", "PassThroughBoard", "Relay",
           "RelayLink", "RelayPlugin", "open_relay"]

DEFAULT_RELAY = "ifboard"  # what a virtual board wires when --relay is not given


# the default first
RELAYS = PluginRegistry(ENTRY_POINT_GROUP, "pass-through board", RelayPlugin, lambda r: r.name,
                        lambda r: (r.name != DEFAULT_RELAY, r.name))


def plugins() -> PluginRegistry:
    return RELAYS


def broken_plugins() -> dict[str, str]:
    """Registered names whose plug-in could not be loaded, with why."""
    return RELAYS.broken


def clear_cache() -> None:
    """Look for plug-ins again (after sys.path changed)."""
    RELAYS.clear()


def one_of(items: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return " or ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def specs(port: str = "[:PORT]") -> str:
    """What --relay takes: `ifboard[:PORT] or ioman[:PORT]`."""
    return one_of([f"{name}{port}" for name in plugins()])


def get_plugin(name: str, spec: str | None = None) -> RelayPlugin:
    return RELAYS.require(name, f"--relay {spec or name}: expected {specs()}")


def open_relay(spec: str, baud: int | None = None, wire_log=None, log=None) -> Relay:
    """`ifboard:PORT_URL`, `ioman:PORT_URL` or another plug-in's, its host side at `baud`
    (default: the rate the plug-in declares)."""
    name, sep, url = spec.partition(":")
    if not sep or not url:
        raise UsageError(f"relay {spec!r}: expected {specs(':PORT')}")
    plugin = get_plugin(name, spec)
    return plugin.driver(Link(url, baud or plugin.host_baud, wire_log), log)
