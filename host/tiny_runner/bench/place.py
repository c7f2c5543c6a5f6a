"""A labgrid place as a bench: `measure --place NAME` (or `place = "NAME"` in a bench file).

What a run takes from a place is found by name, so a lab maps its places without renaming its
exporters' resources (a named match, `labgrid-client -p P add-named-match PATH dut`, gives a
resource its role in one place):

    resource `dut`        the DUT's UART (performance and accuracy runs)
    resource `interface`  the pass-through board's port (energy runs, sww)
    resource `monitor`    the energy monitor's serial port
    tag `board=NAME`      the board descriptor the place holds
    tag `interface=KIND`  the pass-through board's kind (default ifboard)
    tag `monitor=SPEC`    the monitor's kind (lpm01a), or a network instrument's whole spec
                          (otii:HOST:PORT, scpi:TCPIP::...), which needs no resource

A place with one serial port and no resource named by a role has its DUT there. The place is
checked before the run (its resources, its tags, who holds it), acquired when the run opens its
bench, and released when the run closes it, whichever way the run ends; a place that was already
acquired by this user (`labgrid-client acquire` first) is used and left acquired.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from ..errors import PlaceBusy, PlaceError, UsageError
from .bench import Bench, Part
from .labgrid_client import Coordinator, PlaceView, Resource
from .monitors import get_plugin, parse_spec
from .relays import DEFAULT_RELAY

SERIAL_CLASSES = ("NetworkSerialPort",)
MAX_WAIT_S = 24 * 3600.0


@dataclass(frozen=True)
class PlacePlan:
    """A place as checked before the run: the roles the run needs and the instruments' kinds."""

    name: str
    address: str
    wait_s: float
    board: str | None  # the place's `board` tag
    roles: dict[str, str]  # role ("dut", "interface", "monitor") -> the place's name for its resource
    relay_kind: str | None
    monitor_spec: str | None  # KIND (its port is the `monitor` resource) or a network instrument's KIND:TARGET

    def describe(self) -> dict:
        return {"place": self.name, "coordinator": self.address, "roles": dict(self.roles),
                "relay": self.relay_kind, "monitor": self.monitor_spec}


def serial_roles(view: PlaceView) -> dict[str, Resource]:
    """The place's serial ports by role name; a lone port not named by a role is the DUT."""
    serial = [r for r in view.resources if r.cls in SERIAL_CLASSES]
    by_name: dict[str, Resource] = {}
    for resource in serial:
        if resource.name in by_name:
            raise PlaceError(f"place {view.name} has two resources named {resource.name!r} "
                             f"({by_name[resource.name].path}, {resource.path}); give one a named match")
        by_name[resource.name] = resource
    if len(serial) == 1 and not {"dut", "interface", "monitor"} & set(by_name):
        return {"dut": serial[0]}
    return by_name


def plan_place(name: str, wait_s: float | None, *, mode: str, streamed: bool, board: str | None,
               relay_kind: str | None, monitor_kind: str | None) -> PlacePlan:
    """Ask the coordinator about the place and check it serves this run; nothing is acquired."""
    wait = 0.0 if wait_s is None else wait_s
    if not 0 <= wait <= MAX_WAIT_S:
        raise UsageError(f"--wait {wait:g}: seconds, 0..{MAX_WAIT_S:g}")
    with Coordinator() as coordinator:
        view, me, address = coordinator.view(name), coordinator.me, coordinator.address
    tagged_board = view.tags.get("board")
    if board and tagged_board and board != tagged_board:
        raise UsageError(f"--board {board}, but place {name} holds {tagged_board} (its board tag)")
    ports = serial_roles(view)
    needed: list[str] = []
    relay = monitor = None
    if mode == "energy" or streamed:
        relay = relay_kind or view.tags.get("interface") or DEFAULT_RELAY
        needed.append("interface")
    if mode == "energy":
        monitor = monitor_kind or view.tags.get("monitor")
        if not monitor:
            raise PlaceError(f"place {name} names no energy monitor: tag it (labgrid-client -p {name} set-tags "
                             "monitor=lpm01a) or pass --monitor KIND")
        if _monitor_on_port(name, monitor):
            needed.append("monitor")
    elif not streamed:
        needed.append("dut")
    roles: dict[str, str] = {}
    for role in needed:
        resource = ports.get(role)
        if resource is None:
            have = ", ".join(f"{r.name} ({r.cls})" for r in view.resources) or "no resources"
            raise PlaceError(f"place {name} has no serial port named {role!r} for the {_ROLE_WORDS[role]} "
                             f"(it matches {have}); name one with labgrid-client -p {name} add-named-match PATH "
                             f"{role}")
        if not resource.avail:
            raise PlaceError(f"place {name}: {resource.path} is not available (its exporter lost the device)")
        roles[role] = resource.name
    held_by = view.acquired_by if view.acquired_by != me else None
    if held_by and not wait:
        raise PlaceBusy(f"place {name} is acquired by {held_by}; wait for it with --wait SECONDS")
    return PlacePlan(name, address, wait, tagged_board, roles, relay, monitor)


