"""Firmware images as the flash sees them: ELF, Intel HEX or raw binary, read into the address
ranges they write, so that whether an image fits a board is known before a probe is touched.

What is checked here is exactly what gets programmed: the flash code writes these segments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import FlashImageError, ImageDoesNotFit

FORMATS = ("elf", "hex", "bin")
_SUFFIXES = {".elf": "elf", ".axf": "elf", ".out": "elf", ".hex": "hex", ".ihex": "hex", ".bin": "bin"}


@dataclass(frozen=True)
class Segment:
    address: int
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class FirmwareImage:
    path: Path
    format: str
    segments: tuple[Segment, ...]
    machine: str | None  # the ELF's e_machine (EM_ARM, EM_X86_64, ...); None for HEX and BIN
    sha256: str

    @property
    def size(self) -> int:
        return sum(len(s.data) for s in self.segments)

    def span(self) -> str:
        return ", ".join(f"{s.address:#010x}-{s.end - 1:#010x}" for s in self.segments)


@dataclass(frozen=True)
class FlashRegion:
    """Where a board's image may go. read_image checks an image against it from the file's size
    or headers before it reads the data, so a huge file is refused without being loaded."""

    board: str
    base: int
    size: int
    check_addresses: bool = True  # False where only the size bounds an image (a native program's addresses)

    @property
    def end(self) -> int:
        return self.base + self.size

    def describe(self) -> str:
        return f"{self.board}'s flash {self.base:#010x}-{self.end - 1:#010x} ({self.size:,} bytes)"


# An Intel HEX record spells each byte as two characters and adds 11 or 12 of framing; records of
# 8 bytes or more stay under 4 characters a byte, so a bigger file cannot be an image for the flash.
_HEX_CHARS_PER_BYTE = 4
_HEX_SLACK = 64 * 1024  # extended address records, a start record, comments of some tools
_HASH_CHUNK = 1024 * 1024


def image_format(path: Path, given: str | None = None) -> str:
    """--format when given, else the file name's suffix, else the file's first bytes."""
    if given:
        return given
    if path.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[path.suffix.lower()]
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise FlashImageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head == b"\x7fELF":
        return "elf"
    if head[:1] == b":":
        return "hex"
    raise FlashImageError(f"{path}: cannot tell the image format from its name; pass --format elf, hex or bin")


def read_image(path: Path, fmt: str | None = None, base_address: int | None = None,
               flash: FlashRegion | None = None) -> FirmwareImage:
    path = Path(path)
    if not path.is_file():
        raise FlashImageError(f"{path}: no such image file")
    fmt = image_format(path, fmt)
    if fmt != "bin" and base_address is not None:
        raise FlashImageError(f"{path}: a {fmt.upper()} image carries its own addresses; --base-address is for .bin")
    try:
        if fmt == "bin":
            if base_address is None:
                raise FlashImageError(f"{path}: a raw binary has no address; pass --base-address")
            if flash:
                _check_spans(path, [(base_address, path.stat().st_size)], flash)
            data = path.read_bytes()
            segments, machine = ([Segment(base_address, data)] if data else []), None
        elif fmt == "hex":
            if flash:
                _check_hex_size(path, flash)
            segments, machine = _hex_segments(path), None
        else:
            segments, machine = _elf_segments(path, flash)
        if not segments:
            raise FlashImageError(f"{path}: the {fmt.upper()} image holds no bytes to program")
        digest = _sha256(path)
    except OSError as exc:
        raise FlashImageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return FirmwareImage(path, fmt, tuple(sorted(segments, key=lambda s: s.address)), machine, digest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _elf_segments(path: Path, flash: FlashRegion | None) -> tuple[list[Segment], str]:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            # What a loader writes: loadable segments' file bytes at their load (physical) address;
            # .bss occupies memory but not flash.
            loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0]
            if flash:  # from the program headers alone, before any segment is read
                _check_spans(path, [(seg["p_paddr"], seg["p_filesz"]) for seg in loads], flash)
            segments = [Segment(seg["p_paddr"], seg.data()[: seg["p_filesz"]]) for seg in loads]
            return segments, elf["e_machine"]
    except ELFError as exc:
        raise FlashImageError(f"{path}: not a valid ELF file ({exc})") from None


def _check_hex_size(path: Path, flash: FlashRegion) -> None:
    size = path.stat().st_size
    if size > _HEX_CHARS_PER_BYTE * flash.size + _HEX_SLACK:
        raise ImageDoesNotFit(f"{path}: a {size:,}-byte Intel HEX file is too large to be an image for "
                              f"{flash.describe()} (HEX spells each byte in 2 to {_HEX_CHARS_PER_BYTE} characters)")


def _hex_segments(path: Path) -> list[Segment]:
    from intelhex import HexReaderError, IntelHex

    try:
        hexfile = IntelHex(str(path))
    except (HexReaderError, ValueError) as exc:
        raise FlashImageError(f"{path}: not a valid Intel HEX file ({exc})") from None
    return [Segment(start, hexfile.tobinstr(start=start, end=stop - 1)) for start, stop in hexfile.segments()]


def _check_spans(path: Path, spans: list[tuple[int, int]], flash: FlashRegion) -> None:
    """(address, length) spans: together no larger than the flash, and, where addresses count, inside it."""
    total = sum(length for _, length in spans)
    if total > flash.size:
        raise ImageDoesNotFit(f"{path}: {total:,} bytes do not fit {flash.describe()}")
    if not flash.check_addresses:
        return
    for address, length in spans:
        if address < flash.base or address + length > flash.end:
            raise ImageDoesNotFit(f"{path}: writes {address:#010x}-{address + length - 1:#010x}, outside "
                                  f"{flash.describe()}; is the image linked for this board?")


def check_fits(image: FirmwareImage, board_name: str, flash_base: int, flash_bytes: int) -> None:
    """Every byte of the image must land inside the board's flash."""
    _check_spans(image.path, [(s.address, len(s.data)) for s in image.segments],
                 FlashRegion(board_name, flash_base, flash_bytes))
