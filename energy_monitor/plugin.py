"""What an energy monitor declares about itself, once, so that a runner can offer it without
knowing it: its name and spec form, USB IDs, sample rates, whether it supplies the DUT, how to
open its driver, and its emulator with the emulator's switches.

A monitor folder (`lpm01a/`, `ppk2/`, `joulescope/`, or a package of another distribution)
holds a `plugin.py` with a `PLUGIN = MonitorPlugin(...)` and registers it as an entry point in
the group `tiny_runner.energy_monitors`, e.g. in pyproject.toml:

    [project.entry-points."tiny_runner.energy_monitors"]
    toy = "toy_monitor.plugin:PLUGIN"

An emulator is anything with `start()`, `shutdown()` and `address` (the pty path or URL its
emulated driver opens). It is built from the virtual bench it measures, its switch values and
a noise seed. The bench offers: `horizon_us()` (how far virtual time has run), `energy_at(times_us)`
(cumulative joules at those instants), `pin_events_until(t_us)` and `falling_edges_until(t_us)`
(the timestamp pin), `forget_before(t_us)`, `set_voltage(volts)`, `set_power(on)` and
`supply_v()`, and `note(record)` for the ground truth: an emulator notes
`{"acquisition_start_us": t, "rate_hz": r}` when it starts sampling, so the ground truth lines
up with its sample indices (`rate_hz` None: an instrument whose driver resamples its timed
readings onto the run's grid, whose rate then applies).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

ENTRY_POINT_GROUP = "tiny_runner.energy_monitors"

_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


@dataclass(frozen=True)
class Switch:
    """One switch of an emulator: makes it behave like a real unit with a known fault."""

    name: str
    type: type  # bool, int, float or str
    default: object


def switches_of(options) -> tuple[Switch, ...]:
    """The switches of an emulator whose options are a dataclass of plain-typed fields."""
    return tuple(Switch(f.name, _TYPES[f.type] if isinstance(f.type, str) else f.type, f.default)
                 for f in dataclasses.fields(options))


@dataclass(frozen=True)
class FoundDevice:
    """A monitor that is not a serial port, as its own driver finds it (`MonitorPlugin.scan`)."""

    path: str  # the driver's name for it
    serial: str  # what `--monitor NAME:SERIAL` takes
    description: str


@dataclass(frozen=True)
class MonitorPlugin:
    name: str  # what `--monitor` takes before the colon
    description: str
    port_required: bool  # `name:PORT` (a serial port), or `name[:SERIAL]` (found by its own driver)
    rates_hz: tuple[float, ...]
    default_rate_hz: float
    voltage_range_mv: tuple[int, int] | None  # it supplies the DUT in this range; None: in series with a supply
    usb_ids: tuple[tuple[int, int], ...]  # serial monitors only: how `detect` knows its port
    driver: Callable  # (target: port or serial or None, log) -> an unopened Monitor
    emulator: Callable  # (bench, switches: dict, seed: int) -> an emulator (see above)
    emulated_driver: Callable  # (address, log) -> an unopened Monitor talking to that emulator
    switches: tuple[Switch, ...] = ()
    lab_samples_per_s: float = 100_000.0  # what its emulator sustains per wall second: the lab slows to match
    # monitors that are not serial ports: () -> (devices found, a note when they could not be looked for)
    scan: Callable | None = None
    scan_via: str = ""  # what finds them, for listings ("pyjoulescope_driver")
    # an instrument that is not a serial port: its USB IDs, so that when `scan` cannot look (its
    # driver's extra is missing) `detect` and `monitors` still say one is plugged in
    usb_device_ids: tuple[tuple[int, int], ...] = ()
    target_form: str = "SERIAL"  # what follows `name:` when it is not a serial port (a serial number, HOST:PORT)
    # its emulator answers the instrument's own driver at an address (a pty, a TCP server), so
    # `lab serve` can serve it to another host; None: so when it is a serial port
    servable: bool | None = None
    # False: it has no timestamp input and the host times the edges (Capabilities.edges == "host"),
    # so the virtual lab runs it in real time
    edge_input: bool = True
    # (switch values) -> None, raising ValueError for a combination the emulator cannot take
    # (switches that belong to another emulated model, say), so the run stops before it starts
    check_switches: Callable | None = None
    # False: its sample stream is faster than an RFC 2217 port (ser2net, a labgrid place) carries
    # without loss, so it is measured only from the host it is plugged into
    remote_serial: bool = True

    @property
    def supplies_dut(self) -> bool:
        return self.voltage_range_mv is not None

    @property
    def can_be_served(self) -> bool:
        return self.port_required if self.servable is None else self.servable

    @property
    def spec(self) -> str:
        return f"{self.name}:PORT" if self.port_required else f"{self.name}[:{self.target_form}]"

    def parse_switches(self, items: dict[str, str]) -> dict:
        """Text values (`KEY=VALUE` from a command line) as the switches' types; ValueError
        names the switch that does not exist or does not parse."""
        known = {s.name: s for s in self.switches}
        values: dict = {}
        for key, text in items.items():
            switch = known.get(key)
            if switch is None:
                raise ValueError(f"the emulated {self.name} has no switch {key!r}; it has "
                                 f"{', '.join(known) or 'none'}")
            try:
                values[key] = text.lower() in ("1", "true", "yes") if switch.type is bool else switch.type(text)
            except ValueError:
                kind = {int: "an integer", float: "a number", str: "text"}.get(switch.type, "a value")
                raise ValueError(f"switch {key} of the emulated {self.name} needs {kind}, got {text!r}") from None
        if self.check_switches:
            self.check_switches(values)
        return values
