"""The image a board that runs on this machine (QEMU, native) is "flashed" with.

`tiny-runner flash --board qemu-m4 IMAGE` keeps a copy of IMAGE here; the next `measure` on
that board runs it instead of building one, as a real board runs whatever was last programmed.
Erasing the board removes it, and `measure` builds its own image again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..boards import Board
from ..errors import FlashImageError
from .files import FirmwareImage, check_fits

STATE_ENV = "TINY_RUNNER_STATE"
# What each port can run: QEMU loads an ELF for the Cortex-M (-kernel); the POSIX port is an
# executable for this machine.
_HOST_MACHINES = {"x86_64": "EM_X86_64", "amd64": "EM_X86_64", "aarch64": "EM_AARCH64", "arm64": "EM_AARCH64"}
PORT_MACHINES = {"qemu-mps2-an386": "EM_ARM", "posix": _HOST_MACHINES.get(platform.machine().lower())}


@dataclass(frozen=True)
class InstalledImage:
    path: Path
    source: str
    sha256: str
    bytes: int
    installed: str

    def describe(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def state_root() -> Path:
    """Where installed images live: state, not cache, so clearing the build cache does not
    quietly change what a board runs."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base).expanduser() / "tiny-runner"


def _slot(board: Board) -> tuple[Path, Path]:
    folder = state_root() / "installed"
    return folder / f"{board.name}.image", folder / f"{board.name}.json"


def check_installable(board: Board, image: FirmwareImage) -> None:
    """That `board` can run `image`: the kind of ELF its port builds, inside its flash."""
    port = board.firmware_port
    if image.format != "elf":
        raise FlashImageError(f"{image.path}: {board.name} runs ELF images (the {port} port's build output), "
                              f"not {image.format.upper()}")
    wanted = PORT_MACHINES.get(port)
    if wanted and image.machine != wanted:
        raise FlashImageError(f"{image.path}: an ELF for {image.machine}; {board.name} runs {wanted} code")
    if port == "qemu-mps2-an386":
        check_fits(image, board.name, board.flash_base, board.flash_bytes)


def install(board: Board, image: FirmwareImage) -> InstalledImage:
    check_installable(board, image)
    path, meta = _slot(board)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    shutil.copyfile(image.path, partial)
    partial.chmod(0o755)  # the POSIX port's image is run directly
    partial.replace(path)
    installed = InstalledImage(path, str(image.path.resolve()), image.sha256, image.size,
                               time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    meta.write_text(json.dumps(installed.describe(), indent=2) + "\n")
    return installed


def installed_image(board: Board) -> InstalledImage | None:
    path, meta = _slot(board)
    if not (path.is_file() and meta.is_file()):
        return None
    fields = json.loads(meta.read_text())
    return InstalledImage(**{**fields, "path": path})


def erase(board: Board) -> bool:
    """Remove the installed image; True when there was one."""
    removed = False
    for file in _slot(board):
        if file.exists():
            file.unlink()
            removed = True
    return removed
