"""tiny-runner monitors: the energy monitors attached to this machine, and the virtual ones."""

from __future__ import annotations

import json

from ..bench.detect import Attached, scan_driver_monitors, scan_serial, usb_id_text
from ..bench.monitors import broken_plugins, plugins


def add_parser(sub) -> None:
    p = sub.add_parser("monitors", help="list attached energy monitors (and the virtual lab's)",
                       description="Serial ports are matched by USB VID:PID; Joulescopes are found through "
                                   "pyjoulescope_driver when it is installed.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def monitor_entries(attached: list[Attached]) -> list[dict]:
    """The monitors among the attached devices, each with its --monitor value."""
    return [{"monitor": c.name, "spec": f"{c.name}:{a.target or a.port}", "serial": a.serial_number,
             "description": a.description,
             "usb": f"USB {usb_id_text(a.usb_id)}" if a.usb_id else f"via {a.how}"}
            for a in attached for c in a.matches if c.kind == "monitor"]


def run(args) -> int:
    by_driver, driver_notes = scan_driver_monitors()
    attached = monitor_entries(scan_serial() + by_driver)  # no boards: nothing is opened or asked
    virtual = [{"monitor": m.name, "spec": m.name, "description": f"emulated {m.description}"}
               for m in plugins().values()]
    notes = driver_notes + list(broken_plugins().values())
    if args.json:
        print(json.dumps({"attached": attached, "virtual": virtual, "notes": notes}))
        return 0
    print("attached:" if attached else "attached: none found")
    for m in attached:
        print(f"  --monitor {m['spec']:<28} {m['description']} ({m['usb']}, serial {m['serial']})")
    for text in notes:
        print(f"  ({text})")
    print("virtual (on a virtual board):")
    for m in virtual:
        print(f"  --monitor {m['spec']:<28} {m['description']}")
    return 0
