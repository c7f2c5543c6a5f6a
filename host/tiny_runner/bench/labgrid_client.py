"""Talking to a labgrid coordinator: what a place holds, acquiring it and releasing it. labgrid's
own client session does the talking (its gRPC stream, its place and resource model, its
LG_COORDINATOR / LG_HOSTNAME / LG_USERNAME conventions); this module only runs it for the short
exchanges a run needs, so that a place is held between two calls the way `labgrid-client acquire`
and `labgrid-client release` hold it.

labgrid is an optional extra (`pip install 'tiny-runner[labgrid]'`), imported only here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import PlaceBusy, PlaceError
from ..run.stopping import signals_held_back

DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid's own default
COORDINATOR_ENV = "LG_COORDINATOR"
_CONNECT_TIMEOUT_S = 10.0
_PORT_WAIT_S = 10.0  # an exporter starts a port's ser2net when the place is acquired
_POLL_S = 0.5


def coordinator_address() -> str:
    return os.environ.get(COORDINATOR_ENV) or DEFAULT_COORDINATOR


@dataclass(frozen=True)
class Resource:
    """One resource a place matches, under the name the place gives it (a named match's, else the
    exporter's)."""

    name: str
    path: str  # exporter/group/class/name, as labgrid prints it
    cls: str
    params: dict
    avail: bool


@dataclass(frozen=True)
class PlaceView:
    name: str
    tags: dict[str, str]
    acquired_by: str | None  # "host/user", labgrid's form
    resources: tuple[Resource, ...]


def _labgrid():
    try:
        import grpc
        from labgrid.remote import client
        from labgrid.remote.generated import labgrid_coordinator_pb2
        from labgrid.util.proxy import proxymanager
    except ImportError:
        raise PlaceError("labgrid places need labgrid: pip install 'tiny-runner[labgrid]'") from None
    return grpc, client, labgrid_coordinator_pb2, proxymanager


class Coordinator:
    """One short session with the coordinator: `with Coordinator() as c: c.view("rack1")`."""

    def __init__(self, address: str | None = None):
        self.address = address or coordinator_address()

    def __enter__(self) -> "Coordinator":
        grpc, client, self._pb2, proxymanager = _labgrid()
        self._grpc_error = grpc.aio.AioRpcError
        if not logging.getLogger().handlers:  # labgrid logs its errors on the root logger: they are reported here
            logging.getLogger().addHandler(logging.NullHandler())
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)  # grpc.aio binds its channel to the current loop
        try:
            target = proxymanager.get_grpc_address(self.address, default_port=20408)
            client.ensure_event_loop(self._loop)
            self._session = client.ClientSession(target, self._loop)
            self._run(asyncio.wait_for(self._session.start(), _CONNECT_TIMEOUT_S))
        except (client.Error, asyncio.TimeoutError, OSError, self._grpc_error) as exc:
            self._close_loop()
            why = str(exc) or "no answer"
            raise PlaceError(f"cannot reach the labgrid coordinator at {self.address} ({why}); set "
                             f"{COORDINATOR_ENV}=HOST:PORT") from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._run(self._session.stop())
            self._run(self._session.close())
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        self._loop.close()
        asyncio.set_event_loop(None)

    def _run(self, coroutine):
        return self._loop.run_until_complete(coroutine)

    @property
    def me(self) -> str:
        return f"{self._session.gethostname()}/{self._session.getuser()}"

    def _place(self, name: str):
        place = self._session.places.get(name)
        if place is None:
            known = ", ".join(sorted(self._session.places)) or "none"
            raise PlaceError(f"the labgrid coordinator at {self.address} has no place {name!r} (places: {known})")
        return place

    def view(self, name: str) -> PlaceView:
        place = self._place(name)
        resources = []
        for exporter, groups in sorted(self._session.resources.items()):
            for group, entries in sorted(groups.items()):
                for resource_name, entry in sorted(entries.items()):
                    path = (exporter, group, entry.cls, resource_name)
                    match = place.getmatch(path)
                    if match is not None:
                        resources.append(Resource(match.rename or resource_name, "/".join(path), entry.cls,
                                                  dict(entry.params), entry.avail))
        return PlaceView(place.name, dict(place.tags), place.acquired or None, tuple(resources))

    def acquire(self, name: str, wait_s: float, on_wait: Callable[[str], None]) -> bool:
        """Acquire the place; True when this call acquired it, False when it was already ours.
        A place someone else holds raises PlaceBusy at once, or after up to wait_s of waiting."""
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            holder = self._place(name).acquired
            if holder == self.me:
                return False
            if not holder:
                try:
                    with signals_held_back():  # a Ctrl-C here would leave the place acquired, unknown to the run
                        self._run(self._session.stub.AcquirePlace(self._pb2.AcquirePlaceRequest(placename=name)))
                        self._run(self._session.sync_with_coordinator())
                    return True
                except self._grpc_error as exc:  # taken between our look and our request
                    self._run(self._session.sync_with_coordinator())
                    holder = self._place(name).acquired or exc.details()
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_s:g} s" if wait_s else ""
                raise PlaceBusy(f"place {name} is acquired by {holder}{waited}; "
                                + ("wait longer with --wait SECONDS" if wait_s else "wait for it with --wait SECONDS"))
            if not told:
                on_wait(f"place {name} is acquired by {holder}: waiting up to {wait_s:g} s for it")
                told = True
            self._run(asyncio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic()))))

    def port_params(self, name: str, roles: tuple[str, ...]) -> dict[str, Resource]:
        """The acquired place's resources for these roles, once their exporter has published their
        network ports (it starts a serial port's ser2net on acquisition)."""
        deadline = time.monotonic() + _PORT_WAIT_S
        while True:
            by_role = {r.name: r for r in self.view(name).resources}
            missing = [role for role in roles if role not in by_role]
            if missing:
                raise PlaceError(f"place {name} has no resource named {missing[0]!r} now that it is acquired")
            pending = [role for role in roles if by_role[role].params.get("port") is None]
            if not pending:
                return {role: by_role[role] for role in roles}
            if time.monotonic() > deadline:
                raise PlaceError(f"place {name}: the exporter of {by_role[pending[0]].path} published no port within "
                                 f"{_PORT_WAIT_S:g} s of the acquisition")
            self._run(asyncio.sleep(0.1))

    def release(self, name: str) -> None:
        self._run(self._session.sync_with_coordinator())
        place = self._place(name)
        if place.acquired != self.me:
            return  # released already, or taken from us (`labgrid-client release --kick`)
        try:
            with signals_held_back():
                self._run(self._session.stub.ReleasePlace(self._pb2.ReleasePlaceRequest(placename=name)))
                self._run(self._session.sync_with_coordinator())
        except self._grpc_error as exc:
            raise PlaceError(f"place {name} could not be released: {exc.details()}") from None
