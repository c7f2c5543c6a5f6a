"""tiny-runner flash --board NAME IMAGE: program a board (pyocd), or install the image a QEMU or
native board runs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ..boards import Board, load_board
from ..errors import UsageError
from ..image.board_image import read_board_image
from ..image.files import FORMATS, FirmwareImage
from ..image.flash import ERASE_MODES, FlashOptions, program
from ..image.installed import erase, install
from ..run.progress import Progress


def add_parser(sub) -> None:
    p = sub.add_parser("flash", help="program a board with a firmware image (pyocd)",
                       description="Reads the image, checks that it fits the board's flash, then programs it "
                                   "through pyocd (pip install 'tiny-runner[flash]'), verifies it by reading it "
                                   "back and resets the board. On qemu-m4 and native-posix the image is installed "
                                   "for the next `measure` to run.")
    p.add_argument("--board", required=True, help="board descriptor name (see `tiny-runner boards`)")
    p.add_argument("image", nargs="?", type=Path, help="the image: .elf/.axf, .hex or .bin")
    p.add_argument("--format", choices=FORMATS, help="image format (default: from the file name or its content)")
    p.add_argument("--base-address", type=_address, metavar="ADDR",
                   help="where a .bin image starts (default: the board's flash_base)")
    p.add_argument("--probe", metavar="UID", help="debug probe unique ID (or part of it) when several are attached")
    p.add_argument("--pack", type=Path, action="append", default=[], metavar="FILE",
                   help="CMSIS device family pack (.pack) for a target pyocd does not build in; repeatable")
    p.add_argument("--erase", choices=ERASE_MODES, default="auto",
                   help="chip erase, sector erase, or whichever is faster (default auto)")
    p.add_argument("--erase-only", action="store_true", help="erase the whole flash and program nothing")
    p.add_argument("--no-verify", action="store_true", help="skip reading the image back after programming")
    p.add_argument("--no-reset", action="store_true", help="leave the target halted instead of running the image")
    p.add_argument("--frequency", type=int, metavar="HZ", help="SWD/JTAG clock for the probe")
    p.add_argument("--json", action="store_true", help="print what was done as one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run)


def _address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an address such as 0x08000000")
    return value


def run(args) -> int:
    board = load_board(args.board)
    if args.erase_only == (args.image is not None):
        raise UsageError("pass an IMAGE to program, or --erase-only")
    if args.frequency is not None and args.frequency <= 0:
        raise UsageError("--frequency must be a positive number of Hz")
    if board.virtual:
        return _virtual(board, args)
    image = read_board_image(board, args.image, args.format, args.base_address) if args.image is not None else None
    options = FlashOptions(probe_uid=args.probe, packs=tuple(args.pack), erase=args.erase, verify=not args.no_verify,
                           reset=not args.no_reset, frequency_hz=args.frequency)
    progress = Progress(enabled=not args.quiet)
    progress.start(f"{'erasing' if image is None else 'programming'} {board.name}")
    total = image.size if image else 0
    try:
        report = program(board, image, options,
                         lambda fraction: progress.update(round(fraction * total), total, "bytes (erase and write)"))
    finally:
        progress.done()
    if args.json:
        print(json.dumps({"board": board.name, "image": _describe(image), **asdict(report)}))
        return 0
    what = f"{image.path} ({image.size:,} bytes at {image.span()})" if image else "erased the whole flash"
    print(f"{board.name}: {what}")
    print(f"  probe {report.probe}, target {report.target} ({report.target_source})")
    done = ["verified by reading back" if report.verified else "", "reset and running" if report.reset else "halted"]
    print(f"  {', '.join(d for d in done if d)}")
    return 0


def _virtual(board: Board, args) -> int:
    real_only = {"--probe": args.probe, "--pack": args.pack or None, "--frequency": args.frequency,
                 "--no-verify": args.no_verify or None, "--no-reset": args.no_reset or None}
    given = [option for option, value in real_only.items() if value is not None]
    if given:
        raise UsageError(f"{given[0]} applies to real boards; {board.name} runs on this machine")
    if not board.firmware_port:
        raise UsageError(f"{board.name} runs the emulated reference firmware of the virtual lab: there is no image to "
                         "flash (qemu-m4 and native-posix run images)")
    if args.erase_only:
        removed = erase(board)
        print(f"{board.name}: {'installed image removed' if removed else 'no image was installed'}; `measure` builds "
              "its own image again")
        return 0
    image = read_board_image(board, args.image, args.format, args.base_address)
    installed = install(board, image)
    if args.json:
        print(json.dumps({"board": board.name, "image": _describe(image), "installed": installed.describe()}))
        return 0
    print(f"{board.name}: installed {image.path} ({image.size:,} bytes at {image.span()})")
    print(f"  the next `tiny-runner measure --board {board.name}` runs it; "
          f"`tiny-runner flash --board {board.name} --erase-only` goes back to building images")
    return 0


def _describe(image: FirmwareImage | None) -> dict | None:
    if image is None:
        return None
    return {"path": str(image.path), "format": image.format, "bytes": image.size, "sha256": image.sha256,
            "segments": [{"address": s.address, "bytes": len(s.data)} for s in image.segments]}
