"""A real labgrid deployment on 127.0.0.1 for the tests: labgrid-coordinator, labgrid-exporter
(which serves each exported serial port through its own ser2net) and labgrid-client to make
places, as a lab runs them. The exported ports are the virtual lab's ptys (`lab serve`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import require_tools

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not listen on 127.0.0.1:{port}")
            time.sleep(0.1)


@contextmanager
def served_lab(*options: str):
    """`tiny-runner lab serve` on ptys; yields {name: pty} as it prints them."""
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", "virtual-l4r5zi",
                               *options], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()  # "virtual ... Ctrl-C stops it"
        first = server.stdout.readline().split()
        ports = {"dut": first[1]} if first[0] == "ready" else dict([first, server.stdout.readline().split()])
        yield ports
    finally:
        server.terminate()
        server.wait(timeout=10)


class Labgrid:
    """A coordinator and its exporters, and labgrid-client to act on it as a given user."""

    def __init__(self, folder: Path):
        require_tools("ser2net")
        self.folder = folder
        self.address = f"127.0.0.1:{free_port()}"
        self.processes: list[subprocess.Popen] = []
        self._start([str(BIN / "labgrid-coordinator"), "-l", self.address], "coordinator")
        wait_listening(int(self.address.split(":")[1]), "labgrid-coordinator")

    def _start(self, command: list[str], name: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        self.processes.append(subprocess.Popen(command, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT))
        log.close()

    @property
    def env(self) -> dict:
        return {"LG_COORDINATOR": self.address}

    def export(self, exporter: str, groups: dict[str, dict[str, str]]) -> None:
        """groups: {group: {resource name: pty}}, each a RawSerialPort, exported as NetworkSerialPort."""
        config = self.folder / f"{exporter}.yaml"
        config.write_text("".join(
            f"{group}:\n" + "".join(f"  {name}:\n    cls: RawSerialPort\n    port: {pty}\n    speed: 115200\n"
                                    for name, pty in ports.items())
            for group, ports in groups.items()))
        self._start([str(BIN / "labgrid-exporter"), "-c", self.address, "-n", exporter, "--hostname", "127.0.0.1",
                     str(config)], f"exporter-{exporter}")
        wanted = [f"{exporter}/{group}/NetworkSerialPort[/{name}]" for group, ports in groups.items() for name in ports]
        deadline = time.monotonic() + 20
        while not all(path in self.client("-v", "resources").stdout for path in wanted):
            if time.monotonic() > deadline:
                pytest.fail(f"labgrid-exporter {exporter} did not register {wanted}")
            time.sleep(0.2)

    def client(self, *args: str, user: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, **self.env, **({"LG_USERNAME": user} if user else {}))
        result = subprocess.run([str(BIN / "labgrid-client"), *args], capture_output=True, text=True, env=env,
                                timeout=30)
        if check and result.returncode:
            pytest.fail(f"labgrid-client {' '.join(args)}: {result.stderr}")
        return result

    def place(self, name: str, matches: dict[str, str], tags: dict[str, str]) -> None:
        """A place matching exporter/group/cls/name paths, each under the role name it maps to."""
        self.client("-p", name, "create", check=True)
        for path, role in matches.items():
            if path.rsplit("/", 1)[-1] == role:
                self.client("-p", name, "add-match", path, check=True)
            else:
                self.client("-p", name, "add-named-match", path, role, check=True)
        if tags:
            self.client("-p", name, "set-tags", *(f"{k}={v}" for k, v in tags.items()), check=True)

    def holder(self, place: str) -> str | None:
        for line in self.client("-p", place, "show", check=True).stdout.splitlines():
            if line.strip().startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                return None if value == "None" else value
        raise AssertionError(f"labgrid-client show {place} printed no acquired line")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
