"""The Joulescope's declaration (see energy_monitor.plugin)."""

from __future__ import annotations

from ..plugin import FoundDevice, MonitorPlugin, Switch
from .driver import RATES_HZ


def _driver(serial, log):
    from .driver import Joulescope

    return Joulescope(serial, log=log)


def _emulator(bench, switches: dict, seed: int):
    from .emulator import JoulescopeEmulator

    return JoulescopeEmulator(bench, seed=seed, **switches)


def _emulated_driver(url, log):
    """The real driver class, with pyjoulescope_driver's Driver replaced by one that reaches
    the emulator at this URL."""
    from .driver import Joulescope
    from .emulator import FakeDriver

    return Joulescope(None, driver=FakeDriver(url), log=log)


def _scan():
    """The Joulescopes pyjoulescope_driver sees (they are not serial ports)."""
    try:
        from pyjoulescope_driver import Driver
    except ImportError:
        return [], "Joulescope not scanned: pip install 'tiny-runner[joulescope]' (pyjoulescope_driver)"
    driver = Driver()
    try:
        paths = driver.device_paths()
    finally:
        driver.finalize()
    joulescopes = [path for path in paths if "/js" in path]
    return [FoundDevice(path, path.rsplit("/", 1)[-1], path.split("/")[1].upper()) for path in joulescopes], None


PLUGIN = MonitorPlugin(
    name="joulescope",
    description="Joulescope JS220 / JS110 (pyjoulescope_driver), in series with an external supply",
    port_required=False,
    rates_hz=tuple(map(float, RATES_HZ)),
    default_rate_hz=1_000_000.0,
    voltage_range_mv=None,
    usb_ids=(),  # not a serial port: its driver finds it
    driver=_driver,
    emulator=_emulator,
    emulated_driver=_emulated_driver,
    switches=(Switch("noise_rel", float, 0.001), Switch("drop_every", int, 0)),
    lab_samples_per_s=3_000_000,
    scan=_scan,
    scan_via="pyjoulescope_driver",
    usb_device_ids=((0x16D0, 0x10BA), (0x16D0, 0x0E88)),  # JS220 (MLCommons devices.yaml); JS110 not confirmed
)
