"""The firmware images a campaign flashes on a bench, one after the other: a lab builds one per
clock setting (or per compiler, or per benchmark) and measures each.

    [[benches]]
    name = "l4r5"
    board = "nucleo-l4r5zi"
    probe = "066DFF"                    # its debug probe, when several are attached (flash --probe)
    [[benches.images]]
    name = "80mhz"                      # what progress, cells and the database call it
    path = "build/kws-80mhz.elf"        # relative to the campaign file: .elf, .hex or .bin
    benchmarks = ["kws"]                # what it runs (default: the bench's)
    modes = ["performance"]             # what its build measures (default: the bench's)

Each image is read and checked against the board when the campaign is loaded, as
`tiny-runner flash` checks it, so a bad image stops the campaign before its first cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..boards import Board
from ..errors import CampaignError, TinyRunnerError
from ..image.board_image import read_board_image

_IMAGE_KEYS = {"name", "path", "benchmarks", "modes"}


@dataclass(frozen=True)
class Image:
    name: str
    path: str
    sha256: str
    benchmarks: tuple[str, ...] = ()  # when not all of the bench's
    modes: tuple[str, ...] = ()


def load_images(where: str, bench: str, entries, board: Board, folder: Path, name_pattern,
                own_benchmarks_and_modes) -> tuple[Image, ...]:
    """`own_benchmarks_and_modes(where, table)` reads an image's benchmarks and modes as a bench's are read."""
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise CampaignError(f"{where}: bench {bench}: images is a list of tables ([[benches.images]])")
    images = tuple(_image(where, bench, i, entry, board, folder, name_pattern, own_benchmarks_and_modes)
                   for i, entry in enumerate(entries))
    names = [image.name for image in images]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise CampaignError(f"{where}: bench {bench}: two images are named {twice!r}")
    return images


def _image(where: str, bench: str, index: int, data: dict, board: Board, folder: Path, name_pattern,
           own_benchmarks_and_modes) -> Image:
    here = f"{where}: bench {bench}: images[{index}]"
    unknown = sorted(set(data) - _IMAGE_KEYS)
    if unknown:
        raise CampaignError(f"{here}: unknown key {unknown[0]!r}; an image has {', '.join(sorted(_IMAGE_KEYS))}")
    name, path = data.get("name"), data.get("path")
    if not isinstance(name, str) or not name_pattern.match(name):
        raise CampaignError(f"{here}: name must be a plain name (letters, digits, '.', '_', '-'), got {name!r}")
    if not isinstance(path, str) or not path:
        raise CampaignError(f"{here}: path must be the image file, got {path!r}")
    benchmarks, modes = own_benchmarks_and_modes(here, data)
    try:
        image = read_board_image(board, (folder / path).resolve())
    except TinyRunnerError as exc:
        raise CampaignError(f"{here} ({name}): {exc.message}") from None
    return Image(name, str(image.path), image.sha256, benchmarks, modes)
