"""The sww01 truth files: the official JSON list of `{wav_file, sample_rate, length_sec,
detection_windows: [[start, stop], ...]}`, one entry per WAV file the interface board plays.

A truth file is untrusted input: every field is checked with a one-line reason, and a WAV file
it names must be a plain file name (the interface board's SD card has one folder; the host's
copy is looked up inside the truth file's own folder, never outside it).
"""

from __future__ import annotations

import json
import re
import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16_000
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class TruthError(ValueError):
    """A truth file that cannot be used, with the reason."""


@dataclass(frozen=True)
class Stream:
    wav_file: str  # as on the SD card
    sample_rate: int
    length_s: float
    windows: tuple[tuple[float, float], ...]  # each occurrence of the wake word, in seconds
    synthetic: str | None = None  # how a synthetic stream was made; None for an official one

    @property
    def occurrences(self) -> int:
        return len(self.windows)

    @property
    def play_timeout_s(self) -> float:
        """How long `play` may block: the file's length and 10 s, as the official runner waits."""
        return self.length_s + 10


def load_truth(path: Path) -> list[Stream]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TruthError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TruthError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, list) or not data:
        raise TruthError(f"{path}: expected a non-empty JSON list of streams")
    return [_stream(path, index, entry) for index, entry in enumerate(data)]


def _stream(path: Path, index: int, entry) -> Stream:
    where = f"{path}: entry {index}"
    if not isinstance(entry, dict):
        raise TruthError(f"{where}: expected an object")
    name = entry.get("wav_file")
    if not isinstance(name, str) or not _PLAIN_NAME.match(name) or not name.lower().endswith(".wav"):
        raise TruthError(f"{where}: wav_file must be a plain .wav file name (letters, digits, '.', '_', '-'), "
                         f"got {name!r}")
    rate = entry.get("sample_rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise TruthError(f"{where}: sample_rate {rate!r}: sww01 streams are {SAMPLE_RATE} Hz")
    length = entry.get("length_sec")
    if isinstance(length, bool) or not isinstance(length, (int, float)) or not 0 < length <= 86_400:
        raise TruthError(f"{where}: length_sec must be a number of seconds > 0, got {length!r}")
    windows = entry.get("detection_windows")
    if not isinstance(windows, list):
        raise TruthError(f"{where}: detection_windows must be a list of [start, stop] pairs")
    pairs = []
    for number, window in enumerate(windows):
        if (not isinstance(window, list) or len(window) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)):
            raise TruthError(f"{where}: detection window {number} must be [start, stop] in seconds, got {window!r}")
        start, stop = float(window[0]), float(window[1])
        if not 0 <= start < stop <= length:
            raise TruthError(f"{where}: detection window {number} [{start:g}, {stop:g}] must lie in the stream "
                             f"(0..{length:g} s) with its start before its stop")
        if pairs and start < pairs[-1][1]:
            raise TruthError(f"{where}: detection window {number} starts before the previous one ends")
        pairs.append((start, stop))
    synthetic = entry.get("synthetic")
    if synthetic is not None and not isinstance(synthetic, str):
        raise TruthError(f"{where}: synthetic must be a sentence saying how the stream was made, got {synthetic!r}")
    return Stream(name, SAMPLE_RATE, float(length), tuple(pairs), synthetic)


def wav_path(folder: Path, stream: Stream) -> Path:
    """The host's copy of a stream's WAV file, inside `folder` (its name is checked plain)."""
    folder = Path(folder).resolve()
    path = (folder / stream.wav_file).resolve()
    if path.parent != folder:
        raise TruthError(f"{stream.wav_file}: not a file of {folder}")
    return path


def check_wav(path: Path, stream: Stream) -> None:
    """The WAV file is the stream the truth describes: 16 kHz, 16-bit, its length within 0.1 s."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, width, frames = wav.getframerate(), wav.getsampwidth(), wav.getnframes()
    except (OSError, EOFError, wave.Error) as exc:
        raise TruthError(f"{path}: not a readable WAV file: {exc}") from None
    if rate != SAMPLE_RATE or width != 2:
        raise TruthError(f"{path}: {rate} Hz, {8 * width}-bit; sww01 streams are {SAMPLE_RATE} Hz 16-bit")
    if abs(frames / rate - stream.length_s) > 0.1:
        raise TruthError(f"{path}: {frames / rate:.2f} s long, the truth file says {stream.length_s:g} s")
