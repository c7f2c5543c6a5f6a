"""`tiny-runner monitors`: USB serial ports matched by VID:PID, Joulescopes through the driver."""

from __future__ import annotations

import json
from types import SimpleNamespace

from serial.tools import list_ports

from tiny_runner.cli import main


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
    assert [m["spec"] for m in data["virtual"]] == ["lpm01a", "otii", "ppk2", "joulescope"]


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
