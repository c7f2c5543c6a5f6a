"""A stand-in for the slice of pyocd's API that tiny_runner.image.flash uses (ConnectHelper, Session,
MemoryLoader, FlashEraser, the target registry, managed packs), with a chip whose flash is a
bytearray. It records what was programmed and fails the way pyocd fails: pyocd's own exception
classes, raised where pyocd raises them. Pack parsing and target-name normalisation are pyocd's
real code."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace

from pyocd.core import exceptions
from pyocd.target import normalise_target_type_name
from pyocd.target.pack.cmsis_pack import CmsisPack


@dataclass
class FakeProbe:
    unique_id: str
    description: str = "STM32 STLink"
    vendor_name: str = "STMicroelectronics"
    product_name: str = "STM32 STLink"


@dataclass
class FakeChip:
    """Flash at [base, base + size); erased flash reads 0xFF."""

    base: int
    size: int
    memory: bytearray = None
    corrupt_at: int | None = None  # an address whose byte the flash keeps wrong (a worn cell)
    fail_on_commit: Exception | None = None
    fail_on_open: Exception | None = None
    resets: int = 0
    chip_erases: int = 0

    def __post_init__(self):
        self.memory = bytearray(b"\xff" * self.size)


@dataclass
class Recorder:
    probe_queries: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    loads: list = field(default_factory=list)  # (chip_erase, [(address, bytes)])
    closed: int = 0


class FakeTarget:
    def __init__(self, chip: FakeChip):
        self.chip = chip

    def read_memory_block8(self, addr: int, size: int) -> list[int]:
        offset = addr - self.chip.base
        if offset < 0 or offset + size > self.chip.size:
            raise exceptions.TransferFaultError("read outside flash", fault_address=addr)
        return list(self.chip.memory[offset:offset + size])

    def reset(self, reset_type=None) -> None:
        self.chip.resets += 1


def make_api(chip: FakeChip, probes: list[FakeProbe], targets: set[str], installed_pack_devices=()):
    """The namespace tiny_runner.image.flash.load_pyocd() returns, backed by CHIP."""
    record = Recorder()

    class ConnectHelper:
        @staticmethod
        def get_all_connected_probes(blocking=True, unique_id=None, print_wait_message=True):
            record.probe_queries.append(unique_id)
            found = [p for p in probes if unique_id is None or unique_id.lower() in p.unique_id.lower()]
            return sorted(found, key=lambda p: p.description + p.unique_id)

    class Session:
        def __init__(self, probe, auto_open=True, options=None, **kwargs):
            self.probe, self.options = probe, dict(options or {})
            self.target = FakeTarget(chip)
            record.sessions.append(self)

        def open(self):
            if chip.fail_on_open:
                raise chip.fail_on_open
            name = normalise_target_type_name(self.options["target_override"])
            pack_devices = set()
            for pack in self.options.get("pack") or []:
                pack_devices |= {normalise_target_type_name(d.part_number) for d in CmsisPack(pack).devices}
            installed = {normalise_target_type_name(device) for device in installed_pack_devices}
            if name not in targets | pack_devices | installed:
                # pyocd.board.board.Board.__init__
                raise exceptions.TargetSupportError(
                    f"Target type {name} not recognized. Use 'pyocd list --targets' to see currently available "
                    "target types. See <https://pyocd.io/docs/target_support.html> for how to install additional "
                    "target support.")

        def close(self):
            record.closed += 1

    class MemoryLoader:
        def __init__(self, session, progress=None, chip_erase=None, smart_flash=None, trust_crc=None,
                     keep_unwritten=None):
            self.progress, self.chip_erase, self.chunks = progress, chip_erase, []

        def add_data(self, address, data):
            if not (chip.base <= address and address + len(data) <= chip.base + chip.size):
                # pyocd.flash.loader.MemoryLoader.add_data
                raise ValueError(f"no memory region defined for address {address:#010x}")
            self.chunks.append((address, bytes(data)))
            return self

        def commit(self):
            record.loads.append((self.chip_erase, list(self.chunks)))
            if chip.fail_on_commit:
                raise chip.fail_on_commit
            if self.chip_erase == "chip":
                chip.memory[:] = b"\xff" * chip.size
                chip.chip_erases += 1
            total = sum(len(d) for _, d in self.chunks)
            written = 0
            for address, data in self.chunks:
                offset = address - chip.base
                chip.memory[offset:offset + len(data)] = data
                written += len(data)
                if self.progress:
                    self.progress(written / total)
            if chip.corrupt_at is not None:
                chip.memory[chip.corrupt_at - chip.base] ^= 0x10
            self.chunks = []

    class FlashEraser:
        class Mode(Enum):
            MASS = 1
            CHIP = 2
            SECTOR = 3

        def __init__(self, session, mode):
            self.mode = mode

        def erase(self, addresses=None):
            chip.memory[:] = b"\xff" * chip.size
            chip.chip_erases += 1

    class ManagedPacks:
        @staticmethod
        def get_installed_targets(cache=None):
            return [SimpleNamespace(part_number=name) for name in installed_pack_devices]

    api = SimpleNamespace(exceptions=exceptions, ConnectHelper=ConnectHelper, Session=Session,
                          FlashEraser=FlashEraser, MemoryLoader=MemoryLoader, TARGET={t: object for t in targets},
                          normalise=normalise_target_type_name, CmsisPack=CmsisPack, ManagedPacks=ManagedPacks)
    return api, record
