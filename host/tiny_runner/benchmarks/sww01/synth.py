"""A long synthetic sww01 test stream with known truth, for labs without the official long file.

The official 1200 s stream (50 occurrences of "Marvin") is not redistributable; what is public
is the 10 s short stream and one clip of the word. The stream built here is:

- background: the short stream's audio outside its detection windows (each window widened by
  50 ms so no edge of a word is left in), its pieces joined end to end into one loop with
  20 ms equal-power cross-fades (the pieces are unrelated audio, so their powers add) and the
  loop repeated over the whole stream, which leaves no click at any join;
- occurrences: the whole clip (10 ms fades at its edges) added at each occurrence's time,
  scaled by a seeded gain, the sum clipped to 16 bits. One occurrence per equal slot of the
  stream, at a seeded offset in its slot, so no two are closer than MIN_GAP_S and the last
  ends at least TAIL_S + MIN_GAP_S before the end;
- truth: each occurrence's window is where the word is audible in the clip: the contiguous run
  of 10 ms frames around the loudest one whose RMS level is at least WORD_ABOVE_FLOOR_DB above
  the clip's floor (the 20th percentile of its frame levels), shifted to where the clip lies.

The WAV file is written in chunks (memory stays at a few MB whatever the length), stereo 16 kHz
16-bit with both channels the same, as the official files are. Its truth file has the official
format plus a "synthetic" key saying how it was made, which marks runs on it as not valid for
submission. The same arguments and seed give the same bytes.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .truth import SAMPLE_RATE, load_truth

SHORT_TRUTH = "sww_short_test.json"
CLIP = "marvin_617de221_0.wav"
TRUTH_FILE = "sww_synth_test.json"

LENGTH_S = 1200.0  # the official long stream's
OCCURRENCES = 50
MIN_LENGTH_S = 10.0
MAX_LENGTH_S = 7200.0  # a stereo 16-bit WAV this long is 461 MB, far below the format's 4 GB
LEAD_S = 2.0  # before the first slot: the model's 30-frame input fills in about 1 s
TAIL_S = 1.0  # after the last slot, which itself ends MIN_GAP_S after its clip
MIN_GAP_S = 3.0  # clip to clip: more than the scoring's 2 s window extension plus its 1 s debounce
GAIN_DB = (-6.0, 0.0)  # the clip peaks near full scale: never louder than it is
WINDOW_MARGIN_S = 0.05
CROSSFADE_S = 0.02
CLIP_FADE_S = 0.01
ENVELOPE_FRAME_S = 0.01
FLOOR_PERCENTILE = 20
WORD_ABOVE_FLOOR_DB = 10.0
CHUNK_SAMPLES = 10 * SAMPLE_RATE


class SynthError(ValueError):
    """Arguments or source files a synthetic stream cannot be made from, with the reason."""


@dataclass(frozen=True)
class Occurrence:
    clip_start: int  # sample where the clip begins in the stream
    gain: float


@dataclass(frozen=True)
class Sources:
    background: np.ndarray  # float64, one loop of background, played cyclically
    clip: np.ndarray  # float64, faded at its edges
    word: tuple[int, int]  # samples of the clip where the word is audible, [start, stop)
    background_file: str  # the short stream the background comes from


def stream_name(length_s: float) -> str:
    return f"synth_stream_{length_s:g}s.wav"


def read_mono(path: Path) -> np.ndarray:
    """A 16 kHz 16-bit WAV file's left channel, the one the DUT uses."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getframerate() != SAMPLE_RATE or wav.getsampwidth() != 2:
                raise SynthError(f"{path}: {wav.getframerate()} Hz, {8 * wav.getsampwidth()}-bit; "
                                 f"expected {SAMPLE_RATE} Hz 16-bit")
            frames = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
            return frames.reshape(-1, wav.getnchannels())[:, 0].astype(np.float64)
    except (OSError, EOFError, wave.Error) as exc:
        raise SynthError(f"{path}: not a readable WAV file: {exc}") from None


