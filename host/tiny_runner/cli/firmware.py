"""tiny-runner firmware: build (or find built) the C firmware image a board runs, and report its size."""

from __future__ import annotations

import json

from ..benchmarks import get_benchmark
from ..boards import load_board
from ..errors import BoardError, UsageError
from ..image.build import build_image
from ..model.reference import resolve_model


def add_parser(sub) -> None:
    p = sub.add_parser("firmware", help="build the C firmware image for a board and report its size",
                       description="Generates the model's C code, builds firmware/ for the board's port and "
                                   "prints where the image is and how big it is. `measure` does this by itself; "
                                   "use this to flash a board or to look at code size.")
    p.add_argument("--board", required=True, help="a board with a [firmware] port (see `tiny-runner boards`)")
    p.add_argument("--benchmark", "-b", required=True, help="kws, vww, ic, ic2 or ad")
    p.add_argument("--mode", choices=("performance", "energy"), default="performance",
                   help="the build: m-lap-us timestamps (performance) or timestamp-pin pulses (energy)")
    p.add_argument("--model", metavar="FILE", help="a model of your own instead of the reference one")
    p.add_argument("--model-dir", metavar="DIR", help="reference models folder (default $TINY_RUNNER_MODEL_DIR)")
    p.add_argument("--json", action="store_true", help="print the image description as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    board = load_board(args.board)
    if not board.firmware_port:
        raise BoardError(f"{board.name} has no [firmware] port: its firmware comes from its vendor's tools")
    if args.model and args.model_dir:
        raise UsageError("pass --model or --model-dir, not both")
    benchmark = get_benchmark(args.benchmark)
    model = resolve_model(benchmark.id, model_file=args.model, model_dir=args.model_dir)
    image = build_image(board.firmware_port, model.path, benchmark.id, args.mode, board.vendor_string)
    if args.json:
        print(json.dumps(image.describe(), indent=2))
        return 0
    ram = image.data_bytes + image.bss_bytes
    print(f"image:   {image.path} ({'found built' if image.reused else 'built now'})")
    print(f"port:    {image.port}, {benchmark.id}, {image.mode} build")
    print(f"flash:   {image.text_bytes + image.data_bytes:,} bytes = code {image.code_bytes:,} + "
          f"weights {image.weight_bytes:,} + initialised data {image.data_bytes:,}")
    print(f"RAM:     {ram:,} bytes static (activation arena {image.arena_bytes:,}), plus the stack")
    return 0
