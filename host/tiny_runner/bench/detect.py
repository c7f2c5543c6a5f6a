"""Find what is attached: serial ports matched by USB VID:PID to boards, energy monitors and
pass-through boards (relays), and Joulescopes through their driver.

One USB ID can fit several things (every ST-LINK/V2-1 Nucleo enumerates as 0483:374B; the
MLCommons interface board shares 0483:374E with STLINK-V3 Nucleos). Such a port can be asked
`name%` (tiny_protocol.md §3.3, §4.1): a DUT answers `m-name-dut-[<vendor>]`, which picks the
boards whose descriptor declares that vendor string; the interface board answers with its own
name. Monitors are never asked: their protocols are not the DUT's.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Iterable

from serial.tools import list_ports

from ..boards import Board
from ..errors import DetectionError, PortError
from ..printable import printable
from ..protocol.link import Link
from .monitors import plugins
from .relays import RELAYS, one_of

NAME_COMMAND = b"name%"
READY = "m-ready"  # like the official runner, any line containing it ends a reply
PROBE_TIMEOUT_S = 1.0  # per baud rate tried; a running DUT answers `name%` in milliseconds
_NAME_ANSWER = re.compile(r"m-name-[^-\[]+-\[[^\]]*\]")  # any DUT's reply; a glitch may precede it


@dataclass(frozen=True)
class Candidate:
    """Something a serial port with a given USB ID may be."""

    kind: str  # "board", "monitor" or "relay"
    name: str  # the board's name, the monitor's or the relay's kind
    bauds: tuple[int, ...] = ()  # rates at which it answers `name%`, in the order to try them
    name_reply: str | None = None  # the line it answers `name%` with; None: it is not asked

    def option(self, target: str) -> str:
        """The measure options that use it on `target` (a port, or a Joulescope's serial)."""
        if self.kind == "board":
            return f"--board {self.name} --dut {target}"
        return f"--{self.kind} {self.name}:{target}"


def board_candidate(board: Board) -> Candidate:
    rates = (board.baud("performance"), board.data["uart"].get("energy_baud"))
    return Candidate("board", board.name, tuple(dict.fromkeys(r for r in rates if r)),
                     dut_name_reply(board.vendor_string))


def dut_name_reply(vendor: str) -> str:
    return f"m-name-dut-[{vendor}]"


def candidates_by_usb_id(boards: Iterable[Board] = ()) -> dict[tuple[int, int], list[Candidate]]:
    """(VID, PID) -> what a port with that ID may be: real boards, serial monitors, relays."""
    table: dict[tuple[int, int], list[Candidate]] = {}
    for board in boards:
        for usb_id in board.usb_ids:
            table.setdefault(usb_id, []).append(board_candidate(board))
    for monitor in plugins().values():
        for usb_id in monitor.usb_ids:
            table.setdefault(usb_id, []).append(Candidate("monitor", monitor.name))
    for relay in RELAYS.values():
        bauds = (relay.host_baud,) if relay.name_reply else ()
        for usb_id in relay.usb_ids:
            table.setdefault(usb_id, []).append(Candidate("relay", relay.name, bauds, relay.name_reply))
    return table


def usb_id_text(usb_id: tuple[int, int] | None) -> str | None:
    return f"{usb_id[0]:04X}:{usb_id[1]:04X}" if usb_id else None


@dataclass
class Attached:
    """One attached device and what it was matched to."""

    port: str  # the serial port, or the Joulescope driver's device path
    usb_id: tuple[int, int] | None
    serial_number: str | None
    description: str | None
    matches: list[Candidate] = field(default_factory=list)
    how: str | None = None  # "VID:PID", "VID:PID + name", "pyjoulescope_driver"; None: nothing matched
    target: str | None = None  # what names it in an option (default: the port)
    name_reply: str | None = None  # its answer to `name%`, when it was asked
    name_baud: int | None = None  # the rate it answered at
    note: str | None = None

    @property
    def ambiguous(self) -> bool:
        return len(self.matches) > 1

    def options(self) -> list[str]:
        return [c.option(self.target or self.port) for c in self.matches]

    def as_json(self) -> dict:
        return {
            "port": self.port,
            "usb": usb_id_text(self.usb_id),
            "serial": self.serial_number,
            "description": self.description,
            "matches": [{"kind": c.kind, "name": c.name, "use": c.option(self.target or self.port)}
                        for c in self.matches],
            "how": self.how,
            "ambiguous": self.ambiguous,
            "name_reply": self.name_reply,
            "name_baud": self.name_baud,
            "note": self.note,
        }


# -- asking `name%` --------------------------------------------------------------------------------
@dataclass
class NameProbe:
    reply: str | None  # the name line answered, or None
    baud: int | None = None  # the rate it answered at
    note: str | None = None  # why there is no reply


def probe_bauds(candidates: list[Candidate]) -> list[int]:
    """Every candidate's first rate before anyone's second: the likely answer comes first."""
    ranks = max((len(c.bauds) for c in candidates), default=0)
    rates = [c.bauds[rank] for rank in range(ranks) for c in candidates if rank < len(c.bauds)]
    return list(dict.fromkeys(rates))


def probe_name(port: str, bauds: list[int], expected: set[str], timeout_s: float = PROBE_TIMEOUT_S) -> NameProbe:
    """Ask `name%` at each rate in turn until something answers; the port is closed afterwards."""
    for baud in bauds:
        try:
            reply = ask_name(port, baud, expected, timeout_s)
        except PortError as exc:
            return NameProbe(None, note=exc.message)  # gone, not permitted, locked: no other rate helps
        if reply:
            return NameProbe(reply, baud)
    rates = ", ".join(str(b) for b in bauds)
    return NameProbe(None, note=f"no answer to name% at {rates} baud" if bauds else "nothing to ask name%")


def ask_name(port: str, baud: int, expected: set[str], timeout_s: float) -> str | None:
    """One `name%` exchange at one rate: the name line answered, or None within timeout_s."""
    with Link(port, baud) as link:
        link.drain()  # a boot banner or stale output must not pose as the answer
        link.send(NAME_COMMAND)
        resent = False
        answer = None
        deadline = time.monotonic() + timeout_s
        while (line := link.read_line(deadline)) is not None:
            if found := name_line(line, expected):
                answer = found
            elif READY in line:
                if answer:
                    return answer
                if not resent:
                    # the reply (an unknown-command error, a boot banner's end) was not to a clean
                    # `name%`: bytes from a try at another rate, or a board that booted on open
                    link.send(NAME_COMMAND)
                    resent = True
        return None


def name_line(line: str, expected: set[str]) -> str | None:
    """The answer to `name%` in a line: an expected one, or any DUT's `m-name-...-[...]`."""
    known = next((text for text in expected if text in line), None)
    found = _NAME_ANSWER.search(line)
    return known or (found.group(0) if found else None)


def narrow_by_name(attached: Attached, candidates: list[Candidate]) -> None:
    """Ask the port `name%` and keep the candidates that answer that way."""
    askable = [c for c in candidates if c.name_reply]
    probe = probe_name(attached.port, probe_bauds(askable), {c.name_reply for c in askable})
    if probe.reply is None:
        attached.note = probe.note
        return
    attached.name_reply, attached.name_baud = probe.reply, probe.baud
    attached.matches = [c for c in candidates if c.name_reply == probe.reply]
    attached.how = "VID:PID + name"
    if not attached.matches:
        attached.note = f"answered name% with {probe.reply!r}, which none of {describe_candidates(candidates)} answers"
    elif attached.ambiguous:
        attached.note = f"{len(attached.matches)} candidates answer name% with {probe.reply!r}"


def describe_candidates(candidates: list[Candidate]) -> str:
    return ", ".join(f"{c.kind} {c.name}" for c in candidates)


# -- scanning --------------------------------------------------------------------------------------
def serial_ports() -> list:
    """The attached serial ports (pyserial ListPortInfo), by device name."""
    return sorted(list_ports.comports(), key=lambda p: p.device)


def _usb_id(port) -> tuple[int, int] | None:
    return (port.vid, port.pid) if port.vid is not None and port.pid is not None else None


def match_port(port, table: dict[tuple[int, int], list[Candidate]], probe_names: bool) -> Attached:
    usb_id = _usb_id(port)
    candidates = table.get(usb_id, []) if usb_id else []
    attached = Attached(port.device, usb_id, port.serial_number, port.description, list(candidates),
                        "VID:PID" if candidates else None)
    if attached.ambiguous:
        tell_apart(attached, candidates, probe_names)
    return attached


def tell_apart(attached: Attached, candidates: list[Candidate], probe_names: bool) -> None:
    """Several things share the port's USB ID: ask `name%` if allowed and useful, else say why not."""
    shared = f"{len(candidates)} candidates share {usb_id_text(attached.usb_id)}"
    if not probe_names:
        attached.note = f"{shared}; --probe-names asks name% to tell them apart"
    elif any(c.name_reply for c in candidates):
        narrow_by_name(attached, candidates)
    else:
        attached.note = f"{shared} and none of them can be asked name%"


def scan_serial(boards: Iterable[Board] = (), probe_names: bool = False) -> list[Attached]:
    """Every attached serial port with what its USB ID (and, if asked, its `name%` reply) says."""
    table = candidates_by_usb_id(boards)
    return [match_port(port, table, probe_names) for port in serial_ports()]


def scan_driver_monitors(kind_name: str | None = None) -> tuple[list[Attached], list[str]]:
    """Monitors that are not serial ports, as each plug-in's own driver finds them (Joulescopes
    through pyjoulescope_driver), and a note for each that could not be looked for."""
    found, notes = [], []
    for plugin in plugins().values():
        if plugin.scan is None or kind_name not in (None, plugin.name):
            continue
        devices, note = plugin.scan()
        if note and plugin.usb_device_ids:  # its driver could not look: say whether one is plugged in
            note = seen_on_usb(plugin.usb_device_ids, plugin.description, note)
        notes += [note] if note else []
        found += [Attached(d.path, None, d.serial, d.description, [Candidate("monitor", plugin.name)],
                           plugin.scan_via, target=d.serial) for d in devices]
    return found, notes


def usb_devices() -> tuple[list[tuple[int, int, str | None]], str | None]:
    """(VID, PID, serial number) of every USB device, through pyusb (pyocd's dependency), or why not."""
    try:
        import usb.core
    except ImportError:
        return [], "pyusb is not installed: pip install 'tiny-runner[flash]'"
    try:
        devices = list(usb.core.find(find_all=True))
    except usb.core.NoBackendError:
        return [], "pyusb has no libusb backend (install libusb-1.0)"
    found = []
    for device in devices:
        try:
            serial = device.serial_number  # needs access to the device; without it, the IDs are enough
        except (ValueError, usb.core.USBError, NotImplementedError):
            serial = None
        found.append((device.idVendor, device.idProduct, serial))
    return found, None


def seen_on_usb(usb_ids, description: str, note: str) -> str:
    """The note of a driver that could not look, with what USB enumeration sees of the instrument."""
    devices, why_not = usb_devices()
    if why_not:
        return f"{note} (and USB was not enumerated: {why_not})"
    seen = [f"USB {usb_id_text((vid, pid))}" + (f", serial {serial}" if serial else "")
            for vid, pid, serial in devices if (vid, pid) in usb_ids]
    if not seen:
        return note
    return f"{description} attached ({'; '.join(seen)}), not usable: {note}"


# -- the DUT port of one board (measure without --dut) ---------------------------------------------
def find_dut_port(board: Board, baud: int) -> tuple[str, str]:
    """(port, how it was found) for a real board whose port the user did not name.

    One port with the board's USB ID is taken as it is; among several, those whose DUT answers
    `name%` with the board's vendor string. Anything else is a DetectionError naming the ports."""
    if not board.usb_ids:
        raise DetectionError(f"{board.name} declares no USB ID ([usb] vid_pid), so its port cannot be found; "
                             "pass --dut PORT")
    ids = ", ".join(usb_id_text(usb_id) for usb_id in board.usb_ids)
    ports = [p for p in serial_ports() if _usb_id(p) in board.usb_ids]
    if not ports:
        raise DetectionError(f"no serial port with {board.name}'s USB ID {ids} is attached (`tiny-runner detect` "
                             "lists the ports); connect the board or pass --dut PORT")
    if len(ports) == 1:
        port = ports[0]
        return port.device, f"DUT port {port.device} found by USB ID {usb_id_text(_usb_id(port))}"
    expected = dut_name_reply(board.vendor_string)
    bauds = list(dict.fromkeys([baud, *board_candidate(board).bauds]))
    probes = {p.device: probe_name(p.device, bauds, {expected}) for p in ports}
    answering = [p for p in ports if probes[p.device].reply == expected]
    if len(answering) == 1:
        port = answering[0]
        others = ", ".join(p.device for p in ports if p is not port)
        return port.device, (f"DUT port {port.device} found by USB ID {usb_id_text(_usb_id(port))} and its "
                             f"answer {expected} to name% (other ports with {board.name}'s USB ID: {others})")
    outcome = "; ".join(f"{port}: {_probe_outcome(probe)}" for port, probe in probes.items())
    several = f"{len(answering)} of them answer {expected}" if answering else f"none answers {expected}"
    raise DetectionError(f"{len(ports)} ports have {board.name}'s USB ID {ids} and {several} to name% ({outcome}); "
                         "pass --dut PORT")


def _probe_outcome(probe: NameProbe) -> str:
    return f"answered {printable(probe.reply)}" if probe.reply else probe.note


# -- the energy bench's monitor and pass-through board (measure --mode energy without ports) -------
def find_monitor(kind_name: str | None) -> tuple[str, str]:
    """(--monitor spec, how it was found) for the only attached monitor (of that kind, if given).

    Serial monitors are matched by USB ID alone (they are never asked anything), Joulescopes
    through their driver."""
    attached = scan_serial()
    by_driver, notes = scan_driver_monitors(kind_name)
    attached += by_driver
    note = "; ".join(notes) or None
    found = [(a, c) for a in attached for c in a.matches
             if c.kind == "monitor" and kind_name in (None, c.name)]
    what = f"no {kind_name}" if kind_name else "no energy monitor"
    if not found:
        hint = f" ({note})" if note else ""
        specs = " or ".join(f"--monitor {m.spec}" for m in plugins().values())
        raise DetectionError(f"{what} is attached{hint} (`tiny-runner detect` lists what is); connect it or pass "
                             f"{specs}")
    specs = [f"{c.name}:{a.target or a.port}" for a, c in found]
    if len(found) > 1:
        raise DetectionError(f"{len(found)} energy monitors are attached ({', '.join(specs)}); choose one with "
                             "--monitor SPEC")
    (a, _), spec = found[0], specs[0]
    how = f"USB ID {usb_id_text(a.usb_id)}" if a.usb_id else a.how
    return spec, f"energy monitor {spec} found by {how}"


def find_relay(kind: str | None = None) -> tuple[str, str]:
    """(--relay spec, how it was found) for the only attached pass-through board (of this kind).

    A board that declares its answer to `name%` counts only when it answers so (the interface
    board shares its USB ID with every STLINK-V3 board); the others, like the IO manager with its
    Arduino IDs, by their USB ID alone."""
    found = []
    for port in serial_ports():
        usb_id = _usb_id(port)
        for relay in RELAYS.values():
            if usb_id not in relay.usb_ids or kind not in (None, relay.name):
                continue
            how = f"USB ID {usb_id_text(usb_id)}"
            if relay.name_reply:
                if probe_name(port.device, [relay.host_baud], {relay.name_reply}).reply != relay.name_reply:
                    continue
                how += f" and its answer {relay.name_reply!r} to name%"
            found.append((f"{relay.name}:{port.device}", how))
    if not found and kind:
        raise DetectionError(f"no {kind} pass-through board is attached (`tiny-runner detect --probe-names` lists "
                             f"what is); connect it or pass --relay {kind}:PORT")
    if not found:
        kinds = one_of([f"an {r.description}" + (" answering name%" if r.name_reply else "")
                        for r in RELAYS.values()])
        raise DetectionError(f"no pass-through board is attached ({kinds}; `tiny-runner detect --probe-names` lists "
                             f"what is); connect it or pass --relay {one_of([f'{name}:PORT' for name in RELAYS])}")
    if len(found) > 1:
        raise DetectionError(f"{len(found)} pass-through boards are attached ({', '.join(s for s, _ in found)}); "
                             "choose one with --relay SPEC")
    spec, how = found[0]
    return spec, f"pass-through board {spec} found by {how}"
