"""An image read for one board: the checks `tiny-runner flash` makes before it programs or
installs anything, so a campaign can make them before its first cell."""

from __future__ import annotations

from pathlib import Path

from ..boards import Board
from .files import FirmwareImage, FlashRegion, check_fits, image_format, read_image
from .installed import check_installable


def read_board_image(board: Board, path: Path, fmt: str | None = None,
                     base_address: int | None = None) -> FirmwareImage:
    """The image at `path`, checked against `board`: a real board's flash, or what a board that
    runs on this machine can run. A .bin on a real board starts at its flash_base by default."""
    if board.virtual:
        # the size bounds the image before it is read; check_installable checks its addresses where they count
        region = FlashRegion(board.name, board.flash_base, board.flash_bytes, check_addresses=False)
        image = read_image(path, fmt, base_address, region)
        check_installable(board, image)
        return image
    fmt = fmt or (image_format(path) if path.is_file() else None)
    base = board.flash_base if fmt == "bin" and base_address is None else base_address
    image = read_image(path, fmt, base, FlashRegion(board.name, board.flash_base, board.flash_bytes))
    check_fits(image, board.name, board.flash_base, board.flash_bytes)
    return image
