"""tiny-runner dataset synth|check: write a synthetic dataset, or check a dataset folder.

A streaming benchmark (sww01) has no dataset of files: its synthetic "dataset" is one long WAV
stream and its truth file (benchmarks/sww01/synth.py), and checking a folder means checking
its truth files against their WAV files."""

from __future__ import annotations

from pathlib import Path

from ..benchmarks import get_benchmark
from ..benchmarks.datasets import LABELS_FILE, load_dataset
from ..benchmarks.sww01 import synth as stream_synth
from ..benchmarks.sww01.truth import TruthError, check_wav, load_truth, wav_path
from ..benchmarks.synth import AD_FILE_FRAMES, write_dataset
from ..errors import DatasetError, ModelError, UsageError
from ..model.reference import MODEL_DIR_ENV, model_dir_from, resolve_model

COUNT = 50
# options that only one kind of benchmark takes: (attribute, flag)
FILE_OPTIONS = (("count", "--count"), ("ad_frames", "--ad-frames"), ("model", "--model"))
STREAM_OPTIONS = (("length", "--length"), ("occurrences", "--occurrences"))


def add_parser(sub) -> None:
    p = sub.add_parser("dataset", help="write a synthetic dataset or check a dataset folder",
                       description="Datasets in the EEMBC layout: y_labels.csv plus the .bin files it lists; "
                                   "for sww01, a WAV stream and its truth JSON.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    synth = actions.add_parser("synth", help="write deterministic synthetic stimuli and y_labels.csv "
                                             "(sww01: a WAV stream and its truth JSON)")
    synth.add_argument("--benchmark", "-b", required=True)
    synth.add_argument("--out", "-o", required=True, metavar="DIR")
    synth.add_argument("--count", "-n", type=int, help=f"number of files (default {COUNT})")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--ad-frames", type=int,
                       help=f"ad01: spectrogram frames per file (default {AD_FILE_FRAMES} = 196 windows)")
    synth.add_argument("--model", metavar="FILE", help="model that labels classifier stimuli (default: reference)")
    synth.add_argument("--length", type=float, metavar="S",
                       help=f"sww01: stream length in seconds (default {stream_synth.LENGTH_S:g})")
    synth.add_argument("--occurrences", type=int, metavar="N",
                       help=f"sww01: occurrences of the wake word (default {stream_synth.OCCURRENCES})")
    synth.add_argument("--model-dir", metavar="DIR",
                       help=f"reference data folder (default ${MODEL_DIR_ENV}); sww01 takes its short stream and "
                            "clip from it")
    synth.set_defaults(handler=run_synth)

    check = actions.add_parser("check", help="check a dataset folder against a benchmark")
    check.add_argument("folder", metavar="DIR")
    check.add_argument("--benchmark", "-b", required=True)
    check.add_argument("--labels", help=f"label list (default {LABELS_FILE}); sww01: the truth JSON "
                                        "(default: every .json file of the folder)")
    check.set_defaults(handler=run_check)


def _refuse(args, options, kind: str) -> None:
    given = [flag for attribute, flag in options if getattr(args, attribute) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} does not apply to {kind}")


def _empty_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty")


def run_synth(args) -> int:
    benchmark = get_benchmark(args.benchmark)
    if benchmark.streaming:
        return _synth_stream(benchmark, args)
    _refuse(args, STREAM_OPTIONS, f"{benchmark.id}: it takes --count")
    count = COUNT if args.count is None else args.count
    ad_frames = AD_FILE_FRAMES if args.ad_frames is None else args.ad_frames
    if count < 1:
        raise UsageError("--count must be >= 1")
    if ad_frames < 5:
        raise UsageError("--ad-frames must be >= 5 (one 2560-byte window)")
    out = Path(args.out)
    _empty_folder(out)
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    write_dataset(benchmark, out, count, model.path, seed=args.seed, ad_frames=ad_frames)
    print(f"wrote {count} synthetic {benchmark.id} files and {LABELS_FILE} to {out}")
    return 0


def _synth_stream(benchmark, args) -> int:
    _refuse(args, FILE_OPTIONS, f"{benchmark.id}, a stream: it takes --length and --occurrences")
    length = stream_synth.LENGTH_S if args.length is None else args.length
    occurrences = stream_synth.OCCURRENCES if args.occurrences is None else args.occurrences
    try:
        stream_synth.check_arguments(length, occurrences)
    except stream_synth.SynthError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    _empty_folder(out)
    directory = model_dir_from(args.model_dir)
    if directory is None:
        raise ModelError(f"no reference data folder: pass --model-dir DIR or set {MODEL_DIR_ENV} (it holds "
                         f"{benchmark.id}/{stream_synth.SHORT_TRUTH}, the short stream and {stream_synth.CLIP})")
    # the short stream and the clip sit beside the reference model
    sources = directory / Path(benchmark.reference_model.relative_path).parent
    try:
        wav, truth = stream_synth.write_stream(out, sources, length, occurrences, args.seed)
    except stream_synth.SynthError as exc:
        raise DatasetError(str(exc)) from None
    print(f"wrote a {length:g} s synthetic {benchmark.id} stream with {occurrences} occurrences (seed {args.seed}): "
          f"{wav} and {truth}")
    return 0


def run_check(args) -> int:
    benchmark = get_benchmark(args.benchmark)
    if benchmark.streaming:
        return _check_streams(benchmark, Path(args.folder).expanduser(), args.labels)
    ds = load_dataset(args.folder, benchmark, args.labels or LABELS_FILE)
    kind = f"synthetic; labels: {ds.meta.get('labels', 'not stated')}" if ds.synthetic else "dataset"
    print(f"{ds.root}: {len(ds.entries)} files, all present and sized for {benchmark.id} ({kind})")
    return 0


def _check_streams(benchmark, folder: Path, truth_name: str | None) -> int:
    """Every stream the folder's truth file(s) name is there and is what its truth says."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    truths = [folder / truth_name] if truth_name else sorted(folder.glob("*.json"))
    if not truths:
        raise DatasetError(f"{folder} has no truth file (.json) for {benchmark.id}")
    for truth in truths:
        try:
            for stream in load_truth(truth):
                path = wav_path(folder, stream)
                if not path.is_file():
                    raise DatasetError(f"{truth}: {stream.wav_file} is not in {folder}")
                check_wav(path, stream)
                kind = "synthetic" if stream.synthetic else "not marked synthetic"
                print(f"{path}: {stream.length_s:g} s, {stream.occurrences} occurrences, "
                      f"matches {truth.name} ({kind})")
        except TruthError as exc:
            raise DatasetError(str(exc)) from None
    return 0
