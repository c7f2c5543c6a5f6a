"""tiny-runner models: the reference models and whether the model directory holds them intact."""

from __future__ import annotations

from ..errors import ModelError
from ..model.info import model_info
from ..model.reference import MODEL_DIR_ENV, REFERENCE_MODELS, model_dir_from, resolve_model


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the reference models and verify a model directory",
                       description=f"Looks in --model-dir or ${MODEL_DIR_ENV}.")
    p.add_argument("--model-dir", metavar="DIR")
    p.set_defaults(handler=run)


def run(args) -> int:
    directory = model_dir_from(args.model_dir)
    print(f"model directory: {directory or f'(none: set --model-dir or ${MODEL_DIR_ENV})'}")
    print(f"{'benchmark':<10} {'file':<42} {'bytes':>8}  {'MACs':>11}  status")
    bad = 0
    for ref in REFERENCE_MODELS.values():
        status, macs = "not checked", ""
        if directory:
            try:
                model = resolve_model(ref.benchmark_id, model_dir=str(directory))
                status, macs = "ok (sha256 verified)", f"{model_info(model.path).macs:,}"
            except ModelError as exc:
                status, bad = f"PROBLEM: {exc.message}", bad + 1
        print(f"{ref.benchmark_id:<10} {ref.relative_path:<42} {ref.size:>8}  {macs:>11}  {status}")
    if bad:
        raise ModelError(f"{bad} reference model(s) missing or altered in {directory}")
    return 0
