"""Errors a person can act on: each class carries its own exit code and a one-line message.

The CLI prints `tiny-runner: error: <message>` and exits with `exit_code`; no traceback.
The codes are part of the interface (docs/cli.md lists them) so scripts can branch on them.
"""

from __future__ import annotations


class TinyRunnerError(Exception):
    """Base of every error that is the user's input or the bench's state, not a bug."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ResultNotValid(TinyRunnerError):
    """The run finished but broke a run rule; the numbers are reported and marked not valid."""

    exit_code = 3


class BoardError(TinyRunnerError):
    """Unknown board name or a malformed board descriptor."""

    exit_code = 10


class ModelError(TinyRunnerError):
    """Model file missing, hash mismatch, or a model that does not fit the benchmark."""

    exit_code = 11


class DatasetError(TinyRunnerError):
    """Dataset folder without y_labels.csv, a missing or wrongly sized stimulus file."""

    exit_code = 12


class PortError(TinyRunnerError):
    """A serial port (or URL) that cannot be opened, or that went away."""

    exit_code = 13


class DutTimeout(TinyRunnerError):
    """The DUT did not complete a reply in time."""

    exit_code = 14


class DutErrorReply(TinyRunnerError):
    """The DUT answered a command with an error (`e-[...]` or a known unprefixed error line)."""

    exit_code = 15

    def __init__(self, message: str, *, command: str = "", reply: str = ""):
        super().__init__(message)
        self.command = command
        self.reply = reply


class FirmwareMismatch(TinyRunnerError):
    """The DUT runs firmware for another mode (performance vs energy) or another model."""

    exit_code = 16


class ProtocolError(TinyRunnerError):
    """The DUT answered, but not in the shape the protocol prescribes (or it rebooted)."""

    exit_code = 17


class LabError(TinyRunnerError):
    """The virtual lab failed: a virtual device could not start or died."""

    exit_code = 18


class InferenceError(TinyRunnerError):
    """The host-side TFLM interpreter failed (crashed, or rejected the model)."""

    exit_code = 19


class MonitorProblem(TinyRunnerError):
    """The energy monitor did not answer, refused a command, or its stream broke."""

    exit_code = 20


class MonitorTooOld(TinyRunnerError):
    """The energy monitor's firmware lacks what an energy run needs."""

    exit_code = 21


class SessionFileError(TinyRunnerError):
    """A saved session (EEMBC EnergyRunner) that is missing files or cannot be read."""

    exit_code = 22


class FirmwareBuildError(TinyRunnerError):
    """The DUT firmware image could not be built (toolchain missing, compiler error)."""

    exit_code = 23


class FlashImageError(TinyRunnerError):
    """An image that cannot be read as ELF, Intel HEX or raw binary, or is not for this board."""

    exit_code = 24


class ImageDoesNotFit(TinyRunnerError):
    """The image is larger than the board's flash or writes outside it."""

    exit_code = 25


class NoProbe(TinyRunnerError):
    """No debug probe is attached (or none matches --probe)."""

    exit_code = 26


class SeveralProbes(TinyRunnerError):
    """More than one debug probe matches and none was chosen."""

    exit_code = 27


class TargetNotSupported(TinyRunnerError):
    """pyocd cannot program the board's target: unknown target type, or its CMSIS pack is missing."""

    exit_code = 28


class FlashFailed(TinyRunnerError):
    """Connecting to the target, erasing, programming or verifying failed (or pyocd is not installed)."""

    exit_code = 29


class UsageError(TinyRunnerError):
    """Options that contradict each other or values out of range."""

    exit_code = 2


class Interrupted(TinyRunnerError):
    """The user stopped the run (Ctrl-C)."""

    exit_code = 130


class Terminated(TinyRunnerError):
    """The run was ended by SIGTERM or SIGHUP (a scheduler, CI, a closed terminal): 128 + 15."""

    exit_code = 143


class DetectionError(TinyRunnerError):
    """The board's port could not be found: no port, or several, with its USB ID and name."""

    exit_code = 30


class RunDirError(TinyRunnerError):
    """The run directory cannot be created or written: a file in its place, a read-only folder, a full disk."""

    exit_code = 31


class BenchFileError(TinyRunnerError):
    """A bench file (--bench) that cannot be found or read, or does not describe a bench."""

    exit_code = 32


class StreamError(TinyRunnerError):
    """A streamed run (sww01) whose stream cannot be scored: no sync detection, duty-cycle lists
    that do not pair up, a WAV file missing from the interface board's SD card."""

    exit_code = 33


class DatabaseError(TinyRunnerError):
    """The results database cannot be opened, read or written: not a database, written by a newer
    tiny-runner, a read-only or full disk. The run directories it is drawn from are untouched."""

    exit_code = 34


class CampaignError(TinyRunnerError):
    """A campaign file that cannot be used: not TOML, an unknown key, a bench or benchmark that
    does not exist, a mode without the dataset it needs."""

    exit_code = 35


class CampaignIncomplete(TinyRunnerError):
    """A campaign ended with cells that failed every attempt; what was measured is recorded."""

    exit_code = 36


class PlaceError(TinyRunnerError):
    """A labgrid place that cannot be used: the coordinator does not answer, the place does not
    exist, lacks a resource the run needs, or holds an instrument that cannot be used remotely."""

    exit_code = 37


class PlaceBusy(TinyRunnerError):
    """The labgrid place is acquired by someone else (and stayed so for the whole of --wait)."""

    exit_code = 38


class PublishedTableError(TinyRunnerError):
    """A published results table that cannot be used: unreadable, not UTF-8 CSV, a column missing,
    a row without its source, a value that is not a number."""

    exit_code = 39
