"""Programming a real board through pyocd's Python API (the `flash` extra, imported lazily).

The order is the point: the image is read and checked against the board's flash, then the
target type is checked (built into pyocd, or in a CMSIS pack we can open), and only then is a
probe looked for and touched. pyocd's own pack installer reports success offline without
installing anything, so a pack is trusted only when its file is here and names the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from ..boards import Board
from ..errors import FlashFailed, NoProbe, SeveralProbes, TargetNotSupported
from .files import FirmwareImage

EXTRA = "flash"
ERASE_MODES = ("auto", "chip", "sector")
_VERIFY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FlashOptions:
    probe_uid: str | None = None
    packs: tuple[Path, ...] = ()
    erase: str = "auto"  # pyocd's chip_erase: auto picks chip or sector erase by what is faster
    verify: bool = True
    reset: bool = True  # reset and run the new image
    frequency_hz: int | None = None


@dataclass
class FlashReport:
    probe: str
    target: str
    target_source: str  # where pyocd's description of the target came from
    bytes_programmed: int
    verified: bool
    reset: bool
    notes: list[str] = field(default_factory=list)


def load_pyocd() -> SimpleNamespace:
    """The slice of pyocd's API this module uses; tests replace it at exactly this boundary."""
    try:
        from pyocd.core import exceptions
        from pyocd.core.helpers import ConnectHelper
        from pyocd.core.session import Session
        from pyocd.flash.eraser import FlashEraser
        from pyocd.flash.loader import MemoryLoader
        from pyocd.target import TARGET, normalise_target_type_name
        from pyocd.target.pack.cmsis_pack import CmsisPack
        from pyocd.target.pack.pack_target import ManagedPacks
    except ImportError:
        raise FlashFailed(f"flashing a board needs pyocd: pip install 'tiny-runner[{EXTRA}]'") from None
    return SimpleNamespace(exceptions=exceptions, ConnectHelper=ConnectHelper, Session=Session,
                           FlashEraser=FlashEraser, MemoryLoader=MemoryLoader, TARGET=TARGET,
                           normalise=normalise_target_type_name, CmsisPack=CmsisPack, ManagedPacks=ManagedPacks)


def target_source(api, board: Board, packs: tuple[Path, ...]) -> str:
    """Where pyocd will find the board's target type, or TargetNotSupported saying what to do."""
    target = board.programming["pyocd_target"]
    name = api.normalise(target)
    if name in api.TARGET:
        return "built into pyocd"
    wanted = board.programming.get("pack", "a CMSIS device family pack")
    for pack in packs:
        if name in _pack_devices(api, pack):
            return f"CMSIS pack {pack}"
    if packs:
        raise TargetNotSupported(f"{', '.join(map(str, packs))}: no device {target} in the pack; "
                                 f"{board.name} needs {wanted}")
    if any(api.normalise(device.part_number) == name for device in api.ManagedPacks.get_installed_targets()):
        return "CMSIS pack installed in pyocd's pack cache"
    raise TargetNotSupported(f"{board.name}'s target {target} is not built into pyocd and its pack {wanted} is not "
                             "installed: download the .pack file and pass --pack FILE")


def _pack_devices(api, pack: Path) -> set[str]:
    if not pack.exists():
        raise TargetNotSupported(f"{pack}: no such CMSIS pack file")
    try:
        return {api.normalise(device.part_number) for device in api.CmsisPack(pack).devices}
    except api.exceptions.TargetSupportError as exc:  # pyocd's MalformedCmsisPackError
        raise TargetNotSupported(f"{pack}: not a usable CMSIS pack ({exc})") from None


def attached_probes() -> tuple[list[dict], str | None]:
    """The debug probes pyocd sees (a probe is a USB device, often with no serial port of its
    own), each with the --probe value that picks it; or why they were not looked for."""
    try:
        api = load_pyocd()
    except FlashFailed:
        return [], f"debug probes not looked for: pip install 'tiny-runner[{EXTRA}]' (pyocd)"
    try:
        probes = api.ConnectHelper.get_all_connected_probes(blocking=False)
    except Exception as exc:  # no USB backend, no permission: pyocd's own words
        return [], f"debug probes not looked for: {_first_line(exc)}"
    return [{"unique_id": p.unique_id, "description": p.description, "use": f"--probe {p.unique_id}"}
            for p in probes], None


