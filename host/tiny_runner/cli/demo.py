"""tiny-runner demo: the MLPerf Tiny benchmarks on a virtual board, in performance, accuracy and
energy mode (the emulated LPM01A behind the emulated interface board), and the streaming wake
word benchmark (sww01) in energy mode on the public 10-second stream.

Accuracy runs on small synthetic datasets (written next to the run directories): their labels
are the reference model's own top-1 (ad01: anomalies by construction), so the figures show the
pipeline working end to end, not the models' real accuracy.
"""

from __future__ import annotations

from pathlib import Path

from ..benchmarks import BENCHMARKS
from ..benchmarks.synth import write_dataset
from ..boards import load_board
from ..db.store import DEFAULT_DB_NAME, ResultsDb
from ..errors import ResultNotValid, UsageError
from ..lab.start import DEFAULT_LAB_SPEED
from ..model.reference import resolve_model
from ..run.preflight import MeasureOptions, build_request
from ..run.progress import Progress
from ..run.session import Session

DEMO_AD_FRAMES = 20  # 16 windows per ad01 file instead of 196
DEMO_STREAM_TRUTH = "sww_short_test.json"  # 10 s, 3 occurrences: the official 1200 s file is not public


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="measure kws, vww, ic, ad (performance, accuracy, energy) and sww (a stream) on "
                       "a virtual board")
    p.add_argument("--board", default="virtual-l4r5zi")
    p.add_argument("--model-dir", metavar="DIR", help="reference models (default: $TINY_RUNNER_MODEL_DIR)")
    p.add_argument("--out", default="runs", metavar="DIR")
    p.add_argument("--lab-speed", type=float, default=DEFAULT_LAB_SPEED)
    p.set_defaults(handler=run)


def run(args) -> int:
    board = load_board(args.board)
    if not board.virtual:
        raise UsageError("the demo runs on a virtual board")
    out = Path(args.out)
    progress = Progress()
    with ResultsDb(out / DEFAULT_DB_NAME) as db:  # every run is recorded, as `measure` records it
        rows, streams = _measure_all(board, args, out, progress, db)
    _print_table(board, rows, streams, out)
    # accuracy on a synthetic set is agreement, never valid for submission; the rest must be, except
    # a stream other than the official one (not public), which never is
    every_valid = all(figures[mode]["valid"] for _, figures in rows for mode in ("performance", "energy"))
    return 0 if every_valid else ResultNotValid.exit_code


def _measure_all(board, args, out: Path, progress, db: ResultsDb) -> tuple[list, list]:
    rows = []
    # each benchmark in the demo says how many files its synthetic set has: enough for a figure,
    # small enough for a one-minute demo
    for bench in [b for b in BENCHMARKS.values() if b.demo_files]:
        files = bench.demo_files
        model = resolve_model(bench.id, model_dir=args.model_dir)
        data_dir = out / "demo-datasets" / bench.id
        if not (data_dir / "y_labels.csv").is_file():
            progress.message(f"writing a synthetic {bench.id} dataset ({files} files) to {data_dir}")
            write_dataset(bench, data_dir, files, model.path, ad_frames=DEMO_AD_FRAMES)
        figures = {}
        for mode in ("performance", "accuracy", "energy"):
            # the same rules as `measure` with these options
            request = build_request(MeasureOptions(
                board=board.name, benchmark=bench.id, mode=mode, model_dir=args.model_dir, out=str(out),
                dataset=str(data_dir) if mode == "accuracy" else None, check_outputs=mode == "accuracy",
                lab_speed=args.lab_speed))
            figures[mode] = Session(request, progress).run()
            db.record(figures[mode])
        rows.append((bench, figures))
    streams = [(bench, _stream_run(bench, board, args, out, progress)) for bench in BENCHMARKS.values()
               if bench.streaming and "sww" in board.simulation]
    for _, stream in streams:
        db.record(stream)
    return rows, streams


def _print_table(board, rows: list, streams: list, out: Path) -> None:
    print()
    print(f"{board.name}: MLPerf Tiny reference models on the virtual lab (latency and power modelled, "
          "outputs real)")
    print(f"{'benchmark':<10} {'latency ms':>11} {'inf/s':>9} {'uJ/inf':>10} {'valid':>6}   "
          "accuracy on a synthetic set")
    for bench, figures in rows:
        perf, acc, energy = figures["performance"], figures["accuracy"], figures["energy"]
        quality = bench.quality_text(acc)
        check = acc["check_outputs"]
        quality += f", {check['mismatches']}/{check['checked']} outputs differ from host TFLM"
        valid = perf["valid"] and energy["valid"]
        print(f"{perf['benchmark']:<10} {perf['median_latency_ms']:>11.3f} {perf['median_throughput_inf_per_s']:>9.3f} "
              f"{energy['median_energy_uj_per_inf']:>10.1f} {'yes' if valid else 'NO':>6}   {quality}")
    for bench, stream in streams:
        duty, power = stream["stream"]["duty_cycle"], stream["median_power_mw"]
        latency_ms = duty["processing_time_s"] * 1e3
        print(f"{stream['benchmark']:<10} {latency_ms:>11.3f} {duty['throughput_inf_per_s']:>9.3f} "
              f"{'-':>10} {'yes' if stream['valid'] else 'NO':>6}   {bench.quality_text(stream)} on the "
              f"{stream['stream']['length_s']:g} s stream, {power:.3f} mW (latency: processing time per 32 ms frame)")
    print(f"run directories are under {out}/")


def _stream_run(bench, board, args, out: Path, progress) -> dict:
    """One energy run of the public short stream, at the supply of the result the board's stream
    model is calibrated from."""
    folder = resolve_model(bench.id, model_dir=args.model_dir).path.parent
    supply = board.simulation["sww"].get("published_supply_mv")
    request = build_request(MeasureOptions(
        board=board.name, benchmark=bench.id, mode="energy", model_dir=args.model_dir, out=str(out),
        dataset=str(folder), labels=DEMO_STREAM_TRUTH, voltage=supply, lab_speed=args.lab_speed))
    return Session(request, progress).run()