def word_window(clip: np.ndarray) -> tuple[int, int]:
    """Where the word is audible in the clip: samples [start, stop), from its energy envelope."""
    frame = int(ENVELOPE_FRAME_S * SAMPLE_RATE)
    count = len(clip) // frame
    power = (clip[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = level >= np.percentile(level, FLOOR_PERCENTILE) + WORD_ABOVE_FLOOR_DB
    peak = int(np.argmax(level))
    first = last = peak
    while first > 0 and loud[first - 1]:
        first -= 1
    while last < count - 1 and loud[last + 1]:
        last += 1
    return first * frame, (last + 1) * frame


def _fades(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power fade-in and fade-out over `length` samples."""
    phase = (np.arange(length) + 0.5) / length * np.pi / 2
    return np.sin(phase), np.cos(phase)


def background_loop(short: np.ndarray, windows: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The short stream outside its (widened) windows, as one loop with cross-faded joins."""
    cuts, start = [], 0
    for window_start, window_stop in windows:
        cuts.append((start, max(start, int((window_start - WINDOW_MARGIN_S) * SAMPLE_RATE))))
        start = int(np.ceil((window_stop + WINDOW_MARGIN_S) * SAMPLE_RATE))
    cuts.append((start, len(short)))
    fade = int(CROSSFADE_S * SAMPLE_RATE)
    pieces = [short[a:b] for a, b in cuts if b - a > 2 * fade]
    if not pieces:
        raise SynthError("the short stream has no background outside its detection windows")
    fade_in, fade_out = _fades(fade)
    loop = np.zeros(sum(len(p) - fade for p in pieces))
    position = 0
    for piece in pieces:  # each overlaps the next by one fade; the last wraps onto the first
        shaped = piece.copy()
        shaped[:fade] *= fade_in
        shaped[-fade:] *= fade_out
        index = (position + np.arange(len(piece))) % len(loop)
        np.add.at(loop, index, shaped)
        position += len(piece) - fade
    return loop


def load_sources(folder: Path) -> Sources:
    """The short stream and the clip from a folder holding the sww01 reference files."""
    folder = Path(folder)
    missing = [name for name in (SHORT_TRUTH, CLIP) if not (folder / name).is_file()]
    if missing:
        raise SynthError(f"{folder}: {' and '.join(missing)} not found (the sww01 reference files)")
    try:
        short_stream = load_truth(folder / SHORT_TRUTH)[0]
    except ValueError as exc:
        raise SynthError(str(exc)) from None
    short_path = folder / short_stream.wav_file
    if not short_path.is_file():
        raise SynthError(f"{folder}: {short_stream.wav_file} not found (the stream {SHORT_TRUTH} describes)")
    clip = read_mono(folder / CLIP)
    fade = int(CLIP_FADE_S * SAMPLE_RATE)
    fade_in, fade_out = _fades(fade)
    clip[:fade] *= fade_in
    clip[-fade:] *= fade_out
    return Sources(background_loop(read_mono(short_path), short_stream.windows), clip, word_window(clip),
                   short_stream.wav_file)


def max_occurrences(length_s: float, clip_s: float) -> int:
    return max(0, int((length_s - LEAD_S - TAIL_S) // (clip_s + MIN_GAP_S)))


def check_arguments(length_s: float, occurrences: int, clip_s: float = 1.0) -> None:
    if not MIN_LENGTH_S <= length_s <= MAX_LENGTH_S:
        raise SynthError(f"length {length_s:g} s: a synthetic stream is {MIN_LENGTH_S:g} to {MAX_LENGTH_S:g} s long")
    most = max_occurrences(length_s, clip_s)
    if not 0 <= occurrences <= most:
        raise SynthError(f"{occurrences} occurrences do not fit in {length_s:g} s: 0 to {most} do "
                         f"(each takes the {clip_s:g} s clip and {MIN_GAP_S:g} s of gap)")


def plan(length_s: float, occurrences: int, seed: int, clip_samples: int) -> list[Occurrence]:
    """Each occurrence in its own slot, at a seeded offset and gain (MT19937, as MLPerf Tiny seeds)."""
    check_arguments(length_s, occurrences, clip_samples / SAMPLE_RATE)
    rng = np.random.Generator(np.random.MT19937(seed))
    if occurrences == 0:
        return []
    slot = (length_s - LEAD_S - TAIL_S) / occurrences * SAMPLE_RATE
    room = slot - clip_samples - MIN_GAP_S * SAMPLE_RATE
    placed = []
    for number in range(occurrences):
        offset = rng.uniform(0, room)
        gain_db = rng.uniform(*GAIN_DB)
        placed.append(Occurrence(int(LEAD_S * SAMPLE_RATE + number * slot + offset), float(10 ** (gain_db / 20))))
    return placed


def render(sources: Sources, placed: list[Occurrence], start: int, count: int) -> np.ndarray:
    """Samples [start, start + count) of the stream, as int16."""
    index = np.arange(start, start + count)
    mixed = sources.background[index % len(sources.background)]
    for occurrence in placed:
        first = max(start, occurrence.clip_start)
        stop = min(start + count, occurrence.clip_start + len(sources.clip))
        if first < stop:
            part = sources.clip[first - occurrence.clip_start:stop - occurrence.clip_start]
            mixed[first - start:stop - start] += occurrence.gain * part
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


def description(sources: Sources, length_s: float, occurrences: int, seed: int) -> str:
    return (f"Synthetic stream (seed {seed}, not the official test file): {occurrences} copies of {CLIP} at "
            f"seeded times and gains of {GAIN_DB[0]:g} to {GAIN_DB[1]:g} dB over {length_s:g} s of the audio of "
            f"{sources.background_file} outside its detection windows, looped with {CROSSFADE_S * 1000:g} ms "
            f"cross-fades; each window is where the clip's {ENVELOPE_FRAME_S * 1000:g} ms energy envelope is "
            f"{WORD_ABOVE_FLOOR_DB:g} dB above its floor.")


def write_stream(out_dir: Path, sources_folder: Path, length_s: float = LENGTH_S,
                 occurrences: int = OCCURRENCES, seed: int = 0) -> tuple[Path, Path]:
    """Write the WAV stream and its truth JSON into out_dir; returns both paths."""
    sources = load_sources(sources_folder)
    placed = plan(length_s, occurrences, seed, len(sources.clip))
    total = int(round(length_s * SAMPLE_RATE))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / stream_name(length_s)
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.setnframes(total)
        for start in range(0, total, CHUNK_SAMPLES):
            mono = render(sources, placed, start, min(CHUNK_SAMPLES, total - start))
            wav.writeframes(np.repeat(mono, 2).astype("<i2").tobytes())
    word_start, word_stop = sources.word
    windows = [[(o.clip_start + word_start) / SAMPLE_RATE, (o.clip_start + word_stop) / SAMPLE_RATE] for o in placed]
    truth = [{"wav_file": wav_path.name, "sample_rate": SAMPLE_RATE, "length_sec": total / SAMPLE_RATE,
              "detection_windows": windows,
              "synthetic": description(sources, length_s, occurrences, seed)}]
    truth_path = out_dir / TRUTH_FILE
    truth_path.write_text(json.dumps(truth, indent=2) + "\n")
    return wav_path, truth_path
