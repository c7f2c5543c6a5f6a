"""tiny-runner monitors: the energy monitors attached to this machine, and the virtual ones."""

from __future__ import annotations

import json

from serial.tools import list_ports

from ..monitors import KINDS


def add_parser(sub) -> None:
    p = sub.add_parser("monitors", help="list attached energy monitors (and the virtual lab's)",
                       description="Serial ports are matched by USB VID:PID; Joulescopes are found through "
                                   "pyjoulescope_driver when it is installed.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def scan_serial() -> list[dict]:
    by_id = {ids: kind for kind in KINDS.values() for ids in kind.usb_ids}
    found = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        kind = by_id.get((port.vid, port.pid))
        if kind and kind.port_required:
            found.append({"monitor": kind.name, "spec": f"{kind.name}:{port.device}", "serial": port.serial_number,
                          "description": port.description, "usb": f"USB {port.vid:04X}:{port.pid:04X}"})
    return found


def scan_joulescope() -> tuple[list[dict], str | None]:
    try:
        from pyjoulescope_driver import Driver
    except ImportError:
        return [], "Joulescope not scanned: pip install 'tiny-runner[joulescope]' (pyjoulescope_driver)"
    driver = Driver()
    try:
        paths = driver.device_paths()
    finally:
        driver.finalize()
    found = []
    for path in paths:
        if "/js" in path:
            serial = path.rsplit("/", 1)[-1]
            found.append({"monitor": "joulescope", "spec": f"joulescope:{serial}", "serial": serial,
                          "description": path.split("/")[1].upper(), "usb": "via pyjoulescope_driver"})
    return found, None


def run(args) -> int:
    attached = scan_serial()
    joulescopes, note = scan_joulescope()
    attached += joulescopes
    virtual = [{"monitor": k.name, "spec": k.name, "description": f"emulated {k.description}"} for k in KINDS.values()]
    if args.json:
        print(json.dumps({"attached": attached, "virtual": virtual, "notes": [note] if note else []}))
        return 0
    print("attached:" if attached else "attached: none found")
    for m in attached:
        print(f"  --monitor {m['spec']:<28} {m['description']} ({m['usb']}, serial {m['serial']})")
    if note:
        print(f"  ({note})")
    print("virtual (on a virtual board):")
    for m in virtual:
        print(f"  --monitor {m['spec']:<28} {m['description']}")
    return 0