_ROLE_WORDS = {"dut": "DUT's UART", "interface": "pass-through board", "monitor": "energy monitor"}
_PARTS = {"dut": "dut", "interface": "relay", "monitor": "monitor"}  # role -> the Bench part it becomes


def _monitor_on_port(place: str, spec: str) -> bool:
    """True when the monitor is the place's `monitor` serial port; a network instrument named whole
    by the tag needs none. An instrument a remote host cannot stream from is refused."""
    kind, target = parse_spec(spec)
    plugin = get_plugin(kind.name)
    if plugin.port_required:
        if target:
            raise PlaceError(f"place {place}: monitor {spec!r} names a port; on a place the port is the "
                             "`monitor` resource, so name the kind alone")
        if not plugin.remote_serial:
            raise PlaceError(f"the {plugin.name} streams faster than an RFC 2217 port carries without loss, so it "
                             f"cannot be measured through place {place}; run tiny-runner on the host it is "
                             "plugged into")
        return True
    if plugin.target_form == "SERIAL":  # found over USB by its own driver: only its own host reaches it
        raise PlaceError(f"the {plugin.name} is reached over USB by its own driver, not through a serial port, so "
                         f"it cannot be measured through place {place}; run tiny-runner on the host it is "
                         "plugged into")
    if not target:
        raise PlaceError(f"place {place}: the {plugin.name} is a network instrument: tag the place with its "
                         f"whole spec (monitor={plugin.name}:{plugin.target_form})")
    return False


def port_url(resource: Resource) -> str:
    """The pyserial URL of an exported serial port. ser2net cannot always report modem-line
    changes (a pty has none), so pyserial is told not to wait for those answers."""
    host, port = resource.params.get("host"), resource.params.get("port")
    if resource.params.get("protocol", "rfc2217") == "raw":
        return f"socket://{host}:{port}"
    return f"rfc2217://{host}:{port}?ign_set_control"


@dataclass
class PlaceBench:
    """The bench source of a run on a place: acquired as the run opens its bench, released as it
    closes it (Bench.on_close), on every way out."""

    plan: PlacePlan
    described: dict | None = None
    timings: dict = field(default_factory=dict)  # acquire_s, release_s: the place's cost to a run

    def open(self, request, run_path, log, progress) -> Bench:
        plan = self.plan
        started = time.monotonic()
        with Coordinator(plan.address) as coordinator:
            held_before = coordinator.view(plan.name).acquired_by == coordinator.me
            try:
                acquired = coordinator.acquire(plan.name, plan.wait_s, on_wait=lambda text: _note(log, text))
                resources = coordinator.port_params(plan.name, tuple(plan.roles.values()))
            except BaseException:
                if not held_before:  # ours only if this run took it: a Ctrl-C may land mid-acquisition
                    coordinator.release(plan.name)
                raise
        self.timings["acquire_s"] = time.monotonic() - started
        log(f"place {plan.name} " + ("acquired" if acquired else "already acquired by this user: used, left acquired")
            + f" ({self.timings['acquire_s']:.2f} s)")
        parts = {}
        for role, resource_name in plan.roles.items():
            resource = resources[resource_name]
            url = port_url(resource)
            spec = {"dut": url, "interface": f"{plan.relay_kind}:{url}", "monitor": f"{plan.monitor_spec}:{url}"}[role]
            parts[_PARTS[role]] = Part(spec, f"{role} {url}: place {plan.name} resource {resource.path}")
        if plan.monitor_spec and "monitor" not in parts:
            parts["monitor"] = Part(plan.monitor_spec, f"monitor {plan.monitor_spec}: place {plan.name} tag")
        record = {**plan.describe(), "acquired_by_run": acquired,
                  "resources": {role: resources[name].path for role, name in plan.roles.items()}}
        return Bench(**parts, records={"place": record}, on_close=self._release if acquired else None,
                     description=f"bench: labgrid place {plan.name} at {plan.address}")

    def _release(self, bench: Bench) -> None:
        started = time.monotonic()
        try:
            with Coordinator(self.plan.address) as coordinator:
                coordinator.release(self.plan.name)
        except (PlaceError, PlaceBusy) as exc:  # the run's own outcome stands; the place needs a hand
            bench.records["place"]["released"] = False
            print(f"tiny-runner: warning: {exc.message}; release it with labgrid-client -p {self.plan.name} "
                  "release", file=sys.stderr)
            return
        self.timings["release_s"] = time.monotonic() - started
        bench.records["place"].update(released=True, acquire_s=round(self.timings["acquire_s"], 3),
                                      release_s=round(self.timings["release_s"], 3))


def _note(log, text: str) -> None:
    log(text)
    print(f"tiny-runner: {text}", file=sys.stderr)
