"""The energy monitors tiny-runner drives, in one table: how each is named on the command
line, what it can do, how to open its driver, how its emulator is found on the virtual bench,
and how fast that emulator can stream (the lab slows down for fast instruments)."""

from __future__ import annotations

from dataclasses import dataclass

from energy_monitor.joulescope import driver as joulescope_driver
from energy_monitor.lpm01a import driver as lpm01a_driver
from energy_monitor.ppk2 import codec as ppk2_codec

from .errors import UsageError


@dataclass(frozen=True)
class MonitorKind:
    name: str
    port_required: bool  # `name:PORT` (a serial port) or `name[:SERIAL]`
    rates_hz: tuple[float, ...]
    default_rate_hz: float
    voltage_range_mv: tuple[int, int] | None  # None: it cannot source the DUT
    lab_samples_per_s: float  # what its emulator sustains, in samples per wall second
    usb_ids: tuple[tuple[int, int], ...]
    description: str


KINDS: dict[str, MonitorKind] = {
    k.name: k
    for k in (
        MonitorKind("lpm01a", True, lpm01a_driver.RATES_HZ, 1000.0, lpm01a_driver.VOLTAGE_RANGE_MV, 200_000,
                    ((0x0483, 0x5740),), "ST X-NUCLEO-LPM01A (PowerShield), USB serial"),
        MonitorKind("ppk2", True, (float(ppk2_codec.SAMPLE_RATE_HZ),), float(ppk2_codec.SAMPLE_RATE_HZ),
                    ppk2_codec.VOLTAGE_RANGE_MV, 500_000, ((0x1915, 0xC00A),),
                    "Nordic Power Profiler Kit II, USB serial, source-meter mode"),
        MonitorKind("joulescope", False, tuple(map(float, joulescope_driver.RATES_HZ)), 1_000_000.0, None,
                    3_000_000, (),  # not a serial port: found through pyjoulescope_driver
                    "Joulescope JS220 / JS110 (pyjoulescope_driver), in series with an external supply"),
    )
}


def parse_spec(spec: str) -> tuple[MonitorKind, str | None]:
    """`lpm01a:PORT`, `ppk2:PORT`, `joulescope[:SERIAL]` -> (kind, port or serial or None)."""
    name, _, target = spec.partition(":")
    kind = KINDS.get(name)
    if kind is None:
        raise UsageError(f"unknown monitor {name!r}; known: {', '.join(KINDS)}")
    return kind, target or None


def open_driver(kind: MonitorKind, target: str | None, log, fake_url: str | None = None):
    """The driver object for a monitor (not yet opened). fake_url: the virtual bench's Joulescope."""
    if kind.name == "lpm01a":
        from energy_monitor.lpm01a import Lpm01a

        return Lpm01a(target, log=log)
    if kind.name == "ppk2":
        from energy_monitor.ppk2 import Ppk2

        return Ppk2(target, mode="source", log=log)
    from energy_monitor.joulescope import Joulescope

    driver = None
    if fake_url:
        from energy_monitor.emulators.joulescope import FakeDriver

        driver = FakeDriver(fake_url)
    return Joulescope(target, driver=driver, log=log)
