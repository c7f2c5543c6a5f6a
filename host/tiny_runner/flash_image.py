"""Firmware images as the flash sees them: ELF, Intel HEX or raw binary, read into the address
ranges they write, so that whether an image fits a board is known before a probe is touched.

What is checked here is exactly what gets programmed: the flash code writes these segments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import FlashImageError, ImageDoesNotFit

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


def image_format(path: Path, given: str | None = None) -> str:
    """--format when given, else the file name's suffix, else the file's first bytes."""
    if given:
        return given
    if path.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[path.suffix.lower()]
    head = path.read_bytes()[:4]
    if head == b"\x7fELF":
        return "elf"
    if head[:1] == b":":
        return "hex"
    raise FlashImageError(f"{path}: cannot tell the image format from its name; pass --format elf, hex or bin")


def read_image(path: Path, fmt: str | None = None, base_address: int | None = None) -> FirmwareImage:
    path = Path(path)
    if not path.is_file():
        raise FlashImageError(f"{path}: no such image file")
    fmt = image_format(path, fmt)
    if fmt != "bin" and base_address is not None:
        raise FlashImageError(f"{path}: a {fmt.upper()} image carries its own addresses; --base-address is for .bin")
    if fmt == "bin":
        if base_address is None:
            raise FlashImageError(f"{path}: a raw binary has no address; pass --base-address")
        data = path.read_bytes()
        segments, machine = ([Segment(base_address, data)] if data else []), None
    elif fmt == "hex":
        segments, machine = _hex_segments(path), None
    else:
        segments, machine = _elf_segments(path)
    if not segments:
        raise FlashImageError(f"{path}: the {fmt.upper()} image holds no bytes to program")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return FirmwareImage(path, fmt, tuple(sorted(segments, key=lambda s: s.address)), machine, digest)


def _elf_segments(path: Path) -> tuple[list[Segment], str]:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            # What a loader writes: loadable segments' file bytes at their load (physical) address;
            # .bss occupies memory but not flash.
            segments = [Segment(seg["p_paddr"], seg.data()[: seg["p_filesz"]])
                        for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0]
            return segments, elf["e_machine"]
    except ELFError as exc:
        raise FlashImageError(f"{path}: not a valid ELF file ({exc})") from None


def _hex_segments(path: Path) -> list[Segment]:
    from intelhex import HexReaderError, IntelHex

    try:
        hexfile = IntelHex(str(path))
    except (HexReaderError, ValueError) as exc:
        raise FlashImageError(f"{path}: not a valid Intel HEX file ({exc})") from None
    return [Segment(start, hexfile.tobinstr(start=start, end=stop - 1)) for start, stop in hexfile.segments()]


def check_fits(image: FirmwareImage, board_name: str, flash_base: int, flash_bytes: int) -> None:
    """Every byte of the image must land inside the board's flash."""
    flash_end = flash_base + flash_bytes
    region = f"{board_name}'s flash {flash_base:#010x}-{flash_end - 1:#010x} ({flash_bytes:,} bytes)"
    if image.size > flash_bytes:
        raise ImageDoesNotFit(f"{image.path}: {image.size:,} bytes do not fit {region}")
    for segment in image.segments:
        if segment.address < flash_base or segment.end > flash_end:
            raise ImageDoesNotFit(f"{image.path}: writes {segment.address:#010x}-{segment.end - 1:#010x}, outside "
                                  f"{region}; is the image linked for this board?")
