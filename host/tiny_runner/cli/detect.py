"""tiny-runner detect: the boards, energy monitors and pass-through boards attached to this machine."""

from __future__ import annotations

import json

from ..bench.detect import Attached, describe_candidates, scan_driver_monitors, scan_serial, usb_id_text
from ..boards import all_boards
from ..image.flash import attached_probes


def add_parser(sub) -> None:
    p = sub.add_parser("detect", help="find attached boards, energy monitors, pass-through boards and debug probes",
                       description="Serial ports are matched by USB VID:PID to the board descriptors, the energy "
                                   "monitors and the pass-through boards; Joulescopes are found through "
                                   "pyjoulescope_driver, debug probes through pyocd. A port whose ID fits several can "
                                   "be asked name%%.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--probe-names", action="store_true",
                   help="ask name%% on ports whose USB ID fits several things (about a second per baud rate tried)")
    p.set_defaults(handler=run)


def run(args) -> int:
    boards = all_boards()
    attached = scan_serial([b for b in boards if not b.virtual], probe_names=args.probe_names)
    by_driver, driver_notes = scan_driver_monitors()
    attached += by_driver
    virtual = [{"kind": "board", "name": b.name, "use": f"--board {b.name}", "description": b.data.get("description")}
               for b in boards if b.virtual]
    probes, probe_note = attached_probes()
    notes = list(driver_notes) + ([probe_note] if probe_note else [])
    if args.json:
        print(json.dumps({"attached": [a.as_json() for a in attached], "probes": probes, "virtual": virtual,
                          "notes": notes}))
        return 0
    print_attached(attached)
    if probes:
        print("debug probes (for `tiny-runner flash`):")
        for probe in probes:
            print(f"  {probe['use']:<40} {probe['description']}")
    for text in notes:
        print(f"({text})")
    print("virtual boards (always available, no port needed):")
    for board in virtual:
        print(f"  {board['use']:<28} {board['description'] or ''}")
    return 0


def _matched(a: Attached) -> str:
    if a.ambiguous:
        return f"ambiguous ({len(a.matches)})"  # the candidates go on a line of their own: a cell too wide
    return describe_candidates(a.matches) or "-"


def print_attached(attached: list[Attached]) -> None:
    if not attached:
        print("attached: none found")
        return
    header = ("PORT", "USB ID", "SERIAL", "MATCHED", "HOW", "DESCRIPTION")
    rows = [(a.port, usb_id_text(a.usb_id) or "-", a.serial_number or "-", _matched(a), a.how or "-",
             a.description or "") for a in attached]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    for a in attached:
        if a.ambiguous:
            print(f"  {a.port}: one of {describe_candidates(a.matches)}")
        if a.note:
            print(f"  {a.port}: {a.note}")
    uses = [option for a in attached if len(a.matches) == 1 for option in a.options()]
    if uses:
        print("to use:")
        for option in uses:
            print(f"  {option}")
