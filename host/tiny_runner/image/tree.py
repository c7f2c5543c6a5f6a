"""Where the C firmware sources are: the package data `tiny_runner.firmware_files` of an
installed copy, or firmware/ next to host/ in a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import TinyRunnerError

# A file every complete firmware tree has; a folder without it is not one.
_MARKER = "Makefile"


def firmware_source_dir() -> Path:
    """The firmware folder (holding Makefile, core/, model/, nn/, ports/)."""
    for candidate in _candidates():
        if (candidate / _MARKER).is_file():
            return candidate
    raise TinyRunnerError("the firmware sources are missing from this installation (tiny_runner.firmware_files)")


def _candidates() -> list[Path]:
    found = []
    try:
        found.append(Path(str(resources.files("tiny_runner.firmware_files"))))
    except ModuleNotFoundError:  # an editable install made before the firmware was package data
        pass
    found.append(Path(__file__).resolve().parents[3] / "firmware")
    return found
