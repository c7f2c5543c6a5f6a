"""The interface board's streaming commands (sww01), parsed strictly from what the official
interface firmware prints (mlcommons/tiny benchmark/interface/Application/CLI/InterfaceMenu.cpp):

- `ls`: one file name per line of its SD card's folder.
- `play FILE`: `Attempting to play FILE`, then `succeeded.` or `Error playing file. ...`; it
  blocks until the file has played.
- `record_detections`: `Now recording detections` (the detection timer restarts at 0).
- `print_detections`: `Detection Timestamps (ms)`, then `N,` per line: the WW_DETECTED falling
  edges in ms since record_detections, at most 10 000, none closer than 10 ms to the previous
  (the board drops those).
- `print_dutycycle`: `Duty cycle start times (s)`, the PROCESSING pin's rising edges as `N, `
  items eight to a line (in 10 µs ticks despite the "(s)"), an empty line, `Duty cycle stop
  times (s)`, its falling edges the same way; the last line may end in `m-ready` itself (the
  firmware sends no line end before it). At most 100 of each.

A reply that does not look like that is a ProtocolError naming the line: the numbers become
the run's accuracy and throughput, so nothing is guessed.
"""

from __future__ import annotations

import re

from ...errors import ProtocolError

DETECTIONS_HEADER = "Detection Timestamps (ms)"
STARTS_HEADER = "Duty cycle start times (s)"
STOPS_HEADER = "Duty cycle stop times (s)"
MAX_DETECTIONS = 10_000
MAX_DUTY_FRAMES = 100
MIN_DETECTION_GAP_MS = 10
_PLAIN_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DETECTION = re.compile(r"^(\d{1,10}),$")
_TICKS = re.compile(r"^(\d{1,10}, )*(\d{1,10},?)?$")


def check_file_name(name: str) -> str:
    """A name `play` may be given: one plain file of the SD card's folder (it goes on a command line)."""
    if not _PLAIN_FILE.match(name):
        raise ProtocolError(f"{name!r} is not a plain file name (letters, digits, '.', '_', '-') for the "
                            "board's SD card")
    return name


def parse_files(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


def check_played(name: str, lines: list[str]) -> None:
    if any(line.startswith("Error playing file") for line in lines):
        raise ProtocolError(f"the interface board could not play {name}: {' '.join(lines)}")
    if lines[-1:] != ["succeeded."]:
        raise ProtocolError(f"the interface board answered 'play {name}%' with {lines!r}, not 'succeeded.'")


def check_recording(lines: list[str]) -> None:
    if lines != ["Now recording detections"]:
        raise ProtocolError(f"the interface board answered 'record_detections%' with {lines!r}")


def parse_detections(lines: list[str]) -> list[int]:
    if not lines or lines[0] != DETECTIONS_HEADER:
        raise ProtocolError(f"print_detections: expected {DETECTIONS_HEADER!r} first, got {lines[:1]!r}")
    stamps = []
    for line in lines[1:]:
        match = _DETECTION.match(line.strip())
        if not match:
            raise ProtocolError(f"print_detections: {line!r} is not a detection time 'N,' in ms")
        stamp = int(match.group(1))
        if stamps and stamp - stamps[-1] < MIN_DETECTION_GAP_MS:
            raise ProtocolError(f"print_detections: {stamp} ms follows {stamps[-1]} ms by less than "
                                f"{MIN_DETECTION_GAP_MS} ms, which the board drops: the list is not its own")
        stamps.append(stamp)
    if len(stamps) > MAX_DETECTIONS:
        raise ProtocolError(f"print_detections: {len(stamps)} detections, more than the board keeps ({MAX_DETECTIONS})")
    return stamps


def parse_dutycycle(lines: list[str]) -> tuple[list[int], list[int]]:
    """(rising edges, falling edges) in 10 µs ticks. `lines` may end with the one holding m-ready."""
    if not lines or lines[0] != STARTS_HEADER:
        raise ProtocolError(f"print_dutycycle: expected {STARTS_HEADER!r} first, got {lines[:1]!r}")
    if lines.count(STOPS_HEADER) != 1:
        raise ProtocolError(f"print_dutycycle: expected one {STOPS_HEADER!r} line, got {lines!r}")
    split = lines.index(STOPS_HEADER)
    return _ticks(lines[1:split], "start"), _ticks(lines[split + 1:], "stop")


def _ticks(lines: list[str], which: str) -> list[int]:
    values = []
    for line in lines:
        text = line.strip()
        if not _TICKS.match(text):
            raise ProtocolError(f"print_dutycycle: {line!r} is not a list of {which} times in 10 µs ticks")
        values += [int(item) for item in text.replace(" ", "").split(",") if item]
    if len(values) > MAX_DUTY_FRAMES:
        raise ProtocolError(f"print_dutycycle: {len(values)} {which} times, more than the board keeps "
                            f"({MAX_DUTY_FRAMES})")
    return values
