"""tiny-runner dataset synth|check: write a synthetic dataset, or check a dataset folder."""

from __future__ import annotations

from pathlib import Path

from ..benchmarks import get_benchmark
from ..benchmarks.datasets import LABELS_FILE, load_dataset
from ..benchmarks.synth import AD_FILE_FRAMES, write_dataset
from ..errors import UsageError
from ..model.reference import resolve_model


def add_parser(sub) -> None:
    p = sub.add_parser("dataset", help="write a synthetic dataset or check a dataset folder",
                       description="Datasets in the EEMBC layout: y_labels.csv plus the .bin files it lists.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    synth = actions.add_parser("synth", help="write deterministic synthetic stimuli and y_labels.csv")
    synth.add_argument("--benchmark", "-b", required=True)
    synth.add_argument("--out", "-o", required=True, metavar="DIR")
    synth.add_argument("--count", "-n", type=int, default=50, help="number of files (default %(default)s)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--ad-frames", type=int, default=AD_FILE_FRAMES,
                       help="ad01: spectrogram frames per file (default %(default)s = 196 windows)")
    synth.add_argument("--model", metavar="FILE", help="model that labels classifier stimuli (default: reference)")
    synth.add_argument("--model-dir", metavar="DIR")
    synth.set_defaults(handler=run_synth)

    check = actions.add_parser("check", help="check a dataset folder against a benchmark")
    check.add_argument("folder", metavar="DIR")
    check.add_argument("--benchmark", "-b", required=True)
    check.add_argument("--labels", default=LABELS_FILE)
    check.set_defaults(handler=run_check)


def run_synth(args) -> int:
    benchmark = get_benchmark(args.benchmark)
    if args.count < 1:
        raise UsageError("--count must be >= 1")
    if args.ad_frames < 5:
        raise UsageError("--ad-frames must be >= 5 (one 2560-byte window)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty")
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    write_dataset(benchmark, out, args.count, model.path, seed=args.seed, ad_frames=args.ad_frames)
    print(f"wrote {args.count} synthetic {benchmark.id} files and {LABELS_FILE} to {out}")
    return 0


def run_check(args) -> int:
    benchmark = get_benchmark(args.benchmark)
    ds = load_dataset(args.folder, benchmark, args.labels)
    kind = f"synthetic; labels: {ds.meta.get('labels', 'not stated')}" if ds.synthetic else "dataset"
    print(f"{ds.root}: {len(ds.entries)} files, all present and sized for {benchmark.id} ({kind})")
    return 0