def choose_probe(api, uid: str | None):
    probes = api.ConnectHelper.get_all_connected_probes(blocking=False, unique_id=uid)
    if len(probes) == 1:
        return probes[0]
    if len(probes) > 1:
        listed = "; ".join(f"{p.unique_id} ({p.description})" for p in probes)
        raise SeveralProbes(f"{len(probes)} debug probes {'match --probe ' + uid if uid else 'are attached'}: "
                            f"{listed}; choose one with --probe UID")
    if uid is None:
        raise NoProbe("no debug probe found: connect the board's USB debug port (and check its permissions)")
    attached = api.ConnectHelper.get_all_connected_probes(blocking=False)
    listed = ", ".join(f"{p.unique_id} ({p.description})" for p in attached) or "none"
    raise NoProbe(f"no debug probe matches --probe {uid}; attached: {listed}")


def program(board: Board, image: FirmwareImage | None, options: FlashOptions,
            progress: Callable[[float], None] | None = None, api=None) -> FlashReport:
    """Program IMAGE (None: erase only) into BOARD. The caller has checked that the image fits."""
    api = api or load_pyocd()
    source = target_source(api, board, options.packs)
    probe = choose_probe(api, options.probe_uid)
    target = board.programming["pyocd_target"]
    session_options = {"target_override": target}
    if options.packs:
        session_options["pack"] = [str(p) for p in options.packs]
    if options.frequency_hz:
        session_options["frequency"] = options.frequency_hz
    session = api.Session(probe, options=session_options)
    report = FlashReport(f"{probe.unique_id} ({probe.description})", target, source, 0, False, False)
    errors = api.exceptions
    try:
        session.open()
    except errors.TargetSupportError as exc:
        raise TargetNotSupported(f"pyocd cannot drive target {target}: {_first_line(exc)}") from None
    except errors.Error as exc:
        raise FlashFailed(f"cannot connect to {target} through probe {probe.unique_id}: {_first_line(exc)}") from None
    try:
        if image is None:
            api.FlashEraser(session, api.FlashEraser.Mode.CHIP).erase()
        else:
            _write(api, session, image, options, progress)
            report.bytes_programmed = image.size
            if options.verify:
                _verify(session.target, image)
                report.verified = True
        if options.reset:
            session.target.reset()
            report.reset = True
    except errors.Error as exc:
        raise FlashFailed(f"{'erasing' if image is None else 'programming'} {board.name} failed: "
                          f"{_first_line(exc)}") from None
    finally:
        session.close()
    return report


def _write(api, session, image: FirmwareImage, options: FlashOptions, progress) -> None:
    loader = api.MemoryLoader(session, progress=progress, chip_erase=options.erase, smart_flash=True,
                              trust_crc=False, keep_unwritten=True)
    for segment in image.segments:
        try:
            loader.add_data(segment.address, segment.data)
        except ValueError as exc:  # pyocd: the address is in no flash region of the target's memory map
            raise FlashFailed(f"{image.path}: {segment.address:#010x} is not in {session.options['target_override']}"
                              f"'s flash as pyocd maps it ({_first_line(exc)})") from None
    loader.commit()


def _verify(target, image: FirmwareImage) -> None:
    """Read every programmed byte back; the flash algorithms' own checks are not a read-back."""
    for segment in image.segments:
        for offset in range(0, len(segment.data), _VERIFY_CHUNK):
            wanted = segment.data[offset:offset + _VERIFY_CHUNK]
            address = segment.address + offset
            got = bytes(target.read_memory_block8(address, len(wanted)))
            if got != wanted:
                first = next(i for i, (a, b) in enumerate(zip(got, wanted)) if a != b)
                differ = sum(a != b for a, b in zip(got, wanted))
                raise FlashFailed(f"verify failed at {address + first:#010x}: wrote {wanted[first]:#04x}, read "
                                  f"{got[first]:#04x} ({differ} bytes differ in {address:#010x}-"
                                  f"{address + len(wanted) - 1:#010x})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
