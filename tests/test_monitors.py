"""`tiny-runner monitors`: USB serial ports matched by VID:PID, Joulescopes through the driver (or,
without it, named from USB enumeration)."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest
import usb.core
from serial.tools import list_ports

from tiny_runner.cli import main


@pytest.fixture(autouse=True)
def no_visa_interfaces(monkeypatch):
    """These tests fake the machine's USB devices and serial ports, which pyvisa-py's listing
    reads too (and fails on the fakes); the SCPI scan has its own tests."""
    import energy_monitor.scpi.plugin as scpi_plugin

    monkeypatch.setattr(scpi_plugin, "_visa_sessions", lambda: iter(()))


def port(device, vid, pid, serial="X1", description="dev"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial, description=description)


def test_serial_monitors_are_matched_by_vid_pid(monkeypatch, capsys):
    ports = [port("/dev/ttyACM0", 0x0483, 0x5740, "540554545", "PowerShield"),
             port("/dev/ttyACM1", 0x1915, 0xC00A, "C1E2", "PPK2"),
             port("/dev/ttyACM2", 0x0483, 0x374B, "066D", "STLink Virtual COM Port"),  # a Nucleo, not a monitor
             port("/dev/ttyS0", None, None)]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert main(["monitors", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    attached = {m["spec"]: m for m in data["attached"]}
    assert set(attached) == {"lpm01a:/dev/ttyACM0", "ppk2:/dev/ttyACM1"}
    assert attached["ppk2:/dev/ttyACM1"]["usb"] == "USB 1915:C00A"
    assert [m["spec"] for m in data["virtual"]] == ["lpm01a", "otii", "ppk2", "scpi", "stlink-v3pwr", "joulescope"]


def test_joulescopes_come_from_the_driver(monkeypatch, capsys):
    class Driver:
        def device_paths(self):
            return ["u/js220/004079", "u/js110/000123"]

        def finalize(self):
            pass

    import pyjoulescope_driver

    monkeypatch.setattr(pyjoulescope_driver, "Driver", Driver)
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    main(["monitors"])
    out = capsys.readouterr().out
    assert "--monitor joulescope:004079" in out and "JS220" in out and "--monitor joulescope:000123" in out


class FakeUsbDevice:
    def __init__(self, vid, pid, serial):
        self.idVendor, self.idProduct, self._serial = vid, pid, serial

    @property
    def serial_number(self):
        if self._serial is None:
            raise ValueError("The device has no langid (permission denied)")
        return self._serial


@pytest.mark.parametrize("devices, expected", [
    ([FakeUsbDevice(0x16D0, 0x10BA, "004079"), FakeUsbDevice(0x1D6B, 0x0002, None)],
     "Joulescope JS220 / JS110 (pyjoulescope_driver), in series with an external supply attached (USB 16D0:10BA, "
     "serial 004079), not usable: Joulescope not scanned: pip install 'tiny-runner[joulescope]' (pyjoulescope_driver)"),
    ([FakeUsbDevice(0x16D0, 0x10BA, None)], "attached (USB 16D0:10BA), not usable: Joulescope not scanned"),
    ([FakeUsbDevice(0x1D6B, 0x0002, None)], "Joulescope not scanned: pip install 'tiny-runner[joulescope]'"),
])
def test_a_joulescope_without_its_driver_is_named_from_usb(monkeypatch, capsys, devices, expected):
    monkeypatch.setitem(sys.modules, "pyjoulescope_driver", None)  # the extra not installed
    monkeypatch.setattr(usb.core, "find", lambda find_all: iter(devices))
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    assert main(["monitors", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert len(notes) == 1 and expected in notes[0], notes
    assert ("attached" in notes[0]) == any(d.idVendor == 0x16D0 for d in devices)


def test_without_a_usb_backend_the_note_says_so(monkeypatch, capsys):
    def no_backend(find_all):
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setitem(sys.modules, "pyjoulescope_driver", None)
    monkeypatch.setattr(usb.core, "find", no_backend)
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    assert main(["monitors", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [
        "Joulescope not scanned: pip install 'tiny-runner[joulescope]' (pyjoulescope_driver) (and USB was not "
        "enumerated: pyusb has no libusb backend (install libusb-1.0))"]
