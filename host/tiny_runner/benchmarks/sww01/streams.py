"""Which stream a sww01 run plays: a folder (the host's copy of what is on the interface board's SD
card; on the virtual lab, the SD card itself) and the truth file in it that names the WAV file and
its occurrences of the wake word, with the detection window rule the run scores by."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import DatasetError
from .scoring import RULES
from .truth import Stream, TruthError, check_wav, load_truth, wav_path

DEFAULT_TRUTH_FILE = "sww_long_test.json"  # the official runner's test: 1200 s, 50 occurrences


@dataclass(frozen=True)
class StreamSelection:
    folder: Path
    truth_path: Path
    stream: Stream
    rule: str  # "code" ([start, stop + 2 s], as published results were scored) or "readme" (+ 1 s)
    wav_checked: bool  # the folder holds the WAV file and it is the stream the truth describes

    def describe(self) -> dict:
        """What results.json records of the stream before anything is measured."""
        stream = self.stream
        return {"truth_file": str(self.truth_path), "wav_file": stream.wav_file, "length_s": stream.length_s,
                "occurrences": stream.occurrences, "detection_windows": [list(w) for w in stream.windows],
                "synthetic": getattr(stream, "synthetic", None), "rule": self.rule,
                "wav_checked_on_host": self.wav_checked}


def select_stream(folder: str | Path, truth_name: str, rule: str) -> StreamSelection:
    """The one stream of `folder`/`truth_name`; DatasetError with the reason otherwise."""
    if rule not in RULES:
        raise DatasetError(f"detection window rule {rule!r}: one of {', '.join(RULES)}")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(f"stream folder {root} does not exist (it holds the truth file and, for the virtual lab, "
                           "the WAV files)")
    root = root.resolve()
    truth_path = (root / truth_name).resolve()
    if truth_path.parent != root:
        raise DatasetError(f"truth file {truth_name!r} must be a file inside the stream folder {root}")
    if not truth_path.is_file():
        raise DatasetError(f"{root} has no truth file {truth_name} (the official list of streams: "
                           f"{DEFAULT_TRUTH_FILE} for the submission test; --labels names another)")
    try:
        streams = load_truth(truth_path)
    except TruthError as exc:
        raise DatasetError(str(exc)) from None
    if len(streams) != 1:
        raise DatasetError(f"{truth_path} lists {len(streams)} streams; a run plays one (as the official runner "
                           "does): give a truth file with one")
    stream = streams[0]
    try:
        wav = wav_path(root, stream)
        if wav.is_file():
            check_wav(wav, stream)
    except TruthError as exc:
        raise DatasetError(str(exc)) from None
    return StreamSelection(root, truth_path, stream, rule, wav.is_file())
